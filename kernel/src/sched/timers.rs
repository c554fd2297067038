//! Runtime timers (Go: runtime/time.go): each P keeps its timers in a 4-ary
//! heap ([`TimerHeap`], pure and host-tested in `timerheap.rs`).
//!
//! A timer lives in the heap of the P it was added on. The P's CPU programs
//! its local APIC timer (one-shot, `tick.rs`) for the earliest of its timers
//! and of its running goroutine's time slice, so an idle CPU sleeps until
//! exactly its next timer (tickless) and no timer is late because its CPU
//! sleeps.
//!
//! A timer does one of two things ([`TimerFn`]):
//!
//! - **Ready a goroutine** (`sleep`): it fires straight from the timer
//!   interrupt (or whichever scheduler loop sees it due first), through the
//!   interrupt-safe [`goready_woken`](super::park::goready_woken).
//! - **Run a function** (the time channels' `sendTime`, `after_func`'s
//!   `goFunc`, `time/`): such a function takes locks the interrupted
//!   goroutine may hold (a channel's, the heap's), so it runs **only from a
//!   scheduler loop, on g0** ([`run_funcs_due`]), never from the interrupt.
//!   Function timers live in a second heap per P (`fheap`), behind a plain
//!   [`SpinLock`] the interrupt never takes. The interrupt only *notices*
//!   one is due (`ftimer0_when`): an idle CPU leaves its halt loop (the idle
//!   check counts due function timers as work), a busy one has its
//!   goroutine's slice cut as for woken sleepers (`tick.rs`), so g0 gets to
//!   run it within about half a millisecond.
//!
//! Go's `t.seq`: [`stop`] bumps the timer's sequence number, and a fired
//! function is passed the number it had when it left the heap, so a
//! function that lost a race with a stop or reset can see it is stale and
//! do nothing (Go 1.23: no stale value after `Stop`/`Reset`).
//!
//! The timer object is owned by its creator and must stay put while it is in
//! a heap (a sleeping goroutine keeps it on its parked stack; a function
//! timer's owner keeps a reference in the heap's name, `time/timer.rs`).
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::g::G;
use super::p::{P, p};
use super::timerheap::{HeapTimer, TimerHeap, next_period};
use crate::lock::{IrqSpinLock, SpinLock};

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
    /// Go: `t.f(t.arg, t.seq, delay)`: call `f(arg, seq)` on g0 from a
    /// scheduler loop (never from an interrupt). `seq` is the timer's
    /// sequence number when it left the heap. The timer is in no heap while
    /// `f` runs; `f` may add it again (a ticker's next period).
    Func {
        f: fn(*const (), u64),
        arg: *const (),
    },
}

impl TimerFn {
    const fn is_func(&self) -> bool {
        matches!(self, TimerFn::Func { .. })
    }
}

/// A runtime timer (Go: `runtime.timer`).
pub struct Timer {
    /// When it fires (ns since boot).
    when: AtomicU64,
    /// Re-add `period` ns later after firing (0: one-shot).
    period: AtomicU64,
    func: UnsafeCell<TimerFn>,
    /// `func` is a `Func` (which heap the timer goes to). Written with
    /// `func`, readable while the timer is in a heap.
    is_func: AtomicBool,
    /// Go: `t.seq`: bumped by every [`stop`] (and so every reset).
    seq: AtomicU64,
    /// `seq + 1` when a function timer last left its heap to fire (0:
    /// never): its owner tells a firing still in flight from one that is
    /// over (Go's `t.isSending`, `time/sendtime.rs`).
    popped: AtomicU64,
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
            is_func: AtomicBool::new(func.is_func()),
            seq: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            p: AtomicU32::new(NO_P),
            idx: AtomicUsize::new(0),
        }
    }

    /// Changes what the timer does (only while stopped).
    pub fn set_func(&self, func: TimerFn) {
        assert!(!self.is_active(), "timer: set_func on an active timer");
        // SAFETY: not in any heap, so nobody else reads `func`.
        unsafe { *self.func.get() = func };
        self.is_func.store(func.is_func(), Ordering::Relaxed);
    }

    /// Go: `t.seq`: changes with every [`stop`].
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The `seq` a function timer had when it last left its heap to fire.
    pub fn popped_seq(&self) -> Option<u64> {
        self.popped.load(Ordering::Acquire).checked_sub(1)
    }

    fn is_func(&self) -> bool {
        self.is_func.load(Ordering::Relaxed)
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
    /// Function timers (`TimerFn::Func`): run only by scheduler loops on
    /// g0, so the interrupt never takes this lock (see the module doc).
    pub fheap: SpinLock<TimerHeap<TimerRef>>,
    /// Lock-free mirror of `fheap`'s earliest `when`: the interrupt and the
    /// idle check read it to notice a due function timer.
    pub ftimer0_when: AtomicU64,
    /// Timers fired on this P.
    pub fired: AtomicU64,
}

