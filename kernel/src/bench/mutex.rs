//! `mutex` (BENCH.md 5): one `Mutex` over a plain counter; 4 goroutines
//! each do 1,000,000 x `{ lock; counter++; unlock }`. Verify 4,000,000.
//! ns/op = elapsed / 4,000,000.
use alloc::sync::Arc;

use super::{now, repeat, report};
use crate::{Mutex, WaitGroup, go};

const PER_G: u64 = 1_000_000;
const GS: u64 = 4;

fn once() -> f64 {
    let counter = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    wg.add(GS as i64);
    let t0 = now();
    for _ in 0..GS {
        let (c, w) = (counter.clone(), wg.clone());
        go(move || {
            for _ in 0..PER_G {
                *c.lock() += 1;
            }
            w.done();
        });
    }
    wg.wait();
    let dt = now() - t0;
    assert_eq!(*counter.lock(), GS * PER_G, "mutex: counter");
    dt as f64 / (GS * PER_G) as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 5, once);
    report("mutex", procs, GS * PER_G, &samples, "gcs=0");
}
