//! Idle CPUs: the kernel's side of `idle.rs` (Go: `stopm`, `startm`,
//! `wakep`, `resetspinning`). An M with nothing to run marks its P idle and
//! halts its CPU (`sti; hlt`); `wakep` hands an idle P back to its M (which
//! then spins, looking for work) and sends it a wake-up IPI.
//!
//! The protocol, its invariant and its fence pairs are in `idle.rs`, which
//! is pure and loom-checked; here are only the machine operations it is
//! generic over: interrupts, `hlt`, IPIs and "is there work anywhere".
use core::sync::atomic::{AtomicU64, Ordering};

use super::idle::{self, Machine};
use super::m::{AcquireM, M, getm};
use super::p::{P, PStatus, p};
use super::schedt::{SCHED, gomaxprocs};
use crate::arch::percpu;

/// Test hook (issue 10 D's regression test): nanoseconds `wakep` stalls
/// between taking an idle P and waking its M. 0 in normal runs.
pub static WAKEP_WINDOW_DELAY_NS: AtomicU64 = AtomicU64::new(0);

/// The machine `idle.rs` runs on: this CPU.
struct Cpu<'a> {
    mp: &'a M,
}

impl Machine for Cpu<'_> {
    fn any_work(&self) -> bool {
        if SCHED.runqsize.load(Ordering::SeqCst) != 0 || SCHED.nwoken.load(Ordering::SeqCst) != 0 {
            return true;
        }
        // With stealing off (`steal=off`, `sched=gm`) other Ps' rings are
        // not work this M may take: counting them would make it take its P
        // back, find nothing and idle again, round after round, while a
        // busy P holds the work (which that P runs itself).
        super::knobs::steal() && (0..gomaxprocs()).any(|i| !p(i).runq.is_empty())
    }

    fn work_before_halt(&self, m: usize) -> bool {
        let pp = p(m);
        SCHED.runqsize.load(Ordering::SeqCst) != 0
            || SCHED.nwoken.load(Ordering::SeqCst) != 0
            || SCHED.gcwaiting.load(Ordering::SeqCst)
            || pp.timers.due(crate::clock::now_ns())
    }

    fn interrupts_off(&self) {
        crate::arch::irq::disable();
    }

    fn interrupts_on(&self) {
        crate::arch::irq::enable();
    }

    fn halt(&self, m: usize) {
        let pp = p(m);
        pp.counters.idle_halts.fetch_add(1, Ordering::Relaxed);
        // The last CPU to go idle looks for a deadlock (Go: `checkdead`
        // from `mput`). With interrupts off: nothing here can be woken
        // half-way, and a report exits or returns at once.
        if super::deadlock::all_ps_idle() {
            super::deadlock::checkdead();
        }
        // Tickless: an idle P's timer is armed for its next timer only.
        super::tick::rearm(Some(pp));
        self.mp.halt();
    }

    fn wake(&self, m: usize) {
        super::m::m(m).wakeups.fetch_add(1, Ordering::Relaxed);
        crate::trace::ipi(m, false);
        crate::arch::ipi::send_wakeup(m);
    }

    fn this_m(&self) -> usize {
        percpu::cpu_index()
    }

    fn pinned(&self, f: &mut dyn FnMut()) {
        let _m = AcquireM::new();
        f()
    }

    fn wakep_window(&self) {
        let ns = WAKEP_WINDOW_DELAY_NS.load(Ordering::Relaxed);
        if ns != 0 {
            let until = crate::clock::now_ns() + ns;
            while crate::clock::now_ns() < until {
                core::hint::spin_loop();
            }
        }
    }
}

/// Go: `pidleput` + `stopm`: the P goes idle and the CPU halts until the P
/// is busy again (see `idle.rs` for the protocol).
pub(super) fn stopm(mp: &M, pp: &P) {
    crate::trace::proc_stop(pp.id);
    // An idle CPU keeps nothing buffered (it may halt for long).
    crate::trace::flush_point(true);
    pp.set_status(PStatus::Idle);
    let how = match SCHED.idle.idle(mp.id, &Cpu { mp }) {
        idle::Woken::Recheck => {
            mp.idle_rechecks.fetch_add(1, Ordering::Relaxed);
            1
        }
        idle::Woken::Work => {
            mp.idle_work_seen.fetch_add(1, Ordering::Relaxed);
            2
        }
        idle::Woken::Handed => {
            pp.counters.wakeups.fetch_add(1, Ordering::Relaxed);
            mp.idle_handed.fetch_add(1, Ordering::Relaxed);
            3
        }
    };
    crate::trace::proc_start(pp.id, how);
    pp.set_status(PStatus::Running);
    if !super::knobs::spin() {
        // `spin=off`: an M handed its P by wakep (or taking it back for a
        // `needspinning` note) is counted spinning by the hand-off; it stops
        // spinning before it looks at any queue, so a producer whose wakep
        // saw that count and woke no one published before our scan
        // (knobs.rs: `spin=off`). No wake-up of another M: with nothing
        // found each would wake the next, for ever. (Here, off the hot
        // path: findRunnable itself never makes an M spin with `spin=off`.)
        SCHED.idle.stop_spinning(mp.id);
    }
}

/// Go: `resetspinning`: a spinning M found work; if it was the last spinning
/// M and Ps are idle, wake another to look for more.
pub(super) fn resetspinning(mp: &M) {
    SCHED.idle.stop_spinning(mp.id);
    if SCHED.idle.should_wake_after_spin() {
        wakep();
    }
}

/// Go: `wakep`: if there is an idle P and no spinning M, wake one idle CPU to
/// look for work. Callers publish the work first (see `idle.rs`).
pub fn wakep() {
    if !SCHED.mainstarted.load(Ordering::Relaxed) {
        return;
    }
    SCHED.idle.wakep(&Cpu { mp: getm() });
}
