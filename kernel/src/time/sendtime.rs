//! The runtime side of the time channels (Go: runtime/time.go's `sendTime`,
//! `goFunc`, `t.sendLock`, `t.seq`, `timerchandrain`): one heap-allocated
//! [`Shared`] per `Timer`, `Ticker`, `after`, `tick` or `after_func`, whose
//! runtime timer is a *function* timer (`sched/timers.rs`).
//!
//! # Why the send runs on g0, not in the timer interrupt
//!
//! The firing function takes a channel's lock and, for `after_func`, starts
//! a goroutine. Neither may happen in an interrupt: `go` pushes into the
//! P's run ring (single producer: the interrupted owner may be mid-push),
//! and only channels made with `chan_from_interrupts` may be touched from a
//! handler; a goroutine parked on such a channel counts as waiting on an
//! interrupt source, which would hide a real deadlock such as
//! `after(d).recv()` after a `stop` (nothing can ever fire). So a time
//! channel is an ordinary `chan(1)`, and its timer is a function timer that
//! only a scheduler loop on g0 runs (`timers::run_funcs_due`): the
//! interrupt notices it is due, wakes or cuts, and g0 sends. The price is a
//! delivery up to about half a millisecond late when the P's CPU is busy
//! with a goroutine (its slice is cut as for woken sleepers); an idle CPU
//! sends as soon as it wakes. Deadlock detection stays exact: while a
//! function timer is pending the program is not called dead (Go's
//! `checkdead` gives up on pending timers too); once it fired or was
//! stopped, a goroutine still blocked on its channel is reported.
//!
//! # The protocol (Go 1.23: no stale value after `stop` or `reset`)
//!
//! - The timer channel has capacity 1 and the send never blocks: a value
//!   nobody is ready for replaces nothing and is dropped when the slot is
//!   full (Go's `sendTime`: `select { case c <- now: default: }`), so a slow
//!   ticker reader gets the latest-but-one tick, not a queue.
//! - A firing passes its sequence number, read when the timer left the heap.
//!   [`Shared::send_lock`] (Go's `t.sendLock`) is held across the check
//!   "sequence unchanged" and the send; `stop` and `reset` hold it while
//!   they bump the sequence (`timers::stop` bumps it) and drain the channel's
//!   slot. So a firing either completes before the stop (and its value is
//!   drained by it) or sees the new sequence and sends nothing.
//! - The runtime's heap holds one strong reference to the `Shared` while the
//!   timer is pending; a firing takes that reference over. The channel is
//!   held weakly: a firing whose channel has no handle left sends nothing
//!   and does not re-arm, and the `Shared` is freed with the firing's
//!   reference. So a dropped `after` channel, `Timer` or `tick` channel
//!   costs a pending timer until its next firing, and nothing after it.
//!
//! Lock order: `send_lock` -> a channel lock (the send, the drain) and
//! `send_lock` -> a P's function-timer heap (`stop`, re-arming). Nothing
//! else is taken under it; the upgraded channel handle and the firing's
//! reference are dropped after it is released.
use alloc::sync::Arc;

use super::Instant;
use crate::clock;
use crate::lock::SpinLock;
use crate::sched::AcquireM;
use crate::sched::timerheap::next_period;
use crate::sched::timers::{self, Timer as RtTimer, TimerFn};
use crate::sync::chan::{Chan, WeakChan};

/// What a firing does.
pub(super) enum Action {
    /// Go: `sendTime`: a non-blocking send of the firing's time.
    Send(WeakChan<Instant>),
    /// Go: `goFunc`: start the function in a new goroutine.
    Go(Arc<dyn Fn() + Send + Sync>),
}

/// Guarded by [`Shared::send_lock`].
pub(super) struct Locked {
    /// Ticker period in ns (0: one-shot).
    pub period: u64,
    /// The sequence number of the last firing that got through its locked
    /// part (sent, or saw it was stale): with the runtime timer's
    /// `popped_seq`, tells `stop` that a firing left the heap but has not
    /// delivered yet (Go's `t.isSending`).
    done_seq: Option<u64>,
}

/// One time channel's or `after_func`'s timer state.
pub(super) struct Shared {
    rt: RtTimer,
    /// Go: `t.sendLock`.
    send_lock: SpinLock<Locked>,
    action: Action,
}

impl Shared {
    pub(super) fn new(action: Action, period: u64) -> Arc<Shared> {
        let sh = Arc::new(Shared {
            rt: RtTimer::new(TimerFn::Func {
                f: fire,
                arg: core::ptr::null(),
            }),
            send_lock: SpinLock::new(Locked {
                period,
                done_seq: None,
            }),
            action,
        });
        // The timer's argument is the `Shared` itself (the heap's reference,
        // `Arc::into_raw`, is the same pointer).
        sh.rt.set_func(TimerFn::Func {
            f: fire,
            arg: Arc::as_ptr(&sh) as *const (),
        });
        sh
    }

