//! Where a runnable goroutine goes (Go: `runqput`), as the history knobs
//! (`knobs.rs`) decide: this P's `runnext` or ring tail today, the ring
//! tail with `runnext=off`, the one global queue with `sched=gm`.
//!
//! Every goroutine-context put into a P's local queue goes through here
//! (`go`, `goready`, `goyield`), which is also where ring use is counted
//! (`PCounters::ring_puts`, `runnext_puts`: the knob tests show them zero).
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use super::g::G;
use super::knobs;
use super::p::P;
use super::schedt::{globrunqput, globrunqputbatch};

/// Go: `runqput(pp, gp, next)`. **Caller owns `pp`** (its M, preemption
/// off), as for the ring itself.
#[inline(always)]
pub(super) fn runqput(pp: &P, gp: NonNull<G>, next: bool) {
    let f = knobs::flags();
    if f == 0 {
        // Every knob at its default: today's `runqput`, plus the counter.
        bump(if next {
            &pp.counters.runnext_puts
        } else {
            &pp.counters.ring_puts
        });
        return pp.runq.put(gp, next, globrunqputbatch);
    }
    if f & knobs::GM != 0 {
        // Go 1.0: `globrunqput` under `sched.lock`, for every G.
        globrunqput(gp);
        return;
    }
    let next = next && f & knobs::NO_RUNNEXT == 0;
    bump(if next {
        &pp.counters.runnext_puts
    } else {
        &pp.counters.ring_puts
    });
    pp.runq.put(gp, next, globrunqputbatch);
}

/// Adds one to a counter only the P's owner writes: a load and a store,
/// no locked RMW on the hot path (readers may see it a moment late).
#[inline]
pub(super) fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}
