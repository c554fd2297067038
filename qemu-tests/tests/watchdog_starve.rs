//! The watchdog's starvation check fires (expected failure, status 2): a
//! test hook makes findRunnable requeue one goroutine instead of running
//! it, while yielding goroutines keep every P making schedule rounds; the
//! watchdog (`watchdog=1`) names the goroutine that stayed runnable for
//! more than K x (queue length) rounds.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::{current_goid, goyield, watchdog_starve};
use gmpos::{chan, go};

gmpos::qemu_test! {
    config: "
        smp=2
        args=watchdog=1 slice=1ms
        timeout=90
        expect=fatal error: watchdog: goroutine 2 starved: runnable in the global queue for
    ",
}

/// Times the victim ran after it was marked.
static VICTIM_RUNS: AtomicU64 = AtomicU64::new(0);

#[gmpos::test]
fn starved_goroutine_is_named() {
    let ids = chan::<u64>(1);
    let tx = ids.clone();
    go(move || {
        tx.send(current_goid());
        loop {
            VICTIM_RUNS.fetch_add(1, Ordering::Relaxed);
            goyield();
        }
    });
    let victim = ids.recv().unwrap();
    watchdog_starve(victim);
    let marked_runs = VICTIM_RUNS.load(Ordering::Relaxed);
    for _ in 0..3 {
        go(|| {
            loop {
                goyield();
            }
        });
    }
    let deadline = now_ns() + 10_000_000_000;
    while now_ns() < deadline {
        goyield();
    }
    panic!(
        "watchdog did not report goroutine {victim} (runs since marked: {})",
        VICTIM_RUNS.load(Ordering::Relaxed) - marked_runs
    );
}
