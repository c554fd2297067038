//! probe_read/probe_write: a fault at a known instruction becomes an error.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::hw::{probe_read, probe_write};

gmpos::qemu_test! {
    config: "
        smp=1
    ",
}

#[gmpos::test]
fn probe_unmapped_is_error() {
    // Unmapped: the null page, a hole in the upper half, the heap's far end.
    for addr in [0u64, 0x1000, 0xffff_f000_dead_0000, 0x0000_7000_0000_0000] {
        let r = probe_read(addr);
        assert!(r.is_err(), "probe_read({addr:#x}) returned {r:?}");
        // SAFETY: the address is unmapped (checked just above), so nothing
        // can be overwritten.
        let w = unsafe { probe_write(addr, 1) };
        assert!(w.is_err(), "probe_write({addr:#x}) succeeded");
    }
}

#[gmpos::test]
fn probe_mapped_reads_value() {
    let x: u64 = 0x1234_5678_9abc_def0;
    assert_eq!(
        probe_read(&x as *const u64 as u64),
        Ok(0x1234_5678_9abc_def0)
    );
    let mut y: u64 = 0;
    // SAFETY: `y` is a live local we own.
    unsafe { probe_write(&mut y as *mut u64 as u64, 42) }.unwrap();
    assert_eq!(core::hint::black_box(y), 42);
}
