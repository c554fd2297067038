//! `Once` (Go: sync/once.go): run a function exactly once, however many
//! goroutines ask at the same time.
//!
//! Go's algorithm: a `done` word for the fast path and a Mutex for the slow
//! one. The first goroutine through the Mutex runs `f` and sets `done`
//! *after* `f` returns; the others wait on the Mutex meanwhile (parked, as
//! `sync.Once.Do` in a dump), then see `done` and return. (Go's comment: a
//! CAS on `done` would be wrong, because a second caller must not return
//! before `f` has finished.) A panic inside `f` stops the kernel, as every
//! panic does (no unwinding): there is no "`f` panicked, Once is done
//! anyway" case to handle.
//!
//! # Memory model
//!
//! The return of `f` -> the return of every `call_once` (Go: "the
//! completion of a single call of f() from once.Do(f) is synchronized
//! before the return of any call of once.Do(f)"): `done` is stored with
//! `Release` after `f`, and loaded with `Acquire`; a caller that waited
//! also gets the Mutex's unlock -> lock edge.
use super::RawMutex;
use crate::lock::atomic::{AtomicU32, Ordering};
use crate::sched::WaitReason;

/// Go: `sync.Once`.
pub struct Once {
    /// Go: `done`: set once `f` has returned.
    done: AtomicU32,
    m: RawMutex,
}

impl Once {
    pub const fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::with_reason(WaitReason::SyncOnce),
        }
    }

    /// Go: `Do`: runs `f` if no call of `call_once` on this `Once` has run
    /// one yet; otherwise waits until that one has returned.
    #[inline]
    pub fn call_once(&self, f: impl FnOnce()) {
        if self.done.load(Ordering::Acquire) == 0 {
            self.call_once_slow(f);
        }
    }

    /// Go: `doSlow`.
    #[cold]
    fn call_once_slow(&self, f: impl FnOnce()) {
        self.m.lock();
        if self.done.load(Ordering::Relaxed) == 0 {
            f();
            self.done.store(1, Ordering::Release);
        }
        self.m.unlock();
    }

    /// Has `f` run (and returned)?
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire) != 0
    }
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}
