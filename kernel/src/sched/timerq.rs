//! A timer's life in a P's heap, as a protocol between CPUs (Go:
//! runtime/time.go's `addtimer`, `t.stop`, `runtimer`): the state every
//! timer carries ([`TimerState`]), one heap behind its lock with the
//! lock-free mirror of its earliest `when` ([`Queue`]), and the add, stop
//! and pop steps on them. Pure and generic over the heap's lock: the
//! kernel (`timers.rs`) binds it to its spin locks and `goready`, the loom
//! models below to loom's mutex and threads, so the races checked are the
//! kernel's own: a P adding and stopping timers while another CPU's
//! `run_others_due` (or its own timer interrupt) pops them.
//!
//! # The rules
//!
//! - `t.p` (the P whose heap holds the timer, or [`NO_P`]) changes only
//!   under that heap's lock, together with the heap itself: a stop that
//!   finds `t.p == pid` under P `pid`'s lock finds the timer in that heap.
//! - A pop takes the timer out and stores `NO_P` under the lock, and only
//!   then fires it (with the lock dropped): a stop that removed it under
//!   the lock was before the pop, so it never fires; a stop that comes
//!   after finds `NO_P` and returns false (Go: `t.stop` returns whether it
//!   stopped a pending timer).
//! - The mirror (`when0`, Go: `p.timer0When`) is stored under the lock
//!   after each change: a CPU that reads it lock-free to decide whether to
//!   take the lock at all may be late, never skip a timer for good (the
//!   store after an add is seen by every later check).
//! - A function timer's `seq` is bumped by every stop and read by the pop
//!   under the lock: a fired function learns from the `seq` it was passed
//!   whether a stop (or reset) came after it left the heap.
use core::ops::DerefMut;

use super::timerheap::{HeapTimer, TimerHeap, next_period};
use crate::lock::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// `TimerState::p` of a timer in no heap.
pub const NO_P: u32 = u32::MAX;

/// The scheduling state of a timer (the part of Go's `runtime.timer` the
/// heaps and `stop` race on).
pub struct TimerState {
    /// When it fires (ns since boot).
    pub(super) when: AtomicU64,
    /// Re-add `period` ns later after firing (0: one-shot).
    pub(super) period: AtomicU64,
    /// Go: `t.seq`: bumped by every [`stop`] (and so every reset).
    pub(super) seq: AtomicU64,
    /// `seq + 1` when a function timer last left its heap to fire (0:
    /// never): its owner tells a firing still in flight from one that is
    /// over (Go's `t.isSending`, `time/sendtime.rs`).
    pub(super) popped: AtomicU64,
    /// The P whose heap holds it ([`NO_P`]: none), and its index there.
    pub(super) p: AtomicU32,
    pub(super) idx: AtomicUsize,
}

impl TimerState {
    #[cfg(not(loom))]
    pub const fn new() -> TimerState {
        TimerState {
            when: AtomicU64::new(0),
            period: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            p: AtomicU32::new(NO_P),
            idx: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> TimerState {
        TimerState {
            when: AtomicU64::new(0),
            period: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            p: AtomicU32::new(NO_P),
            idx: AtomicUsize::new(0),
        }
    }

    /// Is it in a heap (pending)?
    pub fn is_active(&self) -> bool {
        self.p.load(Ordering::Acquire) != NO_P
    }

    pub fn when(&self) -> u64 {
        self.when.load(Ordering::Relaxed)
    }

    /// Go: `t.seq`: changes with every [`stop`].
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The `seq` a function timer had when it last left its heap to fire.
    pub fn popped_seq(&self) -> Option<u64> {
        self.popped.load(Ordering::Acquire).checked_sub(1)
    }

    pub fn set_period(&self, period_ns: u64) {
        self.period.store(period_ns, Ordering::Relaxed);
    }
}

/// What a heap holds: a copyable reference to a timer that stays in place
/// while it is in the heap.
pub trait TimerLink: HeapTimer {
    fn state(&self) -> &TimerState;
}

/// The lock around a heap (the kernel's `IrqSpinLock`/`SpinLock`, loom's
/// mutex in the models).
pub trait HeapLock<R: HeapTimer> {
    type Guard<'a>: DerefMut<Target = TimerHeap<R>>
    where
        Self: 'a;
    fn lock(&self) -> Self::Guard<'_>;
}

/// One heap of a P and the lock-free mirror of its earliest `when`.
pub struct Queue<'a, L> {
    pub heap: &'a L,
    /// Go: `p.timer0When` (`u64::MAX`: empty).
    pub when0: &'a AtomicU64,
}

impl<L> Clone for Queue<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Queue<'_, L> {}

impl<L> Queue<'_, L> {
    /// Is a timer due at `now`, by the mirror (no lock)?
    #[inline]
    pub fn due(&self, now: u64) -> bool {
        self.when0.load(Ordering::Acquire) <= now
    }
}

