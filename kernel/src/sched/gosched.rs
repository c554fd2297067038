//! Yielding the CPU voluntarily (Go: `Gosched`, `goschedImpl`, `goyield`).
//!
//! `gosched` puts the goroutine at the back of the global queue (it runs
//! again after everything queued, possibly elsewhere); `goyield` at the back
//! of this P's ring (it keeps its locality). The end of a preemption
//! (`preempt.rs`) goes through the same [`requeue`].
use core::ptr::NonNull;

use super::g::{G, Status};
use super::m::getm;
use super::park::{Locks, check_can_block};
use super::schedt::globrunqput;
use crate::arch::switch;

/// Go: `runtime.Gosched`: yields the processor; the goroutine goes to the
/// global queue and runs again later. Also a cooperative preemption point.
pub fn gosched() {
    super::preempt::safe_point();
    check_can_block("gosched", Locks::None);
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(gosched_m) };
}

/// Go: `gosched_m` -> `goschedImpl` (on g0).
unsafe extern "C" fn gosched_m(gp: usize) -> ! {
    // SAFETY: mcall passed the current goroutine, which we own now.
    let g = unsafe { &*(gp as *const G) };
    crate::trace::go_sched(g.goid(), false);
    requeue(g, globrunqput)
}

/// Go: `goyield`: like `gosched`, but the goroutine goes to the tail of this
/// P's local ring instead of the global queue (it keeps its locality).
pub fn goyield() {
    check_can_block("goyield", Locks::None);
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(goyield_m) };
}

/// Go: `goyield_m` (on g0).
unsafe extern "C" fn goyield_m(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: mcall passed the current goroutine, which we own now.
    let g = unsafe { &*(gp as *const G) };
    crate::trace::go_sched(g.goid(), true);
    mp.dropg(g, Status::Runnable);
    match mp.p() {
        Some(pp) => super::put::runqput(pp, NonNull::from(g), false),
        None => globrunqput(NonNull::from(g)),
    }
    super::proc::schedule()
}

/// `Running -> Runnable`, off this M, into the queue `put`, then schedule
/// (on g0: the end of `gosched_m` and `gopreempt_m`).
pub(super) fn requeue(g: &G, put: fn(NonNull<G>)) -> ! {
    let mp = getm();
    mp.dropg(g, Status::Runnable);
    put(NonNull::from(g));
    if mp.p().is_none() {
        // This M has no P (after procresize): it will not run the G itself,
        // so another CPU must be told (Go's goschedImpl needs no wakep: its
        // M keeps its P).
        super::halt::wakep();
    }
    super::proc::schedule()
}
