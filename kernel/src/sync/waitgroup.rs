//! `WaitGroup` (Go: sync/waitgroup.go): wait for a collection of
//! goroutines to finish.
//!
//! Go's algorithm: one 64-bit state word, the counter in the high half and
//! the number of waiters in the low half, and a semaphore (`sched::sema`)
//! the waiters park on. `wait` with a non-zero counter adds itself to the
//! waiters with a CAS on the whole word (so it cannot miss the counter
//! reaching zero) and parks; the `add` that brings the counter to zero
//! sees the waiters in the same word, resets it to 0 and releases the
//! semaphore once per waiter.
//!
//! # Memory model
//!
//! Every `done` (`add`) -> the return of every `wait` it lets through
//! (Go: "a call to Done is synchronized before the return of any Wait call
//! that it unblocks"): the state RMWs are AcqRel, `wait`'s load Acquire,
//! and a parked waiter is woken through the semaphore after the reset.
use crate::lock::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sched::{WaitReason, semacquire_watched, semrelease};

/// Go: `sync.WaitGroup`. `add` before starting the goroutines, `done` in
/// each, `wait` parks until the counter is zero.
pub struct WaitGroup {
    /// Go: `state`: counter (high 32 bits, signed) and waiters (low 32).
    state: AtomicU64,
    /// Go: `sema`.
    sema: AtomicU32,
}

impl WaitGroup {
    pub const fn new() -> WaitGroup {
        WaitGroup {
            state: AtomicU64::new(0),
            sema: AtomicU32::new(0),
        }
    }

    /// Go: `Add`: adds `delta` (may be negative) to the counter; at zero,
    /// every waiter is released. A negative counter is a panic (`panic:
    /// sync: negative WaitGroup counter`), as in Go; the report names the
    /// caller's line (`track_caller`), not this file's.
    #[track_caller]
    pub fn add(&self, delta: i64) {
        // The counter is 32 bits, as in Go: the shift wraps the same way.
        let state = self
            .state
            .fetch_add((delta as u64) << 32, Ordering::AcqRel)
            .wrapping_add((delta as u64) << 32);
        let v = (state >> 32) as i32;
        let w = state as u32;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if w != 0 && delta > 0 && v as i64 == delta {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // We brought the counter to zero with waiters: nothing else may
        // touch the state now (no Add concurrent with Wait; Wait does not
        // add a waiter when it sees zero). A cheap misuse check, as Go's:
        if self.state.load(Ordering::Acquire) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        // Reset the waiters to 0 and release each.
        self.state.store(0, Ordering::Release);
        for _ in 0..w {
            semrelease(&self.sema, false);
        }
    }

    /// Go: `Done`: `add(-1)`.
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// Go: `Wait`: parks (`sync.WaitGroup.Wait` in a dump) until the
    /// counter is zero.
    pub fn wait(&self) {
        crate::sched::safe_point();
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if (state >> 32) as i32 == 0 {
                return;
            }
            // Count ourselves as a waiter.
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    semacquire_watched(
                        &self.sema,
                        false,
                        WaitReason::SyncWaitGroupWait,
                        Some((Self::counter_zero, self as *const WaitGroup as usize)),
                    );
                    if self.state.load(Ordering::Acquire) != 0 {
                        panic!("sync: WaitGroup is reused before previous Wait has returned");
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// The watchdog's "would a waiter proceed now?" (`sched/watchdog.rs`):
    /// the counter is 0. `wg` is the address of a WaitGroup a goroutine is
    /// parked on (so alive).
    fn counter_zero(wg: usize) -> bool {
        // SAFETY: the watchdog passes back the address `wait` recorded,
        // while the waiter that holds the WaitGroup is still parked.
        let wg = unsafe { &*(wg as *const WaitGroup) };
        (wg.state.load(Ordering::Acquire) >> 32) as i32 == 0
    }

    /// The counter (a snapshot, for tests).
    pub fn count(&self) -> i64 {
        (self.state.load(Ordering::Acquire) >> 32) as i32 as i64
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}