/// Go: `addtimer` / `t.modify`: schedules `r` at `when` in P `pid`'s queue
/// `q`. True if `when` became the earliest (the caller reprograms its CPU
/// timer).
pub fn add<R: TimerLink, L: HeapLock<R>>(q: Queue<'_, L>, pid: u32, r: R, when: u64) -> bool {
    let t = r.state();
    assert!(!t.is_active(), "timer: add of an active timer");
    t.when.store(when, Ordering::Relaxed);
    let mut h = q.heap.lock();
    t.p.store(pid, Ordering::Release);
    h.push(r);
    let earliest = h.earliest();
    q.when0.store(earliest, Ordering::Release);
    earliest == when
}

/// Go: `t.stop`: removes the timer from its heap (`queue_of(pid)`: P
/// `pid`'s queue of the timer's kind) and bumps its `seq` (so a function
/// that already left the heap sees it is stale). True if it was pending.
pub fn stop<'a, R: TimerLink, L: HeapLock<R> + 'a>(
    t: &TimerState,
    queue_of: impl Fn(u32) -> Queue<'a, L>,
) -> bool {
    loop {
        let pid = t.p.load(Ordering::Acquire);
        if pid == NO_P {
            // Not in a heap: if it fired, its pop read `seq` before storing
            // NO_P (Release, read above with Acquire), so this bump is seen
            // as a change by the fired function.
            t.seq.fetch_add(1, Ordering::AcqRel);
            return false;
        }
        let q = queue_of(pid);
        let mut h = q.heap.lock();
        let removed = remove_locked(&mut h, t, pid);
        q.when0.store(h.earliest(), Ordering::Release);
        if removed {
            return true;
        }
        // Fired or moved meanwhile: look again.
    }
}

/// Removes `t` from heap `h` (P `pid`'s, locked) if it is still there,
/// bumping `seq` under the lock: a pop (which reads `seq` under the same
/// lock) is either before, and then `t` is no longer here, or after.
fn remove_locked<R: TimerLink>(h: &mut TimerHeap<R>, t: &TimerState, pid: u32) -> bool {
    if t.p.load(Ordering::Acquire) != pid {
        return false;
    }
    t.seq.fetch_add(1, Ordering::AcqRel);
    h.remove(t.idx.load(Ordering::Relaxed));
    t.p.store(NO_P, Ordering::Release);
    true
}

