//! CPUs that do not come up (status 0): with `deafcpu=1` (the test hook:
//! the AP with APIC id 1 is sent no INIT-SIPI, as if it ignored them) the
//! kernel waits out the AP time-out, names the missing CPU, gives its index
//! to the next AP and runs on the CPUs that answered: indices stay dense,
//! cross-calls reach every online CPU and goroutines run on all of them.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

mod common;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::{ipi, percpu, smp};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=2,4
        args=deafcpu=1
        timeout=90
    ",
}

#[gmpos::test]
fn boots_without_the_deaf_cpu() {
    let qemu = common::qemu_smp().expect("no fw_cfg") as usize;
    assert_eq!(smp::ncpu_found(), qemu, "every CPU is listed in the MADT");
    assert_eq!(smp::ncpu(), qemu - 1, "all but the deaf CPU are online");
    assert_eq!(smp::nmissing(), 1);
    assert_eq!(
        smp::missing().collect::<Vec<_>>(),
        [1],
        "the missing one is named"
    );
    // Indices stay dense: APIC id 1's index went to the next AP.
    let ids: Vec<u32> = (0..smp::ncpu()).map(smp::apic_id).collect();
    assert!(!ids.contains(&1), "APIC ids online: {ids:?}");
    assert_eq!(smp::online_mask(), (1u64 << smp::ncpu()) - 1);
    assert_eq!(gmpos::num_cpu(), smp::ncpu());
    assert_eq!(gmpos::gomaxprocs(), smp::ncpu());
}

#[gmpos::test]
fn every_online_cpu_answers() {
    let seen = AtomicU64::new(0);
    ipi::run_on_all(&|| {
        seen.fetch_or(1 << percpu::this().index, Ordering::Relaxed);
    });
    assert_eq!(seen.load(Ordering::Relaxed), smp::online_mask());
    // And the scheduler uses them: busy goroutines spread over every P.
    let ran = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..8 * smp::ncpu() {
        wg.add(1);
        let (ran, wg) = (ran.clone(), wg.clone());
        go(move || {
            let t = gmpos::Instant::now();
            while t.elapsed() < gmpos::Duration::from_millis(30) {
                ran.fetch_or(1 << gmpos::testing::hw::cpu_index(), Ordering::Relaxed);
                core::hint::spin_loop();
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(ran.load(Ordering::Relaxed), smp::online_mask());
}
