//! `yield` (BENCH.md 2): two goroutines each call `gosched()` 1,000,000
//! times, then `wg.Done()`; main waits. ns/op = elapsed / 2,000,000 (all
//! Gosched calls). gmpos's `gosched`, like Go's, puts the caller on the
//! global run queue and schedules.
use alloc::sync::Arc;

use super::{now, repeat, report};
use crate::{WaitGroup, go, gosched};

const N: u64 = 1_000_000;

/// One round of `n` Goscheds per goroutine: ns per Gosched (the tracer's
/// cost benchmark runs it with a smaller `n`).
pub fn round(n: u64) -> f64 {
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    let t0 = now();
    for _ in 0..2 {
        let w = wg.clone();
        go(move || {
            for _ in 0..n {
                gosched();
            }
            w.done();
        });
    }
    wg.wait();
    (now() - t0) as f64 / (2 * n) as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 5, || round(N));
    report("yield", procs, 2 * N, &samples, "gcs=0");
}
