//! Runtime timers (Go: runtime/time.go): each P keeps its timers in a 4-ary
//! heap ([`TimerHeap`], pure and host-tested in `timerheap.rs`).
//!
//! A timer lives in the heap of the P it was added on. The P's CPU programs
//! its local APIC timer (one-shot, `tick.rs`) for the earliest of its timers
//! and of its running goroutine's time slice, so an idle CPU sleeps until
//! exactly its next timer (tickless) and no timer is late because its CPU
//! sleeps.
//!
//! A timer's action is "ready this goroutine" (`sleep`): it fires straight
//! from the timer interrupt (or whichever scheduler loop sees it due first),
//! through the interrupt-safe [`goready_woken`](super::park::goready_woken).
//! Timers that run a function (Go's `sendTime`, `AfterFunc`) will take
//! locks the interrupted goroutine may hold, so they must run from the
//! scheduler loop on g0, not from the interrupt: the time channels of a
//! later issue add them with that rule.
//!
//! The timer object is owned by its creator and must stay put while it is in
//! a heap (a sleeping goroutine keeps it on its parked stack).
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::g::G;
use super::p::{P, p};
use super::timerheap::{HeapTimer, TimerHeap, next_period};
use crate::lock::IrqSpinLock;

const NO_P: u32 = u32::MAX;

/// Test hook (the deadlock check's regression test): nanoseconds a firing
/// timer stalls between leaving its heap and readying its goroutine, after
/// waking every other CPU (so that one goes idle again, and looks for a
/// deadlock, inside the window). 0 in normal runs.
pub static READY_WINDOW_DELAY_NS: AtomicU64 = AtomicU64::new(0);

fn ready_window() {
    let ns = READY_WINDOW_DELAY_NS.load(Ordering::Relaxed);
    if ns != 0 {
        let me = crate::arch::cpu_index();
        for cpu in
            (0..super::schedt::SCHED.ncpu.load(Ordering::Relaxed) as usize).filter(|&c| c != me)
        {
            crate::arch::ipi::send_wakeup(cpu);
        }
        let until = crate::clock::now_ns() + ns;
        while crate::clock::now_ns() < until {
            core::hint::spin_loop();
        }
    }
}

/// What a timer does when it fires.
#[derive(Clone, Copy)]
pub enum TimerFn {
    /// Ready a parked goroutine (safe from interrupt context).
    Ready(NonNull<G>),
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

/// The heap holds pointers to timers their owners keep in place.
#[derive(Clone, Copy)]
pub struct TimerRef(NonNull<Timer>);

impl TimerRef {
    fn get(&self) -> &Timer {
        // SAFETY: a timer stays alive and in place while it is in a heap
        // (owner contract, see the module doc).
        unsafe { self.0.as_ref() }
    }
}

impl HeapTimer for TimerRef {
    fn when(&self) -> u64 {
        self.get().when()
    }

    fn set_index(&self, i: usize) {
        self.get().idx.store(i, Ordering::Relaxed);
    }
}

// SAFETY: the timers are `Sync`; the heap holding the references is only
// touched under its P's lock.
unsafe impl Send for TimerRef {}

/// Per-P timer state (a field of `P`).
pub struct PTimers {
    pub heap: IrqSpinLock<TimerHeap<TimerRef>>,
    /// Lock-free mirror of the heap's earliest `when` (Go: `p.timer0When`).
    pub timer0_when: AtomicU64,
    /// Timers fired on this P.
    pub fired: AtomicU64,
}

impl PTimers {
    pub const fn new() -> PTimers {
        PTimers {
            heap: IrqSpinLock::new(TimerHeap::new()),
            timer0_when: AtomicU64::new(u64::MAX),
            fired: AtomicU64::new(0),
        }
    }

    /// Is a timer due at `now`?
    pub fn due(&self, now: u64) -> bool {
        self.timer0_when.load(Ordering::Acquire) <= now
    }

    /// Does a pending timer ready a goroutine for which `pred` holds?
    pub fn any(&self, pred: impl Fn(&G) -> bool) -> bool {
        let h = self.heap.lock();
        h.iter().any(|t| {
            // SAFETY: the timer is in our heap and we hold its lock.
            let TimerFn::Ready(g) = unsafe { *t.get().func.get() };
            // SAFETY: a sleeper's G is parked, alive (Gs are never freed).
            pred(unsafe { g.as_ref() })
        })
    }

    /// Pending timers (for `read_mem_stats` and dumps).
    pub fn pending(&self) -> usize {
        self.heap.lock().len()
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
    h.push(TimerRef(NonNull::from(t)));
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

/// Go: `runtimer` for every timer of `pp` due at `now`: pops it (re-adding
/// a periodic one) and readies its goroutine. Interrupt-safe (the heap lock
/// is an interrupt-safe lock; readying goes through `goready_woken`).
/// Returns the number fired.
pub fn run_due(pp: &P, now: u64) -> usize {
    let mut fired = 0;
    loop {
        // From before the pop until the goroutine counts as runnable: a
        // wake-up the deadlock check must not miss (`deadlock.rs`).
        let _waking = super::deadlock::Waking::new();
        let mut h = pp.timers.heap.lock();
        let Some(first) = h.first().filter(|t| t.when() <= now) else {
            pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
            break;
        };
        let t = first.get();
        // SAFETY: the timer is in our heap and we hold its lock.
        let func = unsafe { *t.func.get() };
        h.remove(0);
        t.p.store(NO_P, Ordering::Release);
        let period = t.period.load(Ordering::Relaxed);
        if period != 0 {
            t.when
                .store(next_period(t.when(), period, now), Ordering::Relaxed);
            t.p.store(pp.id as u32, Ordering::Release);
            h.push(first);
        }
        pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
        drop(h);
        ready_window();
        pp.timers.fired.fetch_add(1, Ordering::Relaxed);
        fired += 1;
        match func {
            TimerFn::Ready(g) => {
                // SAFETY: the timer's goroutine is parked on it: live.
                crate::trace::timer_fire(pp.id, unsafe { g.as_ref() }.goid());
                super::park::goready_woken(g)
            }
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
    for i in 0..super::schedt::gomaxprocs() {
        let other = p(i);
        if i != me.id && other.timers.due(now) {
            fired += run_due(other, now);
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
            moved.push(h.remove(0));
        }
        from.timers.timer0_when.store(u64::MAX, Ordering::Release);
    }
    for t in moved {
        let t = t.get();
        let when = t.when();
        t.p.store(NO_P, Ordering::Release);
        add(to, t, when);
    }
}

/// Adds timer `t` at `when` to this M's P (on g0, e.g. in gopark's unlock
/// function, or with preemption off) and reprograms this CPU's timer if it
/// became the earliest.
pub fn add_here(t: &Timer, when: u64) {
    let pp = super::m::getm()
        .p()
        .expect("timer added on a CPU without a P");
    if add(pp, t, when) {
        super::tick::rearm(Some(pp));
    }
}
