//! Cross-CPU cross-calls (IPIs): a goroutine runs a closure on every other
//! CPU a seeded number of times; each call must be served exactly once by
//! each target (counted by the closure itself, so other cross-calls in
//! flight, such as the storm's, do not disturb the count).
use core::sync::atomic::{AtomicU64, Ordering};

use super::checksum::fold;
use super::rng::Rng;
use super::round::{Cx, Ops};
use crate::arch::{ipi, smp};

pub fn start(cx: &Cx, mut rng: Rng) {
    let calls = rng.range(8, 64);
    fold(&cx.sum, calls << 40);
    Ops::add(&cx.ops.xcalls, calls);
    cx.ledger.go(move || {
        let served = AtomicU64::new(0);
        let others = smp::ncpu() as u64 - 1;
        for _ in 0..calls {
            ipi::run_on_others(&|| {
                served.fetch_add(1, Ordering::Relaxed);
            });
        }
        let n = served.load(Ordering::Relaxed);
        assert_eq!(
            n,
            calls * others,
            "stress: {calls} cross-calls to {others} CPUs were served {n} times"
        );
    });
}
