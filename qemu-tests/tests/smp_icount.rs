//! AP start-up under QEMU's icount (issue 3): with `-icount shift=0`
//! (deterministic virtual time, one instruction per ns; QEMU runs the
//! virtual CPUs round-robin on one thread) every CPU still comes online, at
//! -smp 2 and 4, with QEMU's default CPU model and with `-cpu max` (where
//! gmpos keeps to xAPIC: see `tsc::counts_instructions`).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

mod common;

use gmpos::testing::hw::{apic, ipi, smp, tsc};

gmpos::qemu_test! {
    config: "
        smp=2,4
        cpu=default,max
        icount=1
        timeout=120
    ",
}

#[gmpos::test]
fn all_cpus_online_under_icount() {
    assert!(
        common::icount(),
        "the TSC does not count instructions: is icount on?"
    );
    let expected = common::qemu_smp().expect("no fw_cfg") as usize;
    assert_eq!(
        smp::ncpu(),
        expected,
        "{} of {expected} CPUs online",
        smp::ncpu()
    );
    assert!(
        !apic::is_x2apic(),
        "x2APIC under icount (QEMU would abort on its timer)"
    );
    // Every CPU answers.
    let hits = core::sync::atomic::AtomicUsize::new(0);
    ipi::run_on_all(&|| {
        hits.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(hits.into_inner(), expected);
    let t = tsc::frequency();
    let a = gmpos::testing::hw::timer::frequency();
    // Under icount shift=0 the TSC counts nanoseconds of virtual time.
    assert!(
        tsc::ppm(t.hz, 1_000_000_000) <= 100,
        "TSC at {} Hz under icount (1 GHz expected)",
        t.hz
    );
    gmpos::test_note!(
        "{expected} CPUs online under icount; TSC {} Hz, APIC timer {} Hz",
        t.hz,
        a.hz
    );
}
