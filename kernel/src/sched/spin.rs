//! Whether a `sync.Mutex` waiter may spin before parking (Go:
//! `sync_runtime_canSpin`, `sync_runtime_doSpin` in runtime/proc.go).
//!
//! A Mutex is cooperative, so spinning is conservative: only a few rounds,
//! and only when the holder is likely running on another CPU right now and
//! nothing else is waiting for this one. Unlike the runtime's own locks
//! there is no passive spinning (yielding): there may be work elsewhere.
use core::sync::atomic::Ordering;

use super::m::getm;
use super::schedt::{SCHED, gomaxprocs};

/// Go: `active_spin`: at most this many spin rounds per lock attempt.
pub const ACTIVE_SPIN: u32 = 4;
/// Go: `active_spin_cnt`: `pause`s per round (Go's `procyield(30)`).
pub const ACTIVE_SPIN_CNT: u32 = 30;

/// Go: `sync_runtime_canSpin(i)`: spin round `iter` is allowed if this is a
/// multi-CPU machine, gomaxprocs > 1, at least one other P is running (not
/// idle, not spinning for work: the holder may be on it), and this P's run
/// queue is empty (a runnable goroutine here would wait for our spin).
///
/// Never with `spin=off` (the history knob, `knobs.rs`): the waiter parks
/// at once.
pub fn can_spin(iter: u32) -> bool {
    if iter >= ACTIVE_SPIN
        || !super::knobs::spin()
        || SCHED.ncpu.load(Ordering::Relaxed) <= 1
        || gomaxprocs() as u32 <= SCHED.idle.npidle() + SCHED.idle.nmspinning() + 1
    {
        return false;
    }
    // A hint: if we migrate between reading our P and its queue we read
    // another P's queue, which is harmless (Go reads it just as racily).
    getm().p().is_none_or(|pp| pp.runq.is_empty())
}

/// Go: `sync_runtime_doSpin`: one spin round.
pub fn do_spin() {
    // Counted for the `spin=` knob's test. Goroutine context: we may move
    // to another CPU meanwhile, hence the locked add (not a hot path).
    if let Some(pp) = getm().p() {
        pp.counters.mutex_spins.fetch_add(1, Ordering::Relaxed);
    }
    for _ in 0..ACTIVE_SPIN_CNT {
        core::hint::spin_loop();
    }
}
