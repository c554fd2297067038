//! Global-queue fairness: goroutines re-queueing themselves through the local
//! ring keep P0 busy, yet a goroutine in the global queue runs within 61
//! scheduling rounds (Go: `schedtick % 61 == 0` checks the global queue first).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use gmpos::testing::sched::goyield;
use gmpos::testing::sched::p;
use gmpos::{WaitGroup, go, gosched};

gmpos::qemu_test! {
    config: "
        smp=1
    ",
}

#[gmpos::test]
fn global_queue_runs_within_61_ticks() {
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    // Four goroutines cycling through P0's local ring.
    for _ in 0..4 {
        let (s, w) = (stop.clone(), wg.clone());
        wg.add(1);
        go(move || {
            while !s.load(Ordering::Relaxed) {
                goyield();
            }
            w.done();
        });
    }
    let delays = Arc::new(AtomicU32::new(0));
    let worst = Arc::new(AtomicU32::new(0));
    // Let the yielders fill the ring, then, 20 times: go to the global queue
    // (gosched) and count the rounds until we run again.
    goyield();
    for _ in 0..20 {
        let before = p(0).schedtick.load(Ordering::Relaxed);
        gosched();
        let rounds = p(0).schedtick.load(Ordering::Relaxed).wrapping_sub(before);
        worst.fetch_max(rounds, Ordering::Relaxed);
        delays.fetch_add(rounds, Ordering::Relaxed);
        assert!(
            rounds <= 62,
            "a global-queue goroutine waited {rounds} scheduling rounds (limit 61)"
        );
    }
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    gmpos::test_note!(
        "global-queue waits: mean {} rounds, worst {} (limit 61)",
        delays.load(Ordering::Relaxed) / 20,
        worst.load(Ordering::Relaxed)
    );
    assert!(
        worst.load(Ordering::Relaxed) > 1,
        "the yielders never kept P0 busy: the test proves nothing"
    );
}
