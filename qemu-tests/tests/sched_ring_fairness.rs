//! Goroutines readied into a P's local queue are not starved by CPU hogs
//! cycling through the global queue (issue 10 B): with hogs on every P at
//! `slice=200us`, a goroutine at position k of the local queue (`runnext` =
//! 0, then the ring) when it is readied runs within k + 2 slices of its P,
//! whether it was spawned (`go`) or woken (`goready` through a semaphore).
//! Asserted under icount, where host stalls cannot stretch a slice.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::sched::g::WaitReason;
use gmpos::sync::sema::Sema;
use gmpos::time::now_ns;
use gmpos::{WaitGroup, go};

mod common;

gmpos::qemu_test! {
    config: "
        smp=2,4
        icount=1
        args=slice=200us
        timeout=240
    ",
    cases: [spawned_gs_run_behind_hogs, woken_gs_run_behind_hogs],
}

const SLICE_NS: u64 = 200_000;
/// Goroutines readied per round.
const K: usize = 4;
const ROUNDS: usize = 20;

fn hog(stop: &AtomicBool) {
    let mut x = 0u64;
    while !stop.load(Ordering::Relaxed) {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

/// Starts two hogs per CPU and returns their stop flag and WaitGroup.
fn start_hogs() -> (Arc<AtomicBool>, Arc<WaitGroup>) {
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..2 * gmpos::num_cpu() {
        let (s, w) = (stop.clone(), wg.clone());
        wg.add(1);
        go(move || {
            hog(&s);
            w.done();
        });
    }
    (stop, wg)
}

/// The position of the i-th goroutine readied in a row: each goes to
/// `runnext` and kicks the previous one to the ring's tail, so the last is
/// at position 0 and the i-th (i < K - 1) at position i + 1.
fn position(i: usize) -> usize {
    if i == K - 1 { 0 } else { i + 1 }
}

/// Busy-waits (as a CPU hog itself) until `started` has K entries or 50
/// slices have passed, then checks each goroutine's delay.
fn check_round(round: usize, readied_at: &[AtomicU64; K], started_at: &[AtomicU64; K], worst: &mut u64) {
    let t0 = now_ns();
    while started_at.iter().any(|s| s.load(Ordering::Acquire) == 0) && now_ns() - t0 < 50 * SLICE_NS {
        core::hint::spin_loop();
    }
    for i in 0..K {
        let s = started_at[i].load(Ordering::Acquire);
        assert!(
            s != 0,
            "round {round}: goroutine {i} (local position {}) did not run within 50 slices behind the hogs",
            position(i)
        );
        let delay = s - readied_at[i].load(Ordering::Relaxed);
        *worst = (*worst).max(delay * 100 / SLICE_NS);
        let bound = (position(i) as u64 + 2) * SLICE_NS;
        if common::icount() {
            assert!(
                delay <= bound,
                "round {round}: goroutine {i} at local position {} ran {} us after it was readied (bound {} us = (position + 2) slices)",
                position(i),
                delay / 1000,
                bound / 1000
            );
        }
    }
}

fn spawned_gs_run_behind_hogs() {
    let (stop, hogs) = start_hogs();
    // Let the hogs spread and fill the global queue.
    common::spin_ns(5 * SLICE_NS);
    let mut worst = 0;
    for round in 0..ROUNDS {
        let readied = Arc::new([const { AtomicU64::new(0) }; K]);
        let started = Arc::new([const { AtomicU64::new(0) }; K]);
        for i in 0..K {
            let st = started.clone();
            readied[i].store(now_ns(), Ordering::Relaxed);
            go(move || st[i].store(now_ns(), Ordering::Release));
        }
        check_round(round, &readied, &started, &mut worst);
    }
    stop.store(true, Ordering::Relaxed);
    hogs.wait();
    gmpos::test_note!(
        "{ROUNDS} rounds of {K} spawned goroutines behind {} hogs: worst delay {}.{:02} slices",
        2 * gmpos::num_cpu(),
        worst / 100,
        worst % 100
    );
}

fn woken_gs_run_behind_hogs() {
    let (stop, hogs) = start_hogs();
    common::spin_ns(5 * SLICE_NS);
    let mut worst = 0;
    let done = Arc::new(WaitGroup::new());
    for round in 0..ROUNDS {
        let readied = Arc::new([const { AtomicU64::new(0) }; K]);
        let started = Arc::new([const { AtomicU64::new(0) }; K]);
        // K goroutines each parked on its own semaphore.
        let semas: Arc<Vec<Sema>> = Arc::new((0..K).map(|_| Sema::new(0)).collect());
        let parked = Arc::new(AtomicU64::new(0));
        for i in 0..K {
            let (st, se, pk, d) = (started.clone(), semas.clone(), parked.clone(), done.clone());
            done.add(1);
            go(move || {
                pk.fetch_add(1, Ordering::Release);
                se[i].acquire(WaitReason::Semacquire);
                st[i].store(now_ns(), Ordering::Release);
                d.done();
            });
        }
        // Wait until all K are parked (they may have to wait behind hogs).
        while parked.load(Ordering::Acquire) < K as u64 || gmpos::sched::sched::nwaiting() < K as u64 {
            gmpos::gosched();
        }
        for i in 0..K {
            readied[i].store(now_ns(), Ordering::Relaxed);
            semas[i].release();
        }
        check_round(round, &readied, &started, &mut worst);
    }
    done.wait();
    stop.store(true, Ordering::Relaxed);
    hogs.wait();
    gmpos::test_note!(
        "{ROUNDS} rounds of {K} woken goroutines behind {} hogs: worst delay {}.{:02} slices",
        2 * gmpos::num_cpu(),
        worst / 100,
        worst % 100
    );
}
