//! Stop-the-world (`set_gomaxprocs`) under stress (issue 10 E and F):
//! resizes back to back with no pause between them (the stop generation
//! must not be confused with the next one, and no wake-up IPI may be lost
//! between an M's check and its halt), and two goroutines resizing at once
//! while others work (stop-the-world is serialised, Go's `worldsema`: the
//! second caller sleeps).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=2,4
        args=slice=100us
        timeout=180
    ",
}

/// `n` goroutines doing short bursts of work and yielding, until their
/// stop flag is set: (stop flag, WaitGroup, work count).
fn workers(n: usize) -> (Arc<AtomicBool>, Arc<WaitGroup>, Arc<AtomicU64>) {
    let (stop, wg, work) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(WaitGroup::new()),
        Arc::new(AtomicU64::new(0)),
    );
    for _ in 0..n {
        let (s, w, k) = (stop.clone(), wg.clone(), work.clone());
        wg.add(1);
        go(move || {
            while !s.load(Ordering::Relaxed) {
                for i in 0..500u64 {
                    core::hint::black_box(i);
                }
                k.fetch_add(1, Ordering::Relaxed);
                gmpos::gosched();
            }
            w.done();
        });
    }
    (stop, wg, work)
}

#[gmpos::test]
fn back_to_back_resizes() {
    let n = gmpos::num_cpu();
    let (stop, wg, work) = workers(2 * n);
    let iters = 1_000;
    for _ in 0..iters {
        gmpos::set_gomaxprocs((n / 2).max(1));
        gmpos::set_gomaxprocs(n);
    }
    assert_eq!(gmpos::gomaxprocs(), n);
    let before = work.load(Ordering::Relaxed);
    // The workers still run on every P afterwards.
    gmpos::sleep(core::time::Duration::from_millis(5));
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    gmpos::test_note!(
        "{iters} x (gomaxprocs {} -> {n}) back to back; {} work items, {} after",
        (n / 2).max(1),
        before,
        work.load(Ordering::Relaxed) - before
    );
}

#[gmpos::test]
fn concurrent_resizes() {
    let n = gmpos::num_cpu();
    let (stop, wg, work) = workers(2 * n);
    let resizers = Arc::new(WaitGroup::new());
    let iters = 300;
    for r in 0..2usize {
        let rw = resizers.clone();
        resizers.add(1);
        go(move || {
            for i in 0..iters {
                let procs = if (i + r) % 2 == 0 { 1 } else { n };
                gmpos::set_gomaxprocs(procs);
            }
            rw.done();
        });
    }
    resizers.wait();
    gmpos::set_gomaxprocs(n);
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    gmpos::test_note!(
        "2 goroutines x {iters} resizes at once; {} work items meanwhile",
        work.load(Ordering::Relaxed)
    );
}
