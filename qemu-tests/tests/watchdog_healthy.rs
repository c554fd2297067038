//! No false alarm from the watchdog (`watchdog=1`, status 0): the seeded
//! workload (`qemu_tests::workload`: spawn trees, channel pipelines with
//! fan-out and fan-in, Mutex bank transfers, WaitGroups, sleepers, yielders,
//! deep recursion) plus tight-loop hogs only async preemption interrupts,
//! a contended Mutex and a ping-pong pair, at `slice=1ms` on 2 and 4 CPUs.
//! The watchdog must have looked (scans, runnable goroutines and parked
//! ones checked, heartbeats taken) and found nothing.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::{watchdog_enabled, watchdog_stats};
use gmpos::{Mutex, WaitGroup, chan, go, test_note};
use qemu_tests::workload;

gmpos::qemu_test! {
    config: "
        smp=2,4
        args=watchdog=1 slice=1ms
        timeout=120
    ",
}

const RUN_MS: u64 = 1500;

#[gmpos::test]
fn busy_healthy_load_raises_no_alarm() {
    assert!(
        watchdog_enabled(),
        "watchdog=1 did not turn the watchdog on"
    );
    let before = watchdog_stats();
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    // Tight loops: no safe point, only the tick's async preemption.
    for _ in 0..2 {
        wg.add(1);
        let (stop, wg) = (stop.clone(), wg.clone());
        go(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = core::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            wg.done();
        });
    }
    // A contended Mutex.
    let m = Arc::new(Mutex::new(0u64));
    for _ in 0..4 {
        wg.add(1);
        let (stop, wg, m) = (stop.clone(), wg.clone(), m.clone());
        go(move || {
            while !stop.load(Ordering::Relaxed) {
                *m.lock() += 1;
            }
            wg.done();
        });
    }
    // A ping-pong pair on unbuffered channels (runnext hand-offs).
    let pongs = Arc::new(AtomicU64::new(0));
    let (a, b) = (chan::<u64>(0), chan::<u64>(0));
    {
        wg.add(2);
        let (stop, wg1, a1, b1) = (stop.clone(), wg.clone(), a.clone(), b.clone());
        go(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                a1.send(i);
                i = b1.recv().unwrap() + 1;
            }
            a1.close();
            wg1.done();
        });
        let (wg2, pongs) = (wg.clone(), pongs.clone());
        go(move || {
            for v in &a {
                b.send(v);
                pongs.fetch_add(1, Ordering::Relaxed);
            }
            wg2.done();
        });
    }
    let t = now_ns();
    let (rounds, c) = workload::run_for(5, RUN_MS);
    let ms = (now_ns() - t) / 1_000_000;
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    let s = watchdog_stats();
    test_note!(
        "{rounds} workload rounds in {ms} ms ({} goroutines, {} channel ops, {} transfers), mutex {}, pongs {}; watchdog: {} scans, {} runnable and {} parked goroutines checked ({} parked ones whose condition held at that scan: wakers in their window), longest wait {}% of its bound in a P's queue, {}% in the shared queues, {} epochs, heartbeats {} sent / {} taken",
        c.goroutines,
        c.chan_ops,
        c.transfers,
        *m.lock(),
        pongs.load(Ordering::Relaxed),
        s.scans - before.scans,
        s.runnable_seen - before.runnable_seen,
        s.waits_checked - before.waits_checked,
        s.waits_held - before.waits_held,
        s.max_local_pct,
        s.max_shared_pct,
        s.epochs - before.epochs,
        s.beats_sent - before.beats_sent,
        s.beats_taken - before.beats_taken,
    );
    // It looked (a test that cannot fail proves nothing).
    assert!(s.scans - before.scans >= 10, "too few scans: {s:?}");
    assert!(
        s.runnable_seen > before.runnable_seen,
        "no runnable goroutine seen: {s:?}"
    );
    assert!(
        s.waits_checked > before.waits_checked,
        "no parked goroutine checked: {s:?}"
    );
    assert!(s.epochs > before.epochs, "no progress epoch: {s:?}");
    assert!(
        s.beats_taken > before.beats_taken,
        "no heartbeat taken: {s:?}"
    );
}
