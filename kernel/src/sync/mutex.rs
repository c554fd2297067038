//! `Mutex<T>` and `RawMutex` (Go: sync/mutex.go): a sleeping lock for
//! goroutines, with Go's state word and Go's two modes.
//!
//! The state machine is [`SemaMutex`], generic over the semaphore it parks
//! on ([`MutexSema`]: Go's `runtime_SemacquireMutex`, `runtime_Semrelease`,
//! `runtime_nanotime`, `runtime_canSpin`, `runtime_doSpin`, the functions
//! sync/runtime.go links to the runtime). In the kernel that is the
//! runtime semaphore (`sched::sema`, the semtable) and [`RawMutex`] is
//! `SemaMutex<RuntimeSema>`; on the host the same code runs on a model
//! semaphore, in unit tests and under loom (`make test-loom`).
//!
//! # The state word (Go: `m.state`)
//!
//! ```text
//! bit 0  locked     someone holds it
//! bit 1  woken      a waiter is awake (woken or spinning): Unlock need not wake another
//! bit 2  starving   starvation mode
//! 3..32  waiters    goroutines parked (or about to park) on the semaphore
//! ```
//!
//! # Normal mode and starvation mode (Go's design comment, abridged)
//!
//! In **normal mode** waiters queue FIFO, but a woken waiter does not own
//! the mutex: it competes with goroutines that are arriving right now, and
//! those have an advantage (they are running on a CPU, and there may be
//! many). A woken waiter that loses is requeued at the *front* of the queue
//! (`lifo`). Newcomers may also spin a few rounds first (only where Go's
//! `canSpin` allows: `sched::spin`), setting `woken` so the unlocker does
//! not wake a sleeper it does not need.
//!
//! A waiter that fails to get the mutex for more than 1 ms
//! ([`STARVATION_THRESHOLD_NS`]) switches it to **starvation mode**: the
//! unlocker hands ownership directly to the waiter at the head of the queue
//! (`semrelease(handoff)`, which also yields to it). Newcomers do not try
//! to take it, nor spin: they queue at the tail. The waiter that receives
//! it sets `locked` itself (the mutex stays "locked" while `starving` is
//! set, so nobody else takes it in between). Starvation mode ends when the
//! waiter that receives the mutex waited less than 1 ms, or is the last
//! waiter: two goroutines could otherwise hand it back and forth in lock
//! step forever. Normal mode is much faster (a goroutine can take the mutex
//! many times in a row); starvation mode bounds the tail latency.
//!
//! # Memory model (happens-before)
//!
//! - `unlock` -> every later `lock` that gets the mutex: `unlock`'s RMW on
//!   the state is `Release`, and the CAS (or, after a hand-off, the RMW)
//!   that takes it is `Acquire` and reads that RMW or a later one in its
//!   release sequence (every write to the state is an RMW). After a
//!   hand-off the semaphore (the semtable's lock, `goready`) orders the two
//!   as well. So what a goroutine wrote before `unlock` is visible to the
//!   next holder after its `lock`, as in Go's memory model ("for any
//!   sync.Mutex l and n < m, call n of l.Unlock() is synchronized before
//!   call m of l.Lock() returns").
//! - A failed `try_lock` gives no edge.
//!
//! The atomics come from `crate::lock::atomic` so that loom sees them.
use crate::lock::atomic::{AtomicU32, Ordering};

/// Go: `mutexLocked`.
const MUTEX_LOCKED: u32 = 1;
/// Go: `mutexWoken`.
const MUTEX_WOKEN: u32 = 1 << 1;
/// Go: `mutexStarving`.
const MUTEX_STARVING: u32 = 1 << 2;
/// Go: `mutexWaiterShift`.
const MUTEX_WAITER_SHIFT: u32 = 3;

/// Go: `starvationThresholdNs`: a waiter that waited longer switches the
/// mutex to starvation mode.
pub const STARVATION_THRESHOLD_NS: u64 = 1_000_000;

