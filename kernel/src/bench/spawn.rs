//! `spawn` (BENCH.md 1): N goroutines that each only `wg.Done()`; main
//! spawns them all without yielding, then `wg.Wait()`s. ns/op = elapsed /
//! N (spawn + schedule + run + exit). The warm-up leaves N dead Gs on the
//! free lists, which the measured repetitions reuse.
use alloc::sync::Arc;

use super::{now, repeat, report};
use crate::{WaitGroup, go};

pub const N: u64 = 100_000;

/// One repetition: ns per goroutine.
pub fn once() -> f64 {
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    let t0 = now();
    for _ in 0..N {
        let w = wg.clone();
        go(move || w.done());
    }
    wg.wait();
    (now() - t0) as f64 / N as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 7, once);
    report("spawn", procs, N, &samples, "gcs=0");
}
