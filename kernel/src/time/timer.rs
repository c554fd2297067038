//! Runtime timers: a 4-ary min-heap per P (Go: `p.timers`, runtime/time.go).
//!
//! A timer lives in the heap of the P it was added on. The P's CPU programs
//! its local APIC timer (one-shot) for the earliest of its timers and of its
//! running goroutine's time slice, so an idle CPU sleeps until exactly its
//! next timer (tickless) and no timer is late because its CPU sleeps.
//!
//! Timers whose action is "ready this goroutine" (`sleep`) fire straight
//! from the timer interrupt, through the interrupt-safe `goready` path (the
//! global queue). Timers that run a function are only marked due by the
//! interrupt and run by the P's scheduler loop on g0, because such callbacks
//! take locks (a channel send, Go's `sendTime`) that the interrupted
//! goroutine may hold.
//!
//! The timer object is owned by its creator and must stay put while it is in
//! a heap (a sleeping goroutine keeps it on its parked stack; `time::Timer`
//! will box it).
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::lock::IrqSpinLock;
use crate::sched::g::G;
use crate::sched::p::{P, p};

const NO_P: u32 = u32::MAX;

/// What a timer does when it fires.
#[derive(Clone, Copy)]
pub enum TimerFn {
    /// Ready a parked goroutine (safe from interrupt context).
    Ready(NonNull<G>),
    /// Call `f(arg, now_ns)` from the scheduler loop on g0.
    Call(fn(usize, u64), usize),
}

/// A runtime timer (Go: `runtime.timer`).
pub struct Timer {
    /// When it fires (ns since boot).
    when: AtomicU64,
    /// Re-add `period` ns later after firing (0: one-shot).
    period: AtomicU64,
    func: UnsafeCell<TimerFn>,
    /// The P whose heap holds it, and its index there.
    p: AtomicU32,
    idx: AtomicUsize,
}

// SAFETY: `func` is written only while the timer is in no heap (by its
// owner) and read by whoever pops it under the heap lock.
unsafe impl Sync for Timer {}
// SAFETY: as above.
unsafe impl Send for Timer {}

impl Timer {
    pub const fn new(func: TimerFn) -> Timer {
        Timer {
            when: AtomicU64::new(0),
            period: AtomicU64::new(0),
            func: UnsafeCell::new(func),
            p: AtomicU32::new(NO_P),
            idx: AtomicUsize::new(0),
        }
    }

    /// Changes what the timer does (only while stopped).
    pub fn set_func(&self, func: TimerFn) {
        assert!(!self.is_active(), "timer: set_func on an active timer");
        // SAFETY: not in any heap, so nobody else reads `func`.
        unsafe { *self.func.get() = func };
    }

    pub fn set_period(&self, period_ns: u64) {
        self.period.store(period_ns, Ordering::Relaxed);
    }

    /// Is it in a heap (pending)?
    pub fn is_active(&self) -> bool {
        self.p.load(Ordering::Acquire) != NO_P
    }

    pub fn when(&self) -> u64 {
        self.when.load(Ordering::Relaxed)
    }
}

/// A P's timer heap (4-ary, ordered by `when`).
pub struct TimerHeap {
    heap: Vec<NonNull<Timer>>,
}

// SAFETY: the heap holds pointers to `Sync` timers; access is under its lock.
unsafe impl Send for TimerHeap {}

impl TimerHeap {
    pub const fn new() -> TimerHeap {
        TimerHeap { heap: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn when_at(&self, i: usize) -> u64 {
        // SAFETY: timers in the heap are alive (owner contract).
        unsafe { self.heap[i].as_ref() }.when()
    }

    fn set(&mut self, i: usize, t: NonNull<Timer>) {
        self.heap[i] = t;
        // SAFETY: as above.
        unsafe { t.as_ref() }.idx.store(i, Ordering::Relaxed);
    }

    /// Go: `siftupTimer`.
    fn sift_up(&mut self, mut i: usize) {
        let t = self.heap[i];
        let when = self.when_at(i);
        while i > 0 {
            let parent = (i - 1) / 4;
            if when >= self.when_at(parent) {
                break;
            }
            let pt = self.heap[parent];
            self.set(i, pt);
            i = parent;
        }
        self.set(i, t);
    }

    /// Go: `siftdownTimer`.
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let t = self.heap[i];
        let when = self.when_at(i);
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + 4).min(n) {
                if self.when_at(c) < self.when_at(best) {
                    best = c;
                }
            }
            if self.when_at(best) >= when {
                break;
            }
            let bt = self.heap[best];
            self.set(i, bt);
            i = best;
        }
        self.set(i, t);
    }

    fn push(&mut self, t: NonNull<Timer>) {
        self.heap.push(t);
        let i = self.heap.len() - 1;
        self.set(i, t);
        self.sift_up(i);
    }

    fn remove(&mut self, i: usize) -> NonNull<Timer> {
        let t = self.heap[i];
        let last = self.heap.pop().expect("remove from an empty timer heap");
        if i < self.heap.len() {
            self.set(i, last);
            if i > 0 && self.when_at(i) < self.when_at((i - 1) / 4) {
                self.sift_up(i);
            } else {
                self.sift_down(i);
            }
        }
        t
    }

    /// The earliest `when`, or u64::MAX.
    pub fn earliest(&self) -> u64 {
        if self.heap.is_empty() {
            u64::MAX
        } else {
            self.when_at(0)
        }
    }
}