/// What a [`SemaMutex`] needs from the runtime (Go: sync/runtime.go).
pub trait MutexSema {
    /// Go: `runtime_SemacquireMutex(&m.sema, lifo, 1)`: takes a unit,
    /// parking until there is one; `lifo` waits at the head of the queue.
    fn acquire(&self, lifo: bool);
    /// Go: `runtime_Semrelease(&m.sema, handoff, 1)`: adds a unit and wakes
    /// the first waiter; `handoff` gives the unit to it directly.
    fn release(&self, handoff: bool);
    /// Go: `runtime_nanotime`.
    fn now_ns(&self) -> u64;
    /// Go: `runtime_canSpin(iter)`.
    fn can_spin(&self, iter: u32) -> bool;
    /// Go: `runtime_doSpin`.
    fn do_spin(&self);
    /// Go: `fatal`/`throw`: misuse or corruption, stops the kernel.
    fn fatal(&self, msg: &'static str) -> !;
}

/// Counters of one mutex's slow path (for tests, benchmarks, demos).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MutexStats {
    /// Switches to starvation mode (a waiter waited > 1 ms).
    pub starvation_entries: u32,
    /// Switches back to normal mode.
    pub starvation_exits: u32,
    /// Direct hand-offs: a waiter received ownership from the unlocker.
    pub handoffs: u32,
    /// Times a goroutine parked on the semaphore.
    pub sleeps: u32,
}

/// Go's `sync.Mutex` on the semaphore `S` (see the module documentation).
pub struct SemaMutex<S> {
    state: AtomicU32,
    sema: S,
    starvation_entries: AtomicU32,
    starvation_exits: AtomicU32,
    handoffs: AtomicU32,
    sleeps: AtomicU32,
}

impl<S: MutexSema> SemaMutex<S> {
    /// An unlocked mutex parking on `sema`.
    #[cfg(not(loom))]
    pub const fn with_sema(sema: S) -> Self {
        SemaMutex {
            state: AtomicU32::new(0),
            sema,
            starvation_entries: AtomicU32::new(0),
            starvation_exits: AtomicU32::new(0),
            handoffs: AtomicU32::new(0),
            sleeps: AtomicU32::new(0),
        }
    }

    /// An unlocked mutex parking on `sema` (not `const` under loom).
    #[cfg(loom)]
    pub fn with_sema(sema: S) -> Self {
        SemaMutex {
            state: AtomicU32::new(0),
            sema,
            starvation_entries: AtomicU32::new(0),
            starvation_exits: AtomicU32::new(0),
            handoffs: AtomicU32::new(0),
            sleeps: AtomicU32::new(0),
        }
    }

