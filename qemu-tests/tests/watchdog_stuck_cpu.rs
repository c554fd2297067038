//! The watchdog's stuck-CPU check fires (expected failure, status 2): a
//! goroutine spins with interrupts off on one CPU while main keeps another
//! busy; the heartbeat NMIs main's CPU sends find the spinning CPU with
//! interrupts off and no timer tick, and that CPU reports itself.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::{cpu_index, now_ns};
use gmpos::testing::sched::watchdog_spin_irqs_off;
use gmpos::{go, gosched};

gmpos::qemu_test! {
    config: "
        smp=2
        args=watchdog=1 slice=1ms
        timeout=60
        expect=fatal error: watchdog: cpu 1 stuck with interrupts off: 10 heartbeats (100 ms) without a timer tick
    ",
}

/// The CPU main spins on, and a counter it bumps while spinning.
static MAIN_CPU: AtomicU64 = AtomicU64::new(u64::MAX);
static MAIN_SPINS: AtomicU64 = AtomicU64::new(0);

#[gmpos::test]
fn stuck_cpu_is_named() {
    go(|| {
        // Only on the CPU main is not on (main must keep ticking), and only
        // on CPU 1, so the message is exact.
        loop {
            let before = MAIN_SPINS.load(Ordering::Relaxed);
            let t = now_ns() + 100_000;
            while now_ns() < t {
                core::hint::spin_loop();
            }
            let spinning = MAIN_SPINS.load(Ordering::Relaxed) != before;
            if cpu_index() == 1 && MAIN_CPU.load(Ordering::Relaxed) != 1 && spinning {
                watchdog_spin_irqs_off();
            }
            gosched();
        }
    });
    let deadline = now_ns() + 5_000_000_000;
    while now_ns() < deadline {
        MAIN_CPU.store(cpu_index() as u64, Ordering::Relaxed);
        MAIN_SPINS.fetch_add(1, Ordering::Relaxed);
        core::hint::spin_loop();
    }
    panic!("watchdog did not report a stuck CPU");
}
