//! The runner's timeout dump at -smp 4: every CPU answers the NMI with one
//! whole block (`NMI: cpu N ...` to `NMI: cpu N end`, never interleaved
//! with another CPU's lines), each CPU's block shows the goroutine it runs
//! with its frames from the interrupted RIP (`spin_on_cpu` itself, the top
//! frame), and CPU 0's block has the scheduler's state and every goroutine.
//! Expected-timeout test: the kernel spins until the runner gives up. The
//! time slice is longer than the boot (`slice=60000ms`): no preemption
//! moves the spinners, so the NMI finds every CPU in `spin_on_cpu`, never
//! in the scheduler between two of them (which a loaded host made likely).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

gmpos::qemu_test! {
    config: "
        smp=4
        timeout=8
        args=slice=60000ms
        expect_timeout=1
        expect=gmpos-test: start every_cpu_spins_until_the_timeout
        expect=NMI: cpu
        expect=goroutine
        expect=^nmi_dump::spin_on_cpu(...)
        expect=NMI: cpu
    ",
}

/// Spins in assembly forever: the NMI interrupts one of these instructions,
/// so the traceback's top frame is this function.
#[inline(never)]
fn spin_on_cpu(started: &AtomicU32) -> ! {
    started.fetch_add(1, Ordering::SeqCst);
    // SAFETY: a pause loop touching no memory.
    unsafe { core::arch::asm!("2:", "pause", "jmp 2b", options(noreturn)) }
}

#[gmpos::test]
fn every_cpu_spins_until_the_timeout() {
    let started = Arc::new(AtomicU32::new(0));
    for _ in 0..3 {
        let s = started.clone();
        gmpos::go(move || spin_on_cpu(&s));
    }
    while started.load(Ordering::SeqCst) < 3 {
        gmpos::gosched();
    }
    spin_on_cpu(&started);
}