/// Per-P timer state (a field of `P`).
pub struct PTimers {
    pub heap: IrqSpinLock<TimerHeap>,
    /// Lock-free mirror of the heap's earliest `when` (Go: `p.timer0When`).
    pub timer0_when: AtomicU64,
    /// Function timers came due and wait for the scheduler loop.
    pub due: core::sync::atomic::AtomicBool,
    /// Timers fired on this P.
    pub fired: AtomicU64,
}

impl PTimers {
    pub const fn new() -> PTimers {
        PTimers {
            heap: IrqSpinLock::new(TimerHeap::new()),
            timer0_when: AtomicU64::new(u64::MAX),
            due: core::sync::atomic::AtomicBool::new(false),
            fired: AtomicU64::new(0),
        }
    }
}

/// Go: `addtimer` / `t.modify`: schedules `t` at `when` on P `pp` (the
/// caller's P, with preemption off). The caller reprograms the CPU timer if
/// `when` became the earliest (returned true).
pub fn add(pp: &P, t: &Timer, when: u64) -> bool {
    assert!(!t.is_active(), "timer: add of an active timer");
    t.when.store(when, Ordering::Relaxed);
    let mut h = pp.timers.heap.lock();
    t.p.store(pp.id as u32, Ordering::Release);
    h.push(NonNull::from(t));
    let earliest = h.earliest();
    pp.timers.timer0_when.store(earliest, Ordering::Release);
    earliest == when
}

/// Go: `t.stop`: removes `t` from its heap. True if it was pending.
pub fn stop(t: &Timer) -> bool {
    loop {
        let pid = t.p.load(Ordering::Acquire);
        if pid == NO_P {
            return false;
        }
        let pp = p(pid as usize);
        let mut h = pp.timers.heap.lock();
        if t.p.load(Ordering::Acquire) != pid {
            continue; // fired or moved meanwhile
        }
        let i = t.idx.load(Ordering::Relaxed);
        h.remove(i);
        t.p.store(NO_P, Ordering::Release);
        pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
        return true;
    }
}

/// Go: `t.reset` / `t.modify`: stops `t` if pending and schedules it at
/// `when` on P `pp` (the caller's P, preemption off). Returns whether it
/// was pending, and whether it became `pp`'s earliest timer.
pub fn reset(pp: &P, t: &Timer, when: u64) -> (bool, bool) {
    let was = stop(t);
    (was, add(pp, t, when))
}

/// Pops every timer due at `now` whose action can run right here:
/// `Ready` ones always, `Call` ones only if `run_calls` (scheduler loop on
/// g0, not an interrupt handler). Due `Call` timers left behind set `due`.
/// Returns the number fired.
pub fn run_due(pp: &P, now: u64, run_calls: bool) -> usize {
    let mut fired = 0;
    loop {
        let mut h = pp.timers.heap.lock();
        if h.is_empty() || h.earliest() > now {
            pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
            pp.timers.due.store(false, Ordering::Relaxed);
            break;
        }
        // SAFETY: timers in the heap are alive (owner contract).
        let t = unsafe { h.heap[0].as_ref() };
        // SAFETY: the timer is in our heap and we hold its lock.
        let func = unsafe { *t.func.get() };
        if let (TimerFn::Call(..), false) = (func, run_calls) {
            pp.timers.due.store(true, Ordering::Relaxed);
            pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
            break;
        }
        h.remove(0);
        t.p.store(NO_P, Ordering::Release);
        let period = t.period.load(Ordering::Relaxed);
        if period != 0 {
            // Go: periodic timers are re-added `period` after their `when`
            // (skipping missed periods); saturating, like every deadline.
            let mut next = t.when().saturating_add(period);
            if next <= now {
                next = now.saturating_add(period - (now - t.when()) % period);
            }
            t.when.store(next, Ordering::Relaxed);
            t.p.store(pp.id as u32, Ordering::Release);
            h.push(NonNull::from(t));
        }
        pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
        drop(h);
        pp.timers.fired.fetch_add(1, Ordering::Relaxed);
        fired += 1;
        match func {
            TimerFn::Ready(g) => crate::sched::proc::goready_timer(g),
            TimerFn::Call(f, arg) => f(arg, now),
        }
    }
    fired
}

/// Runs the due goroutine-readying timers of every P in use except `me`
/// (their CPUs may be busy, stalled or asleep; readying is interrupt-safe,
/// so this is fine from the scheduler loop and from the timer interrupt).
/// Go's `stealWork` does the same. Returns the number fired.
pub fn run_others_due(me: &P, now: u64) -> usize {
    let mut fired = 0;
    for i in 0..crate::sched::sched::gomaxprocs() {
        let other = p(i);
        if i != me.id && other.timers.timer0_when.load(Ordering::Acquire) <= now {
            fired += run_due(other, now, false);
        }
    }
    fired
}

/// Moves every timer of `from` to `to` (Go: `moveTimers`, procresize).
pub fn move_all(from: &P, to: &P) {
    let mut moved = Vec::new();
    {
        let mut h = from.timers.heap.lock();
        while !h.is_empty() {
            let t = h.remove(0);
            moved.push(t);
        }
        from.timers.timer0_when.store(u64::MAX, Ordering::Release);
    }
    for t in moved {
        // SAFETY: alive (owner contract); it is in no heap now.
        let t = unsafe { t.as_ref() };
        let when = t.when();
        t.p.store(NO_P, Ordering::Release);
        add(to, t, when);
    }
}
