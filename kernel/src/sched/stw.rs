//! Stop the world and resize (Go: `stopTheWorld`, `procresize`,
//! `startTheWorld`, `gcstopm`, `worldsema`): how `set_gomaxprocs` changes
//! the number of Ps while goroutines run.
//!
//! The stopper sets `gcwaiting`, fixes the set of Ps it waits for
//! (`SCHED.stopmask`) and IPIs every CPU; each M notices at its next
//! `schedule` and parks in [`gcstopm`] until that stop (its generation,
//! `SCHED.stopgen`) ends. With every other P stopped, the stopper moves the
//! Gs and timers of removed Ps, sets `gomaxprocs` and restarts the world.
use core::sync::atomic::Ordering;

use super::g::WaitReason;
use super::m::{AcquireM, M};
use super::p::{PStatus, p};
use super::park::{Locks, check_can_block};
use super::schedt::{SCHED, globrunqput, gomaxprocs};
use crate::arch::percpu;

/// Go: `gcstopm`: this M's P stops for a stop-the-world; wait until it ends.
///
/// It waits for *this* stop to end, by its generation (`SCHED.stopgen`), not
/// for `gcwaiting` to be false: when one stop ends and the next begins at
/// once, an M that had not yet looked would see `gcwaiting` still (again)
/// true and keep halting without counting itself stopped for the new stop,
/// whose caller would then spin forever (issue 10 E). A new generation sends
/// it back through `find_runnable`, which stops it again, counted.
///
/// Which Ps a stop waits for is fixed when it begins (`SCHED.stopmask`, one
/// bit per P, Go counts them in `stopwait`): an M clears its own bit once.
/// Deciding from `M::p()` here instead would let an M whose P the very stop
/// in progress creates (procresize growing gomaxprocs) count itself and mark
/// its new P stopped after the stopper had restarted it.
pub(super) fn gcstopm(mp: &M) {
    // The generation first: if a newer stop begins after this load, the
    // wait below ends at once and the next round stops us for that one.
    let stop_gen = SCHED.stopgen.load(Ordering::SeqCst);
    let bit = 1u64 << mp.id;
    if SCHED.stopmask.load(Ordering::SeqCst) & bit != 0 {
        SCHED.idle.stop_spinning(mp.id);
        p(mp.id).set_status(PStatus::GcStop);
        // Status before the bit: the stopper sees the P stopped.
        SCHED.stopmask.fetch_and(!bit, Ordering::SeqCst);
    }
    mp.halt_while(|| {
        SCHED.gcwaiting.load(Ordering::SeqCst) && SCHED.stopgen.load(Ordering::SeqCst) == stop_gen
    });
}

/// Go: `worldsema`: one stop-the-world at a time. A sleeping lock: the
/// second caller parks instead of spinning with preemption off (two
/// stoppers spinning would each wait for the other's P forever, issue 10 F).
static WORLDSEMA: super::sema::Sema = super::sema::Sema::new(1);

/// Go: `GOMAXPROCS(n)`: stops the world, resizes the set of Ps (Go's
/// `procresize`: Gs of removed Ps go to the global queue), restarts.
/// Returns the previous value. `set_gomaxprocs(0)` only returns the current
/// value (Go's `GOMAXPROCS(0)` query idiom); `n` above the number of CPUs is
/// a clear error that keeps the current value.
pub fn set_gomaxprocs(n: usize) -> usize {
    check_can_block("set_gomaxprocs", Locks::None);
    let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    if n == 0 {
        // Go's `GOMAXPROCS(0)`: the query idiom.
        return gomaxprocs();
    }
    if n > ncpu {
        let old = gomaxprocs();
        crate::println!("set_gomaxprocs({n}): must be 1..={ncpu} (0 queries); keeping {old}");
        return old;
    }
    WORLDSEMA.acquire(WaitReason::Semacquire);
    let old = gomaxprocs();
    if n != old {
        stop_the_world_and_resize(n, old);
    }
    WORLDSEMA.release();
    if percpu::cpu_index() >= gomaxprocs() {
        // This CPU has no P any more: move to one that has (gosched puts us
        // on the global queue; this M then idles without a P).
        super::gosched::gosched();
    }
    old
}

/// Go: `stopTheWorld` + `procresize` + `startTheWorld` (caller holds
/// `WORLDSEMA`).
fn stop_the_world_and_resize(n: usize, old: usize) {
    let _m = AcquireM::new();
    let me = percpu::cpu_index();
    // Stop the world: every other P parks in gcstopm at its next schedule.
    let others = (u64::MAX >> (64 - old)) & !(1u64 << me);
    SCHED.stopmask.store(others, Ordering::SeqCst);
    SCHED.stopgen.fetch_add(1, Ordering::SeqCst);
    SCHED.gcwaiting.store(true, Ordering::SeqCst);
    for i in 0..SCHED.ncpu.load(Ordering::Relaxed) as usize {
        if i != me {
            crate::trace::ipi(i, true);
            crate::arch::ipi::send_wakeup(i);
        }
    }
    while SCHED.stopmask.load(Ordering::SeqCst) != 0 {
        core::hint::spin_loop();
    }
    // procresize.
    for i in n..old {
        let pp = p(i);
        pp.runq.drain(globrunqput);
        // SAFETY: the P is stopped; nobody else touches its free cache.
        unsafe { (*pp.gfree.get()).purge(&SCHED) };
        pp.set_status(PStatus::Dead);
        SCHED.idle.remove(i);
        super::timers::move_all(pp, p(0));
    }
    if me >= n {
        // Our own P is going away: move our runnable Gs to the global queue.
        let pp = p(me);
        pp.runq.drain(globrunqput);
    }
    for i in 0..n {
        if p(i).status() != PStatus::Idle {
            p(i).set_status(PStatus::Running);
        }
    }
    SCHED.gomaxprocs.store(n as u32, Ordering::SeqCst);
    crate::trace::gomaxprocs(n, old);
    super::proc::STEAL_ORDER.write().reset(n as u32);
    SCHED.gcwaiting.store(false, Ordering::SeqCst);
    for i in 0..SCHED.ncpu.load(Ordering::Relaxed) as usize {
        if i != me {
            crate::arch::ipi::send_wakeup(i);
        }
    }
    drop(_m);
}
