//! `Semaphore`: a counting semaphore for goroutines, the runtime semaphore
//! (`sched::sema`, Go's runtime/sema.go) behind a guard. Go programs get
//! one from `golang.org/x/sync/semaphore` or a buffered channel; this is the
//! runtime's own, with its FIFO queue: waiters get units in arrival order
//! (a unit released while nobody waits may go to a newcomer first).
//!
//! # Memory model
//!
//! A `release` -> the `acquire` that takes the unit it added (the count is
//! SeqCst RMWs; a parked acquirer is woken through the semtable's lock and
//! `goready`).
use crate::lock::atomic::{AtomicU32, Ordering};
use crate::sched::{WaitReason, semacquire, semrelease};

/// A counting semaphore: at most `n` holders at once.
pub struct Semaphore {
    /// The semaphore word: units available.
    count: AtomicU32,
}

/// One unit of a [`Semaphore`]; released on drop.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `n` units available.
    pub const fn new(n: u32) -> Semaphore {
        Semaphore {
            count: AtomicU32::new(n),
        }
    }

    /// Takes a unit, parking (`semacquire` in a dump) until one is free.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        semacquire(&self.count, false, WaitReason::Semacquire);
        SemaphorePermit { sem: self }
    }

    /// Takes a unit if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut v = self.count.load(Ordering::SeqCst);
        while v > 0 {
            match self
                .count
                .compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(SemaphorePermit { sem: self }),
                Err(now) => v = now,
            }
        }
        None
    }

    /// Adds a unit (Go's `semrelease`), waking the oldest waiter: the
    /// counterpart of a permit kept with [`SemaphorePermit::forget`], or a
    /// semaphore created with 0 units used as a gate.
    pub fn release(&self) {
        semrelease(&self.count, false);
    }

    /// Units free right now (a snapshot).
    pub fn available(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the unit taken for good (the permit is not released).
    pub fn forget(self) {
        core::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release();
    }
}
