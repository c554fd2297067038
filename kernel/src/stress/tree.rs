//! Spawn trees: every node spawns `fan` children down to `depth`; a third
//! of the inner nodes wait for their own children on a WaitGroup of their
//! own (nested WaitGroups), the others leave them to the round's ledger.
//! Each node's stream comes from its position in the tree.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::checksum::fold;
use super::ledger::Ledger;
use super::rng::Rng;
use super::round::Cx;
use crate::sync::WaitGroup;

/// Starts a tree of `fan^0 + ... + fan^depth` goroutines.
pub fn start(cx: &Cx, mut rng: Rng) {
    let depth = rng.range(3, 6) as u32;
    let fan = rng.range(2, 3);
    let (l, sum) = (cx.ledger.clone(), cx.sum.clone());
    cx.ledger.go(move || node(&l, rng, depth, fan, &sum));
}

fn node(l: &Arc<Ledger>, rng: Rng, depth: u32, fan: u64, sum: &Arc<AtomicU64>) {
    let mut r = rng;
    fold(sum, r.next_u64() ^ depth as u64);
    if depth == 0 {
        return;
    }
    let wait = r.range(0, 2) == 0;
    let wg = Arc::new(WaitGroup::new());
    let done = Arc::new(AtomicU64::new(0));
    for i in 0..fan {
        let (l2, sum, wg, done) = (l.clone(), sum.clone(), wg.clone(), done.clone());
        let child = rng.child(i);
        if wait {
            wg.add(1);
        }
        l.go(move || {
            node(&l2, child, depth - 1, fan, &sum);
            done.fetch_add(1, Ordering::Relaxed);
            if wait {
                wg.done();
            }
        });
    }
    if wait {
        wg.wait();
        let n = done.load(Ordering::Relaxed);
        assert_eq!(
            n, fan,
            "stress: WaitGroup.wait returned with {n} of {fan} children done"
        );
    }
}
