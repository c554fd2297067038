//! Scheduler benchmarks from `shared/BENCH.md`: `spawn` and `yield`, at
//! procs=1 then procs=2 (set with `set_gomaxprocs` on a 2-CPU machine).
//! Run with `make bench` (or `cargo bench --bench sched`); prints `bench=`
//! lines. Under `icount=1` one virtual ns is one guest instruction.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;

use gmpos::testing::hw::now_ns;
use gmpos::{WaitGroup, go, gosched, set_gomaxprocs};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=2
        icount=1
        timeout=1200
    ",
}

/// `spawn`: N goroutines that each call `wg.Done()`; main spawns them all
/// without yielding, then waits. ns/op = elapsed / N.
#[gmpos::test]
fn spawn() {
    const N: u64 = 100_000;
    for procs in [1, 2] {
        set_gomaxprocs(procs);
        let mut samples = Vec::new();
        for rep in 0..8 {
            let wg = Arc::new(WaitGroup::new());
            wg.add(N as i64);
            let t0 = now_ns();
            for _ in 0..N {
                let w = wg.clone();
                go(move || w.done());
            }
            wg.wait();
            let dt = now_ns() - t0;
            if rep > 0 {
                samples.push(dt as f64 / N as f64);
            }
        }
        report("spawn", procs, N, &samples, "gcs=0");
    }
}

/// `yield`: two goroutines each call Gosched 1,000,000 times.
/// ns/op = elapsed / 2,000,000.
#[gmpos::test]
fn yield_() {
    const N: u64 = 1_000_000;
    for procs in [1, 2] {
        set_gomaxprocs(procs);
        let mut samples = Vec::new();
        for rep in 0..6 {
            let wg = Arc::new(WaitGroup::new());
            wg.add(2);
            let t0 = now_ns();
            for _ in 0..2 {
                let w = wg.clone();
                go(move || {
                    for _ in 0..N {
                        gosched();
                    }
                    w.done();
                });
            }
            wg.wait();
            let dt = now_ns() - t0;
            if rep > 0 {
                samples.push(dt as f64 / (2 * N) as f64);
            }
        }
        report("yield", procs, 2 * N, &samples, "gcs=0");
    }
}
