//! `WaitGroup` (Go: sync.WaitGroup): wait for a collection of goroutines.
use core::ptr::NonNull;
use core::sync::atomic::{AtomicI64, Ordering};

use crate::lock::SpinLock;
use crate::sched::getg;
use crate::sched::glist::GQueue;
use crate::sched::{G, WaitReason};
use crate::sched::{gopark, goready};

/// Go: `sync.WaitGroup`. `add` before starting the goroutines, `done` in each,
/// `wait` blocks (parks) until the counter is zero.
pub struct WaitGroup {
    counter: AtomicI64,
    waiters: SpinLock<GQueue<G>>,
}

impl WaitGroup {
    pub const fn new() -> WaitGroup {
        WaitGroup {
            counter: AtomicI64::new(0),
            waiters: SpinLock::new(GQueue::new()),
        }
    }

    /// Adds `delta` (may be negative) to the counter; at zero, every waiter
    /// is readied. A negative counter panics, as in Go.
    pub fn add(&self, delta: i64) {
        let v = self.counter.fetch_add(delta, Ordering::AcqRel) + delta;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if v == 0 && delta != 0 {
            let ready = self.waiters.lock().take();
            let mut ready = ready;
            while let Some(g) = ready.pop_front() {
                goready(g);
            }
        }
    }

    /// `add(-1)`.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Blocks until the counter is zero.
    pub fn wait(&self) {
        crate::sched::safe_point();
        if self.counter.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut q = self.waiters.lock();
        // Re-check under the lock: `add` takes the waiters under it after
        // the counter reaches zero, so we either see zero here or get woken.
        if self.counter.load(Ordering::Acquire) == 0 {
            return;
        }
        let me = NonNull::new(getg()).expect("wait outside a goroutine");
        // SAFETY: the current goroutine is parked right after this and is on
        // no other list.
        unsafe { q.push_back(me) };
        // The lock is released on g0 by `gopark`'s unlock function, once we
        // are off our stack, so `add` cannot ready us before we have parked.
        core::mem::forget(q);
        let unlock = || {
            // SAFETY: we forgot the guard above: this releases that lock.
            unsafe { self.waiters.unlock_forgotten() };
            true
        };
        gopark(Some(&unlock), WaitReason::SyncWaitGroupWait);
    }

    /// The counter (for tests).
    pub fn count(&self) -> i64 {
        self.counter.load(Ordering::Acquire)
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}
