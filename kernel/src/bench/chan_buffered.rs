//! `chan_buffered` (BENCH.md 4): one `chan int` of capacity 128; the
//! producer sends `0..9,999,999` then closes, the consumer ranges over it
//! summing. Verify sum = N(N-1)/2. ns/op = elapsed / N.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::{now, repeat, report};
use crate::{WaitGroup, chan, go};

const N: u64 = 10_000_000;

fn once() -> f64 {
    let ch = chan::<u64>(128);
    let wg = Arc::new(WaitGroup::new());
    let sum = Arc::new(AtomicU64::new(0));
    wg.add(2);
    let t0 = now();
    {
        let (ch, w) = (ch.clone(), wg.clone());
        go(move || {
            for i in 0..N {
                ch.send(i);
            }
            ch.close();
            w.done();
        });
    }
    {
        let (w, sum) = (wg.clone(), sum.clone());
        go(move || {
            let mut s = 0u64;
            for v in &ch {
                s += v;
            }
            sum.store(s, Ordering::Relaxed);
            w.done();
        });
    }
    wg.wait();
    let dt = now() - t0;
    assert_eq!(
        sum.load(Ordering::Relaxed),
        N * (N - 1) / 2,
        "chan_buffered: sum"
    );
    dt as f64 / N as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 5, once);
    report("chan_buffered", procs, N, &samples, "gcs=0");
}
