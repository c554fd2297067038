//! `Cond` (Go: sync/cond.go): goroutines wait for a condition on data a
//! [`Mutex`] guards, and are woken by `signal` (one) or `broadcast` (all).
//!
//! Go's algorithm, on the runtime's notify list (`sched::notifylist`): a
//! waiter takes a ticket while it still holds the Mutex, unlocks, waits for
//! its ticket, relocks. A signal or broadcast that comes between the unlock
//! and the park still counts (the ticket is already taken), so there is no
//! lost wake-up; and a broadcast wakes only the waiters that had a ticket,
//! not ones that arrive later. As in Go, `wait` may return without the
//! condition holding (another goroutine may have got the Mutex first):
//! always wait in a loop,
//!
//! ```ignore
//! let mut g = m.lock();
//! while !condition(&g) {
//!     g = cond.wait(g);
//! }
//! ```
//!
//! Unlike Go's `Cond`, which is bound to one `Locker` at construction, a
//! `Cond` here is passed the guard of whichever Mutex protects its
//! condition at each `wait` (use one Mutex per Cond, as in Go).
//!
//! # Memory model
//!
//! `signal`/`broadcast` -> the return of the `wait`s they wake (the notify
//! list's lock and `goready`); and `wait` returns holding the Mutex, so the
//! Mutex's unlock -> lock edge covers the condition's data.
use super::{Mutex, MutexGuard};
use crate::sched::{NotifyList, WaitReason};

/// Go: `sync.Cond`.
pub struct Cond {
    notify: NotifyList,
}

impl Cond {
    pub const fn new() -> Cond {
        Cond {
            notify: NotifyList::new(),
        }
    }

    /// Go: `Wait`: unlocks the guard's Mutex, parks until signalled, locks
    /// the Mutex again and returns its new guard.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let t = self.notify.add();
        let m: &'a Mutex<T> = MutexGuard::mutex(&guard);
        drop(guard);
        self.notify.wait(t, WaitReason::SyncCondWait);
        m.lock()
    }

    /// Go: `Signal`: wakes the longest-waiting goroutine, if any.
    pub fn signal(&self) {
        self.notify.notify_one();
    }

    /// Go: `Broadcast`: wakes every waiting goroutine.
    pub fn broadcast(&self) {
        self.notify.notify_all();
    }
}

impl Default for Cond {
    fn default() -> Self {
        Self::new()
    }
}