    /// Go: `Lock`: the fast path is one CAS on an unlocked, uncontended
    /// mutex.
    #[inline]
    pub fn lock(&self) {
        if self
            .state
            .compare_exchange(0, MUTEX_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_slow();
    }

    /// Go: `TryLock`: never waits; fails if locked or starving (then the
    /// mutex belongs to the queue's head).
    pub fn try_lock(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (MUTEX_LOCKED | MUTEX_STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(
                old,
                old | MUTEX_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Go: `lockSlow`, line for line.
    #[cold]
    fn lock_slow(&self) {
        let mut wait_start: u64 = 0;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // Spin only in normal mode while it is locked: in starvation
            // mode ownership goes to the waiters, spinning cannot win it.
            if old & (MUTEX_LOCKED | MUTEX_STARVING) == MUTEX_LOCKED && self.sema.can_spin(iter) {
                // Set `woken` so Unlock does not wake a sleeper while we
                // are here to take the mutex ourselves.
                if !awoke
                    && old & MUTEX_WOKEN == 0
                    && old >> MUTEX_WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(
                            old,
                            old | MUTEX_WOKEN,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    awoke = true;
                }
                self.sema.do_spin();
                iter += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Do not take a starving mutex: newcomers must queue.
            if old & MUTEX_STARVING == 0 {
                new |= MUTEX_LOCKED;
            }
            if old & (MUTEX_LOCKED | MUTEX_STARVING) != 0 {
                new = new.wrapping_add(1 << MUTEX_WAITER_SHIFT);
            }
            // Switch to starvation mode, but not if it is unlocked right
            // now: Unlock expects a starving mutex to have waiters, which
            // would not be true then.
            if starving && old & MUTEX_LOCKED != 0 {
                new |= MUTEX_STARVING;
            }
            if awoke {
                // We were woken (or set `woken` spinning): clear it either way.
                if new & MUTEX_WOKEN == 0 {
                    self.sema.fatal("sync: inconsistent mutex state");
                }
                new &= !MUTEX_WOKEN;
            }
            if self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                if old & (MUTEX_LOCKED | MUTEX_STARVING) == 0 {
                    break; // locked the mutex with the CAS
                }
                if new & MUTEX_STARVING != 0 && old & MUTEX_STARVING == 0 {
                    self.starvation_entries.fetch_add(1, Ordering::Relaxed);
                }
                // A waiter that waited before goes to the front of the queue.
                let lifo = wait_start != 0;
                if wait_start == 0 {
                    wait_start = self.sema.now_ns();
                }
                self.sleeps.fetch_add(1, Ordering::Relaxed);
                self.sema.acquire(lifo);
                starving = starving
                    || self.sema.now_ns().saturating_sub(wait_start) > STARVATION_THRESHOLD_NS;
                old = self.state.load(Ordering::Relaxed);
                if old & MUTEX_STARVING != 0 {
                    // Handed off to us, but the state is not consistent yet:
                    // `locked` is not set and we still count as a waiter.
                    if old & (MUTEX_LOCKED | MUTEX_WOKEN) != 0 || old >> MUTEX_WAITER_SHIFT == 0 {
                        self.sema.fatal("sync: inconsistent mutex state");
                    }
                    let mut delta = MUTEX_LOCKED.wrapping_sub(1 << MUTEX_WAITER_SHIFT);
                    if !starving || old >> MUTEX_WAITER_SHIFT == 1 {
                        // Exit starvation mode, here and considering our wait
                        // time (see the module documentation).
                        delta = delta.wrapping_sub(MUTEX_STARVING);
                        self.starvation_exits.fetch_add(1, Ordering::Relaxed);
                    }
                    self.handoffs.fetch_add(1, Ordering::Relaxed);
                    self.state.fetch_add(delta, Ordering::Acquire);
                    break;
                }
                awoke = true;
                iter = 0;
            } else {
                old = self.state.load(Ordering::Relaxed);
            }
        }
    }

    /// Go: `Unlock`. Unlocking an unlocked mutex is a fatal error (`fatal
    /// error: sync: unlock of unlocked mutex`). Any goroutine may unlock
    /// (a mutex is not tied to the goroutine that locked it).
    #[inline]
    pub fn unlock(&self) {
        // Fast path: drop the lock bit.
        let new = self
            .state
            .fetch_sub(MUTEX_LOCKED, Ordering::Release)
            .wrapping_sub(MUTEX_LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    /// Go: `unlockSlow`.
    #[cold]
    fn unlock_slow(&self, new: u32) {
        if new.wrapping_add(MUTEX_LOCKED) & MUTEX_LOCKED == 0 {
            self.sema.fatal("sync: unlock of unlocked mutex");
        }
        if new & MUTEX_STARVING == 0 {
            let mut old = new;
            loop {
                // No waiters, or one is already awake or took the lock, or
                // it went starving (then the hand-off chain is the waiters',
                // we unlocked before it began): nobody to wake.
                if old >> MUTEX_WAITER_SHIFT == 0
                    || old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING) != 0
                {
                    return;
                }
                // Take the right to wake someone.
                let new = old.wrapping_sub(1 << MUTEX_WAITER_SHIFT) | MUTEX_WOKEN;
                match self
                    .state
                    .compare_exchange(old, new, Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => {
                        self.sema.release(false);
                        return;
                    }
                    Err(v) => old = v,
                }
            }
        } else {
            // Starvation mode: hand ownership to the head waiter and yield
            // to it. `locked` stays clear (the waiter sets it), but
            // `starving` keeps newcomers off.
            self.sema.release(true);
        }
    }

    /// Is it in starvation mode right now? (A racy snapshot: tests.)
    pub fn is_starving(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MUTEX_STARVING != 0
    }

    /// Is it locked right now? (A racy snapshot.)
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MUTEX_LOCKED != 0
    }

    /// The raw state word (tests of the state machine).
    pub fn state(&self) -> u32 {
        self.state.load(Ordering::Relaxed)
    }

    /// The slow path's counters so far.
    pub fn stats(&self) -> MutexStats {
        MutexStats {
            starvation_entries: self.starvation_entries.load(Ordering::Relaxed),
            starvation_exits: self.starvation_exits.load(Ordering::Relaxed),
            handoffs: self.handoffs.load(Ordering::Relaxed),
            sleeps: self.sleeps.load(Ordering::Relaxed),
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel::{Mutex, MutexGuard, RawMutex, RuntimeSema};

#[cfg(target_os = "none")]
mod kernel {
    use core::cell::UnsafeCell;
    use core::marker::PhantomData;
    use core::ops::{Deref, DerefMut};

    use super::{MutexSema, MutexStats, SemaMutex};
    use crate::lock::atomic::AtomicU32;
    use crate::sched::WaitReason;

    /// The runtime semaphore as a Mutex's (Go: `m.sema`): its word, and the
    /// wait reason its sleepers show in dumps.
    pub struct RuntimeSema {
        word: AtomicU32,
        reason: WaitReason,
    }

    impl RuntimeSema {
        pub const fn new(reason: WaitReason) -> RuntimeSema {
            RuntimeSema {
                word: AtomicU32::new(0),
                reason,
            }
        }
    }

    impl MutexSema for RuntimeSema {
        fn acquire(&self, lifo: bool) {
            crate::sched::semacquire(&self.word, lifo, self.reason);
        }
        fn release(&self, handoff: bool) {
            crate::sched::semrelease(&self.word, handoff);
        }
        fn now_ns(&self) -> u64 {
            crate::clock::now_ns()
        }
        fn can_spin(&self, iter: u32) -> bool {
            crate::sched::sync_can_spin(iter)
        }
        fn do_spin(&self) {
            crate::sched::sync_do_spin()
        }
        fn fatal(&self, msg: &'static str) -> ! {
            crate::panic::fatal(format_args!("{msg}"))
        }
    }

    /// Go: `sync.Mutex` without the data: `lock`/`unlock`/`try_lock`, for
    /// locking protocols a guard cannot express. Prefer [`Mutex<T>`].
    pub type RawMutex = SemaMutex<RuntimeSema>;

    impl RawMutex {
        /// An unlocked mutex; its sleepers show `sync.Mutex.Lock`.
        pub const fn new() -> RawMutex {
            SemaMutex::with_sema(RuntimeSema::new(WaitReason::SyncMutexLock))
        }

        /// An unlocked mutex whose sleepers show `reason` (`Once`'s).
        pub(crate) const fn with_reason(reason: WaitReason) -> RawMutex {
            SemaMutex::with_sema(RuntimeSema::new(reason))
        }
    }

    /// Go: `sync.Mutex` guarding a `T`: `lock()` returns a guard that
    /// derefs to the data and unlocks when dropped.
    pub struct Mutex<T: ?Sized> {
        raw: RawMutex,
        data: UnsafeCell<T>,
    }

    // SAFETY: the mutex hands out access to `T` to one goroutine at a time,
    // so sharing it moves `T` between goroutines (CPUs): `T: Send` suffices.
    unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
    // SAFETY: as above.
    unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

    /// The proof of holding a [`Mutex`]; unlocks on drop.
    #[must_use = "dropping the guard unlocks the mutex at once"]
    pub struct MutexGuard<'a, T: ?Sized> {
        mutex: &'a Mutex<T>,
        // `&mut T`'s auto traits: a shared guard gives `&T` to every
        // sharer, so the guard is `Sync` only if `T` is.
        _data: PhantomData<&'a mut T>,
    }

    impl<T> Mutex<T> {
        pub const fn new(value: T) -> Mutex<T> {
            Mutex {
                raw: RawMutex::new(),
                data: UnsafeCell::new(value),
            }
        }

        pub fn into_inner(self) -> T {
            self.data.into_inner()
        }
    }

    impl<T: ?Sized> Mutex<T> {
        /// Go: `Lock`: parks until the mutex is ours.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.raw.lock();
            MutexGuard {
                mutex: self,
                _data: PhantomData,
            }
        }

        /// Go: `TryLock`.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.raw.try_lock().then(|| MutexGuard {
                mutex: self,
                _data: PhantomData,
            })
        }

        /// No locking needed: `&mut self` proves nobody else has it.
        pub fn get_mut(&mut self) -> &mut T {
            self.data.get_mut()
        }

        /// Mode switches, hand-offs and sleeps so far.
        pub fn stats(&self) -> MutexStats {
            self.raw.stats()
        }

        /// The mutex under the data (state snapshots for tests).
        pub fn raw(&self) -> &RawMutex {
            &self.raw
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    impl<'a, T: ?Sized> MutexGuard<'a, T> {
        /// The mutex this guard holds (`Cond::wait` unlocks and relocks it).
        pub(crate) fn mutex(g: &Self) -> &'a Mutex<T> {
            g.mutex
        }
    }

    impl<T: ?Sized> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard proves we hold the mutex.
            unsafe { &*self.mutex.data.get() }
        }
    }

    impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the guard proves we hold the mutex, and `&mut self`
            // that this is the only access through it.
            unsafe { &mut *self.mutex.data.get() }
        }
    }

    impl<T: ?Sized> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            self.mutex.raw.unlock();
        }
    }
}

/// Host unit tests: the real state machine on std threads, parking on a
/// semaphore of std's Mutex and Condvar with the semtable's semantics
/// (FIFO, LIFO requeue, hand-off).
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Condvar, Mutex as StdMutex};

    #[derive(Default)]
    struct State {
        count: u32,
        queue: VecDeque<usize>,
        /// Per waiter id: (woken, handed the unit).
        waiters: Vec<(bool, bool)>,
    }

    /// The semtable's contract for one address, on std primitives.
    #[derive(Default)]
    struct StdSema {
        st: StdMutex<State>,
        cv: Condvar,
        spin: bool,
    }

    impl MutexSema for StdSema {
        fn acquire(&self, lifo: bool) {
            let mut st = self.st.lock().unwrap();
            let id = st.waiters.len();
            st.waiters.push((false, false));
            loop {
                if st.count > 0 {
                    st.count -= 1;
                    return;
                }
                if lifo {
                    st.queue.push_front(id);
                } else {
                    st.queue.push_back(id);
                }
                while !st.waiters[id].0 {
                    st = self.cv.wait(st).unwrap();
                }
                st.waiters[id].0 = false;
                if st.waiters[id].1 {
                    return;
                }
            }
        }
        fn release(&self, handoff: bool) {
            let mut st = self.st.lock().unwrap();
            st.count += 1;
            if let Some(id) = st.queue.pop_front() {
                st.waiters[id].0 = true;
                if handoff {
                    st.count -= 1;
                    st.waiters[id].1 = true;
                }
                self.cv.notify_all();
            }
        }
        fn now_ns(&self) -> u64 {
            std::time::Instant::now()
                .duration_since(*START.get_or_init(std::time::Instant::now))
                .as_nanos() as u64
        }
        fn can_spin(&self, iter: u32) -> bool {
            self.spin && iter < 4
        }
        fn do_spin(&self) {
            std::hint::spin_loop();
        }
        fn fatal(&self, msg: &'static str) -> ! {
            panic!("fatal error: {msg}")
        }
    }

    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

    fn mutex(spin: bool) -> SemaMutex<StdSema> {
        SemaMutex::with_sema(StdSema {
            spin,
            ..Default::default()
        })
    }

    #[test]
    fn uncontended_lock_unlock_try_lock() {
        let m = mutex(false);
        assert!(m.try_lock());
        assert!(!m.try_lock(), "try_lock of a locked mutex succeeded");
        assert_eq!(m.state(), MUTEX_LOCKED);
        m.unlock();
        assert_eq!(m.state(), 0);
        m.lock();
        assert!(m.is_locked());
        m.unlock();
        assert_eq!(m.stats(), MutexStats::default());
    }

    #[test]
    #[should_panic(expected = "fatal error: sync: unlock of unlocked mutex")]
    fn unlock_of_unlocked_is_fatal() {
        mutex(false).unlock();
    }

    /// Mutual exclusion and no lost wake-up under real contention, with and
    /// without spinning; holders sleep past 1 ms now and then so starvation
    /// mode engages, and the state is clean at the end.
    fn contend(spin: bool) -> MutexStats {
        let m = Arc::new(mutex(spin));
        let inside = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (m, inside, total) = (m.clone(), inside.clone(), total.clone());
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        m.lock();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        if i % 500 == t {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                        total.fetch_add(1, Ordering::Relaxed);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        m.unlock();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total.load(Ordering::Relaxed), 8_000);
        assert_eq!(m.state(), 0, "state not clean after the last unlock");
        m.stats()
    }

    #[test]
    fn contention_without_spinning() {
        let s = contend(false);
        assert!(s.sleeps > 0, "{s:?}");
        // 2 ms holds with three others queued: someone waits > 1 ms.
        assert!(s.starvation_entries > 0 && s.handoffs > 0, "{s:?}");
        // Clean at the end: every switch to starvation mode was undone.
        assert_eq!(s.starvation_exits, s.starvation_entries, "{s:?}");
    }

    #[test]
    fn contention_with_spinning() {
        let s = contend(true);
        assert_eq!(s.starvation_exits, s.starvation_entries, "{s:?}");
    }
}