/// Go: `runtimer` for a goroutine-readying timer: pops the earliest timer
/// of P `pid`'s queue `q` if it is due at `now`, re-adding a periodic one
/// (Go: `t.when += t.period`, missed periods skipped), and returns what
/// `read` took from it under the lock (its payload: written by the owner
/// only while the timer is in no heap).
pub fn pop_due<R: TimerLink, L: HeapLock<R>, X>(
    q: Queue<'_, L>,
    pid: u32,
    now: u64,
    read: impl FnOnce(&R) -> X,
) -> Option<X> {
    let mut h = q.heap.lock();
    let Some(first) = h.first().filter(|t| t.when() <= now) else {
        q.when0.store(h.earliest(), Ordering::Release);
        return None;
    };
    let t = first.state();
    let x = read(&first);
    h.remove(0);
    t.p.store(NO_P, Ordering::Release);
    let period = t.period.load(Ordering::Relaxed);
    if period != 0 {
        t.when
            .store(next_period(t.when(), period, now), Ordering::Relaxed);
        t.p.store(pid, Ordering::Release);
        h.push(first);
    }
    q.when0.store(h.earliest(), Ordering::Release);
    Some(x)
}

/// Go: `runtimer` for a function timer: pops the earliest timer of `q` if
/// it is due at `now`, and returns what `read` took from it under the lock
/// with the `seq` it had when it left (recorded in `popped`). A periodic
/// function timer is re-added by its function (it owns the timer then).
pub fn pop_due_func<R: TimerLink, L: HeapLock<R>, X>(
    q: Queue<'_, L>,
    now: u64,
    read: impl FnOnce(&R) -> X,
) -> Option<(X, u64)> {
    let mut h = q.heap.lock();
    let Some(first) = h.first().filter(|t| t.when() <= now) else {
        q.when0.store(h.earliest(), Ordering::Release);
        return None;
    };
    let t = first.state();
    let x = read(&first);
    // Read under the heap lock, before the timer leaves it: see `stop`.
    let seq = t.seq.load(Ordering::Acquire);
    t.popped.store(seq + 1, Ordering::Release);
    h.remove(0);
    t.p.store(NO_P, Ordering::Release);
    q.when0.store(h.earliest(), Ordering::Release);
    Some((x, seq))
}

/// Go: `stealWork`'s timer part (the kernel's `run_others_due`): for each
/// P `i < n` other than `me` whose mirror says a timer is due at `now`,
/// `run(i)` runs its due timers. Returns the sum of what `run` returned.
pub fn run_others(
    me: usize,
    n: usize,
    now: u64,
    due: impl Fn(usize, u64) -> bool,
    mut run: impl FnMut(usize) -> usize,
) -> usize {
    let mut fired = 0;
    for i in 0..n {
        if i != me && due(i, now) {
            fired += run(i);
        }
    }
    fired
}

/// Go: `runtimer` until nothing is due: pops each timer of P `pid`'s queue
/// `q` due at `now` ([`pop_due`]) and `fire`s what `read` took from it,
/// with the lock dropped. `hold` is made before each pop and dropped after
/// its fire (the kernel's deadlock-check guard: a wake-up in flight).
/// Returns the number fired.
#[inline]
pub fn run_due<R: TimerLink, L: HeapLock<R>, X, W>(
    q: Queue<'_, L>,
    pid: u32,
    now: u64,
    mut hold: impl FnMut() -> W,
    read: impl Fn(&R) -> X,
    mut fire: impl FnMut(X),
) -> usize {
    let mut fired = 0;
    loop {
        let _held = hold();
        let Some(x) = pop_due(q, pid, now, &read) else {
            break;
        };
        fire(x);
        fired += 1;
    }
    fired
}

/// [`run_due`] for function timers ([`pop_due_func`]): `fire` gets the
/// payload and the `seq` the timer left its heap with.
#[inline]
pub fn run_due_funcs<R: TimerLink, L: HeapLock<R>, X, W>(
    q: Queue<'_, L>,
    now: u64,
    mut hold: impl FnMut() -> W,
    read: impl Fn(&R) -> X,
    mut fire: impl FnMut(X, u64),
) -> usize {
    let mut fired = 0;
    loop {
        let _held = hold();
        let Some((x, seq)) = pop_due_func(q, now, &read) else {
            break;
        };
        fire(x, seq);
        fired += 1;
    }
    fired
}
