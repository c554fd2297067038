//! The UEFI image brings every CPU up too (issue 3): OVMF leaves the APs in
//! its own wait loop and the memory map differs from the BIOS one; the
//! trampoline's low pages must still be usable.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

mod common;

use gmpos::testing::hw::{ipi, smp};

gmpos::qemu_test! {
    config: "
        smp=2,4
        uefi=1
        timeout=120
    ",
}

#[gmpos::test]
fn all_cpus_online_under_uefi() {
    let expected = common::qemu_smp().expect("no fw_cfg") as usize;
    assert_eq!(
        smp::ncpu(),
        expected,
        "{} of {expected} CPUs online",
        smp::ncpu()
    );
    assert_eq!(smp::ncpu_found(), expected);
    let hits = core::sync::atomic::AtomicUsize::new(0);
    ipi::run_on_all(&|| {
        hits.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(hits.into_inner(), expected);
    gmpos::test_note!("UEFI: {expected} of {expected} CPUs online");
}
