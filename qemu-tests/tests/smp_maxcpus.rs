//! `-smp 2,maxcpus=4`: the MADT lists four local APICs, two of them not
//! enabled (hot-pluggable slots). Those are skipped quietly: not counted,
//! not started, not reported missing; the two present CPUs run (status 0).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::{ipi, percpu, smp};

gmpos::qemu_test! {
    config: "
        smp=2
        maxcpus=4
    ",
}

#[gmpos::test]
fn absent_cpus_are_skipped() {
    assert_eq!(smp::ncpu_found(), 2, "not-enabled MADT entries counted");
    assert_eq!(smp::ncpu(), 2);
    assert_eq!(smp::nmissing(), 0, "an absent slot was tried and reported");
    let seen = AtomicU64::new(0);
    ipi::run_on_all(&|| {
        seen.fetch_or(1 << percpu::this().index, Ordering::Relaxed);
    });
    assert_eq!(seen.load(Ordering::Relaxed), 0b11);
}
