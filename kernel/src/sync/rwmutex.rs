//! `RWMutex<T>` (Go: sync/rwmutex.go): many readers or one writer, and a
//! waiting writer blocks new readers, so a stream of readers cannot starve
//! writers.
//!
//! # Go's algorithm: `readerCount` and `readerWait`
//!
//! `reader_count` counts the readers holding or waiting for the lock. A
//! writer first takes `w` (a [`RawMutex`]: one writer at a time), then
//! subtracts [`RWMUTEX_MAX_READERS`] from `reader_count`: from that moment
//! the count is negative and every new `rlock` sees it and parks on
//! `reader_sem`. The value before the subtraction is the number of readers
//! still inside; the writer adds it to `reader_wait` and parks on
//! `writer_sem` unless it is zero. Each departing reader that sees a
//! negative count decrements `reader_wait`; the one that brings it to zero
//! wakes the writer. `unlock` adds `RWMUTEX_MAX_READERS` back (new readers
//! go straight in again), wakes the readers that queued meanwhile (the
//! count's value says how many), then releases `w`.
//!
//! # Memory model (happens-before)
//!
//! - `unlock` -> every later `rlock` and `lock` (the RMWs on
//!   `reader_count` release and acquire; parked readers are woken through
//!   the semaphore after them; `w` orders writer to writer).
//! - Every `runlock` -> the `lock` that follows it (`reader_wait`'s RMW
//!   chain ends in the reader that wakes the writer, all AcqRel).
//!
//! As in Go: "for any call to l.RLock on a sync.RWMutex variable l, there
//! is an n such that the n'th call to l.Unlock is synchronized before the
//! return from l.RLock, and the matching call to l.RUnlock is synchronized
//! before the return from call n+1 to l.Lock."
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use super::RawMutex;
use crate::lock::atomic::{AtomicI32, AtomicU32, Ordering};
use crate::sched::{WaitReason, semacquire, semrelease};

/// Go: `rwmutexMaxReaders`.
pub const RWMUTEX_MAX_READERS: i32 = 1 << 30;

/// Go: `sync.RWMutex` guarding a `T`.
pub struct RWMutex<T: ?Sized> {
    /// Held while a writer is pending or active (Go: `w`).
    w: RawMutex,
    /// Go: `writerSem`: the writer waits here for departing readers.
    writer_sem: AtomicU32,
    /// Go: `readerSem`: readers wait here for the writer.
    reader_sem: AtomicU32,
    /// Go: `readerCount`: readers in or waiting; negative while a writer
    /// is pending.
    reader_count: AtomicI32,
    /// Go: `readerWait`: readers the pending writer still waits for.
    reader_wait: AtomicI32,
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` (so `T: Sync`), a writer gets `&mut T` from
// any goroutine (so `T: Send`).
unsafe impl<T: ?Sized + Send> Send for RWMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RWMutex<T> {}

/// A read lock on an [`RWMutex`]; `runlock`s on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct RWMutexReadGuard<'a, T: ?Sized> {
    rw: &'a RWMutex<T>,
    _data: PhantomData<&'a T>,
}

/// The write lock on an [`RWMutex`]; unlocks on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct RWMutexWriteGuard<'a, T: ?Sized> {
    rw: &'a RWMutex<T>,
    _data: PhantomData<&'a mut T>,
}

impl<T> RWMutex<T> {
    pub const fn new(value: T) -> RWMutex<T> {
        RWMutex {
            w: RawMutex::new(),
            writer_sem: AtomicU32::new(0),
            reader_sem: AtomicU32::new(0),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RWMutex<T> {
    /// Go: `RLock`: shared access; parks while a writer is pending or in.
    pub fn rlock(&self) -> RWMutexReadGuard<'_, T> {
        if self.reader_count.fetch_add(1, Ordering::AcqRel) + 1 < 0 {
            // A writer is pending: wait for it (it counts us in its unlock).
            semacquire(&self.reader_sem, false, WaitReason::SyncRWMutexRLock);
        }
        RWMutexReadGuard {
            rw: self,
            _data: PhantomData,
        }
    }

    /// Go: `TryRLock`.
    pub fn try_rlock(&self) -> Option<RWMutexReadGuard<'_, T>> {
        let mut c = self.reader_count.load(Ordering::Relaxed);
        loop {
            if c < 0 {
                return None;
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(RWMutexReadGuard {
                        rw: self,
                        _data: PhantomData,
                    });
                }
                Err(v) => c = v,
            }
        }
    }

    /// Go: `RUnlock`.
    fn runlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::AcqRel) - 1;
        if r < 0 {
            self.runlock_slow(r);
        }
    }

    /// Go: `rUnlockSlow`: a writer is pending; the last departing reader
    /// wakes it.
    #[cold]
    fn runlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS {
            crate::panic::fatal(format_args!("sync: RUnlock of unlocked RWMutex"));
        }
        if self.reader_wait.fetch_sub(1, Ordering::AcqRel) - 1 == 0 {
            semrelease(&self.writer_sem, false);
        }
    }

    /// Go: `Lock`: exclusive access; new readers queue behind us.
    pub fn lock(&self) -> RWMutexWriteGuard<'_, T> {
        // First, resolve competition with other writers.
        self.w.lock();
        // Announce a pending writer to readers; `r` readers are still in.
        let r = self
            .reader_count
            .fetch_sub(RWMUTEX_MAX_READERS, Ordering::AcqRel);
        if r != 0 && self.reader_wait.fetch_add(r, Ordering::AcqRel) + r != 0 {
            semacquire(&self.writer_sem, false, WaitReason::SyncRWMutexLock);
        }
        RWMutexWriteGuard {
            rw: self,
            _data: PhantomData,
        }
    }

    /// Go: `TryLock`.
    pub fn try_lock(&self) -> Option<RWMutexWriteGuard<'_, T>> {
        if !self.w.try_lock() {
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -RWMUTEX_MAX_READERS, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            self.w.unlock();
            return None;
        }
        Some(RWMutexWriteGuard {
            rw: self,
            _data: PhantomData,
        })
    }

    /// Go: `Unlock`.
    fn unlock(&self) {
        // Announce to readers there is no active writer.
        let r = self
            .reader_count
            .fetch_add(RWMUTEX_MAX_READERS, Ordering::AcqRel)
            + RWMUTEX_MAX_READERS;
        if r >= RWMUTEX_MAX_READERS {
            crate::panic::fatal(format_args!("sync: Unlock of unlocked RWMutex"));
        }
        // Wake the readers that queued behind us.
        for _ in 0..r {
            semrelease(&self.reader_sem, false);
        }
        // Let other writers proceed.
        self.w.unlock();
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized> Deref for RWMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock: no writer is in, readers only share `&T`.
        unsafe { &*self.rw.data.get() }
    }
}

impl<T: ?Sized> Drop for RWMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.runlock();
    }
}

impl<T: ?Sized> Deref for RWMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock: nobody else is in.
        unsafe { &*self.rw.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RWMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock, and `&mut self`: the only access.
        unsafe { &mut *self.rw.data.get() }
    }
}

impl<T: ?Sized> Drop for RWMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.rw.unlock();
    }
}
