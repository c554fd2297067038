//! `fanout` (BENCH.md 6): `pfib(27)` from the main goroutine, spawning one
//! goroutine per call with n >= 12 (2583 of them, counted with an atomic
//! add), each sending its result on its own channel of capacity 1. Verify
//! 196418 and the count. ns/op = the whole computation; extras
//! `goroutines`, `serial_ns` (`sfib(27)` in the same repetition) and, at
//! procs=2, `speedup_vs_p1` = median(procs=1) / median(procs=2).
use core::sync::atomic::{AtomicU64, Ordering};

use super::{median_min, now, report};
use crate::{chan, go};

const N: u64 = 27;
const RESULT: u64 = 196_418;
const GOROUTINES: u64 = 2583;

/// Goroutines spawned in this repetition.
static SPAWNED: AtomicU64 = AtomicU64::new(0);
/// The procs=1 median of this boot (f64 bits; 0: not run).
static P1_MEDIAN: AtomicU64 = AtomicU64::new(0);

/// Plain recursion, never inlined (the definition's serial work).
#[inline(never)]
fn sfib(n: u64) -> u64 {
    let n = core::hint::black_box(n);
    if n < 2 { n } else { sfib(n - 1) + sfib(n - 2) }
}

#[inline(never)]
fn pfib(n: u64) -> u64 {
    if n < 12 {
        return sfib(n);
    }
    let ch = chan::<u64>(1);
    SPAWNED.fetch_add(1, Ordering::Relaxed);
    let tx = ch.clone();
    go(move || tx.send(pfib(n - 1)));
    let b = pfib(n - 2);
    ch.recv().expect("fanout: channel closed") + b
}

/// One repetition: (total ns, serial ns).
fn once() -> (f64, f64) {
    SPAWNED.store(0, Ordering::Relaxed);
    let t0 = now();
    let r = pfib(N);
    let dt = now() - t0;
    assert_eq!(r, RESULT, "fanout: pfib(27)");
    assert_eq!(
        SPAWNED.load(Ordering::Relaxed),
        GOROUTINES,
        "fanout: goroutines"
    );
    let t1 = now();
    let s = sfib(N);
    let serial = now() - t1;
    assert_eq!(s, RESULT, "fanout: sfib(27)");
    (dt as f64, serial as f64)
}

pub fn run(procs: usize) {
    for _ in 0..3 {
        once();
    }
    let (mut total, mut serial) = (alloc::vec::Vec::new(), alloc::vec::Vec::new());
    for _ in 0..51 {
        let (t, s) = once();
        total.push(t);
        serial.push(s);
    }
    let (med, _) = median_min(&total);
    let (serial_med, _) = median_min(&serial);
    let mut extras = alloc::format!("goroutines={GOROUTINES} serial_ns={serial_med:.0}");
    if procs == 1 {
        P1_MEDIAN.store(med.to_bits(), Ordering::Relaxed);
    } else {
        let p1 = f64::from_bits(P1_MEDIAN.load(Ordering::Relaxed));
        if p1 > 0.0 {
            extras.push_str(&alloc::format!(" speedup_vs_p1={:.2}", p1 / med));
        }
    }
    extras.push_str(" gcs=0");
    report("fanout", procs, 1, &total, &extras);
}
