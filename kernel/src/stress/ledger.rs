//! Every goroutine a round spawns runs exactly once: each gets a slot;
//! its wrapper counts the start and the finish in the slot, and the round
//! checks every slot is 1/1 after all of them returned.
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::sched;
use crate::sync::WaitGroup;

/// The slots of one round.
pub struct Ledger {
    next: AtomicUsize,
    started: Box<[AtomicU8]>,
    finished: Box<[AtomicU8]>,
    /// Done by the wrapper after the finish is counted, so a waiter sees
    /// every count.
    wg: WaitGroup,
    /// `stressbug=twice`: slot `twice` is given to a second goroutine too.
    twice: Option<usize>,
}

impl Ledger {
    /// Room for `cap` goroutines (more is a named failure of the workload,
    /// not an overrun).
    pub fn new(cap: usize, twice: Option<usize>) -> Arc<Ledger> {
        Arc::new(Ledger {
            next: AtomicUsize::new(0),
            started: (0..cap).map(|_| AtomicU8::new(0)).collect(),
            finished: (0..cap).map(|_| AtomicU8::new(0)).collect(),
            wg: WaitGroup::new(),
            twice,
        })
    }

    /// `go(f)` with a slot.
    pub fn go<F: FnOnce() + Send + 'static>(self: &Arc<Self>, f: F) {
        let slot = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(
            slot < self.started.len(),
            "stress: a round spawned more than {} goroutines (the ledger's room)",
            self.started.len()
        );
        if self.twice == Some(slot) {
            // The planted bug: a second goroutine counts into the same slot,
            // as if the scheduler had run one goroutine twice.
            self.spawn(slot, || {});
        }
        self.spawn(slot, f);
    }

    fn spawn<F: FnOnce() + Send + 'static>(self: &Arc<Self>, slot: usize, f: F) {
        self.wg.add(1);
        let l = self.clone();
        sched::go(move || {
            l.started[slot].fetch_add(1, Ordering::Relaxed);
            f();
            l.finished[slot].fetch_add(1, Ordering::Release);
            l.wg.done();
        });
    }

    /// Waits for every goroutine of the round and checks each ran exactly
    /// once; returns how many there were.
    pub fn wait_and_check(&self) -> u64 {
        self.wg.wait();
        let n = self.next.load(Ordering::Relaxed);
        for i in 0..n {
            let (s, f) = (
                self.started[i].load(Ordering::Relaxed),
                self.finished[i].load(Ordering::Acquire),
            );
            assert!(
                s == 1 && f == 1,
                "stress: goroutine #{i} of the round started {s} times and finished {f} times (want exactly once)"
            );
        }
        n as u64
    }
}