impl PTimers {
    pub const fn new() -> PTimers {
        PTimers {
            heap: IrqSpinLock::new(TimerHeap::new()),
            timer0_when: AtomicU64::new(u64::MAX),
            fheap: SpinLock::new(TimerHeap::new()),
            ftimer0_when: AtomicU64::new(u64::MAX),
            fired: AtomicU64::new(0),
        }
    }

    /// Is a timer of either kind due at `now` (work for the scheduler
    /// loop: the idle check)?
    pub fn due(&self, now: u64) -> bool {
        self.due_ready(now) || self.due_funcs(now)
    }

    /// Is a goroutine-readying timer due at `now` (the interrupt runs it)?
    pub fn due_ready(&self, now: u64) -> bool {
        self.timer0_when.load(Ordering::Acquire) <= now
    }

    /// Is a function timer due at `now` (only g0 runs it)?
    pub fn due_funcs(&self, now: u64) -> bool {
        self.ftimer0_when.load(Ordering::Acquire) <= now
    }

    /// Does a pending timer ready a goroutine for which `pred` holds?
    pub fn any(&self, pred: impl Fn(&G) -> bool) -> bool {
        let h = self.heap.lock();
        h.iter().any(|t| {
            // SAFETY: the timer is in our heap and we hold its lock.
            match unsafe { *t.get().func.get() } {
                // SAFETY: a sleeper's G is parked, alive (Gs are never freed).
                TimerFn::Ready(g) => pred(unsafe { g.as_ref() }),
                TimerFn::Func { .. } => false,
            }
        })
    }

    /// Are function timers pending (the deadlock check: one may send to a
    /// channel a goroutine waits on, or start a goroutine)?
    pub fn funcs_pending(&self) -> bool {
        !self.fheap.lock().is_empty()
    }

    /// Pending timers of both kinds (for `read_mem_stats` and dumps).
    pub fn pending(&self) -> usize {
        self.heap.lock().len() + self.fheap.lock().len()
    }

    /// Heap bytes both heaps' storage holds (`TimerHeap::capacity_bytes`).
    pub fn capacity_bytes(&self) -> usize {
        self.heap.lock().capacity_bytes() + self.fheap.lock().capacity_bytes()
    }
}

/// Go: `addtimer` / `t.modify`: schedules `t` at `when` on P `pp` (the
/// caller's P, with preemption off). The caller reprograms the CPU timer if
/// `when` became the earliest (returned true).
pub fn add(pp: &P, t: &Timer, when: u64) -> bool {
    assert!(!t.is_active(), "timer: add of an active timer");
    t.when.store(when, Ordering::Relaxed);
    let earliest = if t.is_func() {
        let mut h = pp.timers.fheap.lock();
        t.p.store(pp.id as u32, Ordering::Release);
        h.push(TimerRef(NonNull::from(t)));
        let earliest = h.earliest();
        pp.timers.ftimer0_when.store(earliest, Ordering::Release);
        earliest
    } else {
        let mut h = pp.timers.heap.lock();
        t.p.store(pp.id as u32, Ordering::Release);
        h.push(TimerRef(NonNull::from(t)));
        let earliest = h.earliest();
        pp.timers.timer0_when.store(earliest, Ordering::Release);
        earliest
    };
    earliest == when
}

