//! `pingpong` (BENCH.md 3): two unbuffered channels `a`, `b`. Pinger:
//! `v := 0; 1,000,000 x { a <- v; v = <-b }`; ponger: `1,000,000 x { v :=
//! <-a; b <- v+1 }`. Verify pinger's final `v == 1,000,000`. ns/op =
//! elapsed / 1,000,000 round trips.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{now, repeat, report};
use crate::{WaitGroup, chan, go};

const N: u64 = 1_000_000;

fn once() -> f64 {
    let (a, b) = (chan::<u64>(0), chan::<u64>(0));
    let wg = Arc::new(WaitGroup::new());
    let last = Arc::new(AtomicU64::new(0));
    wg.add(2);
    let t0 = now();
    {
        let (a, b, w, last) = (a.clone(), b.clone(), wg.clone(), last.clone());
        go(move || {
            let mut v = 0;
            for _ in 0..N {
                a.send(v);
                v = b.recv().expect("b closed");
            }
            last.store(v, Ordering::Relaxed);
            w.done();
        });
    }
    {
        let w = wg.clone();
        go(move || {
            for _ in 0..N {
                let v = a.recv().expect("a closed");
                b.send(v + 1);
            }
            w.done();
        });
    }
    wg.wait();
    let dt = now() - t0;
    assert_eq!(last.load(Ordering::Relaxed), N, "pingpong: final v");
    dt as f64 / N as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 5, once);
    report("pingpong", procs, N, &samples, "gcs=0");
}