    /// Schedules the first firing `ns` from now.
    pub(super) fn start(self: &Arc<Self>, ns: u64) {
        let st = self.send_lock.lock();
        self.arm(&st, clock::convert::deadline_after(clock::now_ns(), ns));
    }

    /// Adds the timer at `when` on this CPU's P; the heap takes a reference.
    /// Called with `send_lock` held (the guard proves it), the timer in no
    /// heap.
    fn arm(self: &Arc<Self>, _st: &Locked, when: u64) {
        // Our P, and no migration between the lookup and the add.
        let _m = AcquireM::new();
        // The heap's reference, given back by `stop` or taken over by the
        // firing (`fire`'s `Arc::from_raw`).
        let _ = Arc::into_raw(self.clone());
        timers::add_here(&self.rt, when);
    }

    /// Go: `t.stop` and `timerchandrain` with `send_lock` held: removes a
    /// pending timer, cancels a firing in flight, empties the channel's slot.
    /// True if a value or a function run was stopped from arriving (Go
    /// 1.23's `Stop` result).
    fn stop_locked(&self, st: &mut Locked) -> bool {
        // `seq` changes only in `timers::stop`, always called under
        // `send_lock`: stable here.
        let seq = self.rt.seq();
        let was_pending = timers::stop(&self.rt);
        if was_pending {
            // SAFETY: the heap held one reference (`arm`), now ours to give
            // back; the caller holds another, so this is not the last.
            unsafe { Arc::decrement_strong_count(self as *const Shared) };
        }
        // Left the heap at `seq` and not through its locked part yet: our
        // bump makes it send nothing, so it counts as stopped (Go's
        // `isSending`).
        let in_flight = !was_pending
            && st.period == 0
            && self.rt.popped_seq() == Some(seq)
            && st.done_seq != Some(seq);
        let drained = match &self.action {
            Action::Send(w) => w.upgrade().is_some_and(|c| c.try_recv().is_ok()),
            Action::Go(_) => false,
        };
        was_pending || in_flight || drained
    }

    /// Go: `Timer.Stop` / `Ticker.Stop`.
    pub(super) fn stop(&self) -> bool {
        let mut st = self.send_lock.lock();
        self.stop_locked(&mut st)
    }

    /// Go: `Timer.Reset` / `Ticker.Reset`: stops, then the next firing `ns`
    /// from now; `period` replaces a ticker's (None: unchanged). Returns
    /// what `stop` would have.
    pub(super) fn reset(self: &Arc<Self>, ns: u64, period: Option<u64>) -> bool {
        let mut st = self.send_lock.lock();
        let was = self.stop_locked(&mut st);
        if let Some(p) = period {
            st.period = p;
        }
        self.arm(&st, clock::convert::deadline_after(clock::now_ns(), ns));
        was
    }

    /// Stop the timer now if `c` is the last handle of its channel (the
    /// owner is being dropped): nobody could receive what it sends.
    pub(super) fn stop_if_last(&self, c: &Chan<Instant>) {
        if c.is_unique() {
            self.stop();
        }
    }
}

/// The function timer's function, on g0 (`timers::run_funcs_due`): the
/// heap's reference to the `Shared` passes to us.
fn fire(arg: *const (), seq: u64) {
    // SAFETY: `arg` is the `Arc<Shared>` pointer whose count `arm` gave to
    // the heap; the timer left the heap, so that count is ours now.
    let sh = unsafe { Arc::from_raw(arg as *const Shared) };
    let when = sh.rt.when();
    let mut chan = None;
    let mut go_f = None;
    {
        let mut st = sh.send_lock.lock();
        // Unchanged since the timer left the heap: no stop or reset came in
        // between (Go: `if t.seq != seq { f = nop }`).
        if sh.rt.seq() == seq {
            match &sh.action {
                Action::Send(w) => {
                    if let Some(c) = w.upgrade() {
                        // Go's sendTime: the time it was due; dropped if the
                        // slot is full (nobody was ready for the last one).
                        let _ = c.try_send(Instant(when));
                        if st.period != 0 {
                            let next = next_period(when, st.period, clock::now_ns());
                            sh.arm(&st, next);
                        }
                        chan = Some(c);
                    }
                    // No handle left: nobody can receive; no re-arm, and the
                    // Shared goes with our reference below.
                }
                Action::Go(f) => go_f = Some(f.clone()),
            }
        }
        st.done_seq = Some(seq);
    }
    if let Some(f) = go_f {
        // Go: `goFunc`: `go f()`. On g0, onto this P's runnext.
        crate::sched::go(move || f());
    }
    // Outside the lock: the last handle of the channel, or of the Shared,
    // may go here (freeing only memory: a channel's buffered `Instant`).
    drop(chan);
    drop(sh);
}