/// Go: `t.stop`: removes `t` from its heap and bumps its `seq` (so a
/// function that already left the heap sees it is stale). True if it was
/// pending.
pub fn stop(t: &Timer) -> bool {
    loop {
        let pid = t.p.load(Ordering::Acquire);
        if pid == NO_P {
            // Not in a heap: if it fired, its pop read `seq` before storing
            // NO_P (Release, read above with Acquire), so this bump is seen
            // as a change by the fired function.
            t.seq.fetch_add(1, Ordering::AcqRel);
            return false;
        }
        let pp = p(pid as usize);
        let removed = if t.is_func() {
            let mut h = pp.timers.fheap.lock();
            let ok = remove_locked(&mut h, t, pid);
            pp.timers
                .ftimer0_when
                .store(h.earliest(), Ordering::Release);
            ok
        } else {
            let mut h = pp.timers.heap.lock();
            let ok = remove_locked(&mut h, t, pid);
            pp.timers.timer0_when.store(h.earliest(), Ordering::Release);
            ok
        };
        if removed {
            return true;
        }
        // Fired or moved meanwhile: look again.
    }
}

/// Removes `t` from heap `h` (P `pid`'s, locked) if it is still there,
/// bumping `seq` under the lock: a pop (which reads `seq` under the same
/// lock) is either before, and then `t` is no longer here, or after.
fn remove_locked(h: &mut TimerHeap<TimerRef>, t: &Timer, pid: u32) -> bool {
    if t.p.load(Ordering::Acquire) != pid {
        return false;
    }
    t.seq.fetch_add(1, Ordering::AcqRel);
    h.remove(t.idx.load(Ordering::Relaxed));
    t.p.store(NO_P, Ordering::Release);
    true
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
            TimerFn::Func { .. } => unreachable!("a function timer in the interrupt's heap"),
        }
    }
    fired
}

/// Go: `runtimer` for the due function timers of `pp` at `now`, **on g0
/// from a scheduler loop only** (they take ordinary locks: see the module
/// doc). Each leaves its heap, then its function runs with the lock
/// dropped. Returns the number run.
pub fn run_funcs_due(pp: &P, now: u64) -> usize {
    debug_assert!(
        crate::arch::percpu::irq_depth() == 0,
        "function timers run from the interrupt"
    );
    let mut fired = 0;
    loop {
        // The function may ready a goroutine (a channel send) or start
        // one: a wake-up from outside goroutine code, as for `run_due`.
        let _waking = super::deadlock::Waking::new();
        let mut h = pp.timers.fheap.lock();
        let Some(first) = h.first().filter(|t| t.when() <= now) else {
            pp.timers
                .ftimer0_when
                .store(h.earliest(), Ordering::Release);
            break;
        };
        let t = first.get();
        // SAFETY: the timer is in our heap and we hold its lock.
        let func = unsafe { *t.func.get() };
        // Read under the heap lock, before the timer leaves it: see `stop`.
        let seq = t.seq.load(Ordering::Acquire);
        t.popped.store(seq + 1, Ordering::Release);
        h.remove(0);
        t.p.store(NO_P, Ordering::Release);
        pp.timers
            .ftimer0_when
            .store(h.earliest(), Ordering::Release);
        drop(h);
        pp.timers.fired.fetch_add(1, Ordering::Relaxed);
        fired += 1;
        match func {
            TimerFn::Func { f, arg } => f(arg, seq),
            TimerFn::Ready(_) => unreachable!("a readying timer in the function heap"),
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
        if i != me.id && other.timers.due_ready(now) {
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
    {
        let mut h = from.timers.fheap.lock();
        while !h.is_empty() {
            moved.push(h.remove(0));
        }
        from.timers.ftimer0_when.store(u64::MAX, Ordering::Release);
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