/// loom models of the state machine: the real `SemaMutex` code on loom's
/// atomics, parking on a model of the semtable's contract for one address
/// (FIFO, LIFO requeue, hand-off) built from loom's Mutex and Condvar, so a
/// lost wake-up shows up as loom's deadlock report and a double holder as a
/// data race on the guarded cell (a missing Acquire/Release on the state
/// word does). Bounds: the two-goroutine models are exhaustive (no
/// preemption bound: 241 and 3,077 executions); the three-goroutine model
/// has preemption bound 4 (19,698 executions, ~3 s). Each was checked to
/// fail on a planted bug: a lost wake-up (deadlock), a `starving` bit that
/// is never cleared, Relaxed instead of Acquire/Release (causality
/// violation).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::{Arc, Condvar, Mutex as LoomMutex};
    use loom::thread;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, AtomicU64};

    const PREEMPTION_BOUND: usize = 4;

    #[derive(Default)]
    struct State {
        count: u32,
        queue: VecDeque<usize>,
        /// Per waiter: (woken, handed the unit).
        waiters: Vec<(bool, bool)>,
    }

    /// The semaphore (see the module comment). `clock_step`: how far the
    /// model clock moves per reading (2 ms: every waiter that slept once is
    /// starving; 0: never). The clock is a std atomic on purpose: it is not
    /// part of the protocol, and loom would only multiply the interleavings.
    struct ModelSema {
        st: LoomMutex<State>,
        cv: Condvar,
        clock: AtomicU64,
        clock_step: u64,
        spin_rounds: u32,
    }

    impl MutexSema for ModelSema {
        fn acquire(&self, lifo: bool) {
            let mut st = self.st.lock().unwrap();
            let id = st.waiters.len();
            st.waiters.push((false, false));
            loop {
                if st.count > 0 {
                    st.count -= 1;
                    return;
                }
                if lifo {
                    st.queue.push_front(id);
                } else {
                    st.queue.push_back(id);
                }
                while !st.waiters[id].0 {
                    st = self.cv.wait(st).unwrap();
                }
                st.waiters[id].0 = false;
                if st.waiters[id].1 {
                    return;
                }
            }
        }
        fn release(&self, handoff: bool) {
            let mut st = self.st.lock().unwrap();
            st.count += 1;
            if let Some(id) = st.queue.pop_front() {
                st.waiters[id].0 = true;
                if handoff {
                    st.count -= 1;
                    st.waiters[id].1 = true;
                }
                self.cv.notify_all();
            }
        }
        fn now_ns(&self) -> u64 {
            self.clock
                .fetch_add(self.clock_step, std::sync::atomic::Ordering::Relaxed)
        }
        fn can_spin(&self, iter: u32) -> bool {
            iter < self.spin_rounds
        }
        fn do_spin(&self) {
            crate::lock::atomic::spin_loop();
        }
        fn fatal(&self, msg: &'static str) -> ! {
            panic!("fatal error: {msg}")
        }
    }

    struct World {
        m: SemaMutex<ModelSema>,
        data: UnsafeCell<u32>,
    }

    // SAFETY: `data` is only touched with `m` held (loom checks it).
    unsafe impl Sync for World {}

    impl World {
        fn new(clock_step: u64, spin_rounds: u32) -> Arc<World> {
            Arc::new(World {
                m: SemaMutex::with_sema(ModelSema {
                    st: LoomMutex::new(State::default()),
                    cv: Condvar::new(),
                    clock: AtomicU64::new(1),
                    clock_step,
                    spin_rounds,
                }),
                data: UnsafeCell::new(0),
            })
        }

        fn critical_section(&self) {
            self.m.lock();
            self.bump();
            self.m.unlock();
        }

        /// The guarded increment (caller holds `m`).
        fn bump(&self) {
            // SAFETY: the caller holds `m`; a second holder would be a
            // concurrent access, which loom's cell reports.
            self.data.with_mut(|d| unsafe { *d += 1 });
        }

        /// The guarded value, once every goroutine is joined.
        fn value(&self) -> u32 {
            // SAFETY: every other thread was joined: nobody else accesses it.
            self.data.with(|d| unsafe { *d })
        }
    }

    /// Runs a model, counting executions (printed with `--nocapture`).
    fn model(name: &str, bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
        crate::lock::loom_check::check(name, bound, f)
    }

    /// Two goroutines, one of them locking twice: mutual exclusion, no lost
    /// wake-up, a clean state word at the end; normal mode, with a spin
    /// round (the `woken` bit set by a spinner).
    #[test]
    fn loom_mutex_normal_mode() {
        model("loom_mutex_normal_mode", None, || {
            let w = World::new(0, 1);
            let w1 = w.clone();
            let t = thread::spawn(move || w1.critical_section());
            w.critical_section();
            w.critical_section();
            t.join().unwrap();
            assert_eq!(w.value(), 3);
            assert_eq!(w.m.state(), 0, "state word not clean");
            assert_eq!(w.m.stats().starvation_entries, 0);
        });
    }

    /// The starvation path: every waiter that slept once has waited "2 ms".
    /// Main holds the mutex, T sleeps on it; main unlocks (waking T) and
    /// relocks before T runs, so T loses the race, switches the mutex to
    /// starvation mode and requeues at the head; main's next unlock hands
    /// it over directly. Across the explored executions the hand-off must
    /// happen (else the model did not cover it), and in every one the mode
    /// must end with the last waiter (state clean).
    #[test]
    fn loom_mutex_starvation_handoff() {
        static HANDOFF_SEEN: AtomicBool = AtomicBool::new(false);
        static SWITCH_SEEN: AtomicBool = AtomicBool::new(false);
        model("loom_mutex_starvation_handoff", None, || {
            let w = World::new(2_000_000, 0);
            w.m.lock();
            let w1 = w.clone();
            let t = thread::spawn(move || w1.critical_section());
            // Let T get to sleep on the mutex (in some executions).
            thread::yield_now();
            w.m.unlock();
            w.m.lock();
            w.bump();
            w.m.unlock();
            t.join().unwrap();
            assert_eq!(w.value(), 2);
            assert_eq!(w.m.state(), 0, "state word not clean: starving stuck?");
            let s = w.m.stats();
            assert_eq!(s.starvation_entries, s.starvation_exits, "{s:?}");
            if s.starvation_entries > 0 {
                SWITCH_SEEN.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if s.handoffs > 0 {
                HANDOFF_SEEN.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(SWITCH_SEEN.load(std::sync::atomic::Ordering::Relaxed));
        assert!(HANDOFF_SEEN.load(std::sync::atomic::Ordering::Relaxed));
    }

    /// Three goroutines in starvation mode: the hand-off chain passes the
    /// mutex through two waiters and the mode ends when the last one gets
    /// it (`old >> waiterShift == 1`).
    #[test]
    fn loom_mutex_starvation_three() {
        model(
            "loom_mutex_starvation_three",
            Some(PREEMPTION_BOUND),
            || {
                let w = World::new(2_000_000, 0);
                let ts: Vec<_> = (0..2)
                    .map(|_| {
                        let w1 = w.clone();
                        thread::spawn(move || w1.critical_section())
                    })
                    .collect();
                w.critical_section();
                for t in ts {
                    t.join().unwrap();
                }
                assert_eq!(w.value(), 3);
                assert_eq!(w.m.state(), 0, "state word not clean");
                let s = w.m.stats();
                assert_eq!(s.starvation_entries, s.starvation_exits, "{s:?}");
            },
        );
    }
}
