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
/// of queue `q` if it is due at `now`, re-adding a periodic one
/// (Go: `t.when += t.period`, missed periods skipped), and returns what
/// `read` took from it under the lock (its payload: written by the owner
/// only while the timer is in no heap).
pub fn pop_due<R: TimerLink, L: HeapLock<R>, X>(
    q: Queue<'_, L>,
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
    let period = t.period.load(Ordering::Relaxed);
    if period != 0 {
        // Back in at once, `t.p` never leaving `pid`: `stop` reads it
        // without the lock, and a passing `NO_P` would make it return
        // false for a timer that stays pending (found by
        // `loom_periodic_readd_vs_stop`).
        t.when
            .store(next_period(t.when(), period, now), Ordering::Relaxed);
        h.push(first);
    } else {
        t.p.store(NO_P, Ordering::Release);
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

/// Go: `runtimer` until nothing is due: pops each timer of queue `q` due at `now` ([`pop_due`]) and `fire`s what `read` took from it,
/// with the lock dropped. `hold` is made before each pop and dropped after
/// its fire (the kernel's deadlock-check guard: a wake-up in flight).
/// Returns the number fired.
#[inline]
pub fn run_due<R: TimerLink, L: HeapLock<R>, X, W>(
    q: Queue<'_, L>,
    now: u64,
    mut hold: impl FnMut() -> W,
    read: impl Fn(&R) -> X,
    mut fire: impl FnMut(X),
) -> usize {
    let mut fired = 0;
    loop {
        let _held = hold();
        let Some(x) = pop_due(q, now, &read) else {
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

/// loom models of the timer protocol: the real [`add`], [`stop`],
/// [`run_due`], [`run_due_funcs`] and [`run_others`] on loom's atomics and
/// a loom mutex per heap, one thread per CPU. P 0's owner adds and stops
/// while P 0's own timer interrupt and CPU 1's `run_others_due` pop. A
/// timer that fires twice, fires after its stop returned true, or is left
/// neither fired nor stopped (a lost timer) fails an assertion; so does a
/// mirror left stale (`when0` not the heap's earliest at the end).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::{AtomicBool, AtomicUsize};
    use loom::sync::{Arc, Mutex, MutexGuard};
    use loom::thread;

    /// Exhaustive (no preemption bound): the lock serialises most steps,
    /// so the largest model, two poppers against an adder and stopper, is
    /// 25,470 executions, 7 s (counts printed with `--nocapture`).
    fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
        crate::lock::loom_check::check(name, None, f)
    }

    /// A timer: the real state, how often it fired, the `seq` it last
    /// fired with (function timers), and whether its stop returned true.
    struct MTimer {
        st: TimerState,
        fired: AtomicUsize,
        fired_seq: AtomicU64,
        stopped: AtomicBool,
    }

    impl MTimer {
        fn new(period: u64) -> MTimer {
            let t = MTimer {
                st: TimerState::new(),
                fired: AtomicUsize::new(0),
                fired_seq: AtomicU64::new(u64::MAX),
                stopped: AtomicBool::new(false),
            };
            t.st.set_period(period);
            t
        }

        /// Its pop (under the heap lock): never after a stop returned true.
        fn popped(&self) -> MRef {
            assert!(
                !self.stopped.load(Ordering::SeqCst),
                "timer popped after its stop returned true"
            );
            MRef(self)
        }

        /// Its firing (lock dropped). A one-shot timer whose stop returned
        /// true was in its heap then, so no firing can follow; a periodic
        /// one's firing from a pop before the stop may still be in flight
        /// (Go: `Stop` does not wait for it).
        fn fire(&self, seq: u64) {
            if self.st.period.load(Ordering::Relaxed) == 0 {
                assert!(
                    !self.stopped.load(Ordering::SeqCst),
                    "timer fired after its stop returned true"
                );
            }
            self.fired.fetch_add(1, Ordering::SeqCst);
            self.fired_seq.store(seq, Ordering::SeqCst);
        }

        fn fired(&self) -> usize {
            self.fired.load(Ordering::SeqCst)
        }
    }

    #[derive(Clone, Copy)]
    struct MRef(*const MTimer);

    // SAFETY: it points into the model's `World`, alive (in an Arc) while
    // any thread runs; the timer's state is all atomics.
    unsafe impl Send for MRef {}

    impl MRef {
        fn get(&self) -> &MTimer {
            // SAFETY: as above.
            unsafe { &*self.0 }
        }
    }

    impl HeapTimer for MRef {
        fn when(&self) -> u64 {
            self.get().st.when()
        }
        fn set_index(&self, i: usize) {
            self.get().st.idx.store(i, Ordering::Relaxed);
        }
    }

    impl TimerLink for MRef {
        fn state(&self) -> &TimerState {
            &self.get().st
        }
    }

    /// A heap behind loom's mutex (the kernel's is a spin lock with the
    /// same acquire/release edges).
    struct Lk(Mutex<TimerHeap<MRef>>);

    impl HeapLock<MRef> for Lk {
        type Guard<'a> = MutexGuard<'a, TimerHeap<MRef>>;
        fn lock(&self) -> Self::Guard<'_> {
            self.0.lock().unwrap()
        }
    }

    /// A P's heap of one kind and its mirror.
    struct MP {
        heap: Lk,
        when0: AtomicU64,
    }

    impl MP {
        fn new() -> MP {
            MP {
                heap: Lk(Mutex::new(TimerHeap::new())),
                when0: AtomicU64::new(u64::MAX),
            }
        }
        fn q(&self) -> Queue<'_, Lk> {
            Queue {
                heap: &self.heap,
                when0: &self.when0,
            }
        }
    }

    /// Two Ps (one heap kind each: the models use one kind at a time) and
    /// the timers.
    struct World {
        ps: [MP; 2],
        ts: Vec<MTimer>,
    }

    impl World {
        fn new(periods: &[u64]) -> Arc<World> {
            Arc::new(World {
                ps: [MP::new(), MP::new()],
                ts: periods.iter().map(|&p| MTimer::new(p)).collect(),
            })
        }
        fn r(&self, i: usize) -> MRef {
            MRef(&self.ts[i])
        }
        fn add(&self, pid: usize, i: usize, when: u64) -> bool {
            add(self.ps[pid].q(), pid as u32, self.r(i), when)
        }
        /// `t.stop`, recording a true result for the fire check.
        fn stop(&self, i: usize) -> bool {
            let ok = stop(&self.ts[i].st, |pid| self.ps[pid as usize].q());
            if ok {
                self.ts[i].stopped.store(true, Ordering::SeqCst);
            }
            ok
        }
        /// The kernel's `run_due` on P `pid`.
        fn run_due(&self, pid: usize, now: u64) -> usize {
            run_due(
                self.ps[pid].q(),
                now,
                || (),
                |r: &MRef| r.get().popped(),
                |r| r.get().fire(0),
            )
        }
        /// The kernel's `run_funcs_due` on P `pid`.
        fn run_funcs_due(&self, pid: usize, now: u64) -> usize {
            run_due_funcs(
                self.ps[pid].q(),
                now,
                || (),
                |r: &MRef| r.get().popped(),
                |r, seq| r.get().fire(seq),
            )
        }
        /// P `pid`'s own timer interrupt (`tick.rs`): the mirror says a
        /// timer is due, then `run_due`.
        fn interrupt(&self, pid: usize, now: u64) -> usize {
            if self.ps[pid].q().due(now) {
                self.run_due(pid, now)
            } else {
                0
            }
        }
        /// The kernel's `run_others_due` from CPU `me`.
        fn run_others_due(&self, me: usize, now: u64) -> usize {
            run_others(
                me,
                2,
                now,
                |i, now| self.ps[i].q().due(now),
                |i| self.run_due(i, now),
            )
        }
        /// The heaps are empty and their mirrors say so.
        fn check_empty(&self) {
            for p in &self.ps {
                assert!(p.heap.lock().is_empty(), "a timer left in a heap");
                assert_eq!(p.when0.load(Ordering::SeqCst), u64::MAX, "stale mirror");
            }
        }
    }

    /// One-shot timers: P 0's owner adds two timers, stops the first, adds
    /// a third, then its timer interrupt runs P 0's due timers (if the
    /// mirror says one is due, as `tick.rs` does), while CPU 1's
    /// scheduler loop runs `run_others_due` (two poppers and an adder and
    /// stopper on one heap). Each timer fires exactly once unless its stop
    /// returned true, and then never; nothing is left in the heap.
    #[test]
    fn loom_add_stop_vs_run_others_due() {
        model("loom_add_stop_vs_run_others_due", || {
            let w = World::new(&[0, 0, 0]);
            let w1 = w.clone();
            let cpu1 = thread::spawn(move || w1.run_others_due(1, 20));
            assert!(w.add(0, 0, 5), "first timer is the earliest");
            // (The second may be the earliest too: CPU 1 may have popped
            // the first already.)
            w.add(0, 1, 10);
            let stopped = w.stop(0);
            // Added last: only its own mirror store tells the interrupt.
            w.add(0, 2, 15);
            w.interrupt(0, 20);
            cpu1.join().unwrap();
            assert_eq!(
                w.ts[0].fired() + stopped as usize,
                1,
                "timer 0: fired {} stopped {stopped}",
                w.ts[0].fired()
            );
            assert_eq!(w.ts[1].fired(), 1, "timer 1 lost or fired twice");
            assert_eq!(w.ts[2].fired(), 1, "timer 2 lost or fired twice");
            w.check_empty();
        });
    }

    /// A periodic timer re-added by its pop (Go: `t.when += t.period`)
    /// while its owner stops it: CPU 1's `run_others_due` pops P 0's
    /// heap twice (at 20 and 40), the owner stops it in between, then P
    /// 0's own interrupt runs its due timers (at 60). The stop
    /// always finds it pending (the re-add happens under the same lock as
    /// the pop), it is never popped after the stop (a firing popped before
    /// it may still be in flight, as in Go), and it fires at most once per
    /// pass.
    #[test]
    fn loom_periodic_readd_vs_stop() {
        model("loom_periodic_readd_vs_stop", || {
            let w = World::new(&[10]);
            w.add(0, 0, 5);
            let w1 = w.clone();
            let cpu1 = thread::spawn(move || w1.run_others_due(1, 20) + w1.run_others_due(1, 40));
            assert!(w.stop(0), "a periodic timer is always pending");
            // P 0's own interrupt after the stop: nothing left to pop.
            assert_eq!(w.interrupt(0, 60), 0, "popped after its stop");
            let fired = cpu1.join().unwrap();
            assert_eq!(fired, w.ts[0].fired());
            assert!(fired <= 2);
            assert!(!w.ts[0].st.is_active());
            w.check_empty();
        });
    }

    /// A function timer stopped while another CPU pops it (the time
    /// channels' `Stop` racing `sendTime`): exactly one of the two wins;
    /// if the pop won, the stop (false) bumped `seq` past the one the
    /// function was passed, so the function can tell it is stale (Go 1.23:
    /// no stale value after `Stop`), and `popped_seq` names that `seq`.
    #[test]
    fn loom_func_stop_vs_pop_seq() {
        model("loom_func_stop_vs_pop_seq", || {
            let w = World::new(&[0]);
            w.add(0, 0, 5);
            let w1 = w.clone();
            let cpu1 = thread::spawn(move || {
                run_others(
                    1,
                    2,
                    20,
                    |i, now| w1.ps[i].q().due(now),
                    |i| w1.run_funcs_due(i, 20),
                )
            });
            let stopped = w.stop(0);
            let fired = cpu1.join().unwrap();
            assert_eq!(
                fired + stopped as usize,
                1,
                "fired {fired} stopped {stopped}"
            );
            let t = &w.ts[0];
            if fired == 1 {
                let passed = t.fired_seq.load(Ordering::SeqCst);
                assert_eq!(t.st.popped_seq(), Some(passed));
                assert_ne!(t.st.seq(), passed, "the function cannot see the stop");
            }
            w.check_empty();
        });
    }
}
