//! schedt: the scheduler's global state (Go: `type schedt struct`, `sched`).
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::g::G;
use super::gfree::{GFreeGlobal, GFreeGlobalLock};
use super::glist::GQueue;
use crate::lock::{IrqSpinLock, SpinLock};

pub struct Sched {
    /// Go: `sched.runq` under `sched.lock`. Interrupt handlers push here
    /// (never into a P's ring), so the lock is held with interrupts off.
    pub runq: IrqSpinLock<GQueue<G>>,
    /// Lock-free mirror of `runq.len()` (Go reads `sched.runqsize` racily
    /// to skip taking the lock).
    pub runqsize: AtomicUsize,
    /// Idle Ps and spinning Ms (Go: `sched.pidle`, `npidle`, `nmspinning`,
    /// `needspinning`, `m.spinning`): the protocol of `idle.rs`.
    pub idle: super::idle::Idle<{ crate::arch::MAX_CPUS }>,
    /// Go: `sched.gFree`.
    pub gfree: SpinLock<GFreeGlobal<G>>,
    pub gfree_n: AtomicUsize,
    /// Go: `sched.goidgen`.
    pub goidgen: AtomicU64,
    /// Number of Ps in use (Go: `gomaxprocs`) and CPUs online.
    pub gomaxprocs: AtomicU32,
    pub ncpu: AtomicU32,
    /// The user goroutines, live and parked, in one word so that one load
    /// is a consistent snapshot (the deadlock check needs "every live one
    /// parked" at one instant): live ones (Go: `gcount()`) in the high 32
    /// bits, parked ones (status `Waiting`) in the low 32. Kept by
    /// `casgstatus` only; read with [`num_goroutine`], [`nwaiting`].
    /// System goroutines are not counted (Go: `isSystemGoroutine`).
    pub gcounts: AtomicU64,
    /// Parked user goroutines waiting on an interrupt source (a channel
    /// interrupt handlers feed): while there is one, nothing is a deadlock.
    pub nexternal: AtomicU32,
    /// Gs ever allocated (free-list reuse keeps this bounded).
    pub nallocated: AtomicU64,
    /// Head of the list of all Gs (Go: `allgs`), linked through `alllink`.
    pub allgs: AtomicPtr<G>,
    /// Go: `sched.gcwaiting`: a stop-the-world is in progress.
    pub gcwaiting: AtomicBool,
    /// Ps still to stop for the stop-the-world, one bit each (Go counts
    /// them in `sched.stopwait`): fixed when the stop begins, each M clears
    /// its own bit in `gcstopm`.
    pub stopmask: AtomicU64,
    /// Generation of the stop-the-world: incremented as each one begins
    /// (Ms in `gcstopm` wait for their own stop to end, not for a flag a
    /// back-to-back stop sets again).
    pub stopgen: AtomicU64,
    /// Set once the main goroutine is running: before that `wakep` is moot.
    pub mainstarted: AtomicBool,
    /// Goroutines woken by their timers (sleepers), FIFO, served before
    /// anything else by every P (`policy::find_runnable_fast` step 1; Go
    /// gets a similar effect by readying timer goroutines into `runnext`
    /// from `checkTimers`). Interrupt-safe.
    pub wokenq: IrqSpinLock<GQueue<G>>,
    /// Lock-free mirror of `wokenq.len()`.
    pub nwoken: AtomicUsize,
}

pub static SCHED: Sched = Sched {
    runq: IrqSpinLock::new(GQueue::new()),
    runqsize: AtomicUsize::new(0),
    idle: super::idle::Idle::new(),
    gfree: SpinLock::new(GFreeGlobal::new()),
    gfree_n: AtomicUsize::new(0),
    goidgen: AtomicU64::new(0),
    gomaxprocs: AtomicU32::new(1),
    ncpu: AtomicU32::new(1),
    gcounts: AtomicU64::new(0),
    nexternal: AtomicU32::new(0),
    nallocated: AtomicU64::new(0),
    allgs: AtomicPtr::new(core::ptr::null_mut()),
    gcwaiting: AtomicBool::new(false),
    stopmask: AtomicU64::new(0),
    stopgen: AtomicU64::new(0),
    mainstarted: AtomicBool::new(false),
    wokenq: IrqSpinLock::new(GQueue::new()),
    nwoken: AtomicUsize::new(0),
};

impl GFreeGlobalLock<G> for Sched {
    fn maybe_nonempty(&self) -> bool {
        self.gfree_n.load(Ordering::Relaxed) != 0
    }

    fn with_locked<R>(&self, f: impl FnOnce(&mut GFreeGlobal<G>) -> R) -> R {
        let mut g = self.gfree.lock();
        let r = f(&mut g);
        self.gfree_n.store(g.len(), Ordering::Relaxed);
        r
    }
}

/// Go: `globrunqput`: puts `gp` at the tail of the global queue. Safe from
/// interrupt handlers.
pub fn globrunqput(gp: NonNull<G>) {
    let mut q = SCHED.runq.lock();
    // SAFETY: `gp` is owned by the caller and on no other list.
    unsafe { q.push_back(gp) };
    SCHED.runqsize.store(q.len(), Ordering::Release);
}

/// Queues a goroutine woken by its timer (see `wokenq`). Safe from
/// interrupt handlers.
pub fn wokenput(gp: NonNull<G>) {
    let mut q = SCHED.wokenq.lock();
    // SAFETY: the G was just readied and is on no other list.
    unsafe { q.push_back(gp) };
    SCHED.nwoken.store(q.len(), Ordering::SeqCst);
}

/// Takes the oldest timer-woken goroutine, if any.
pub fn wokenget() -> Option<NonNull<G>> {
    if SCHED.nwoken.load(Ordering::Acquire) == 0 {
        return None;
    }
    let mut q = SCHED.wokenq.lock();
    let g = q.pop_front();
    SCHED.nwoken.store(q.len(), Ordering::Release);
    g
}

/// Go: `globrunqputbatch`: a batch from an overflowing local ring, in one
/// locked operation.
pub fn globrunqputbatch(batch: &[NonNull<G>]) {
    let mut q = SCHED.runq.lock();
    // SAFETY: the Gs came off the caller's ring and are on no other list.
    unsafe { q.push_back_slice(batch) };
    SCHED.runqsize.store(q.len(), Ordering::Release);
}

/// Go: `gomaxprocs`: the number of Ps in use.
pub fn gomaxprocs() -> usize {
    SCHED.gomaxprocs.load(Ordering::Relaxed) as usize
}

/// One live user goroutine in [`Sched::gcounts`].
pub const GCOUNT_LIVE: u64 = 1 << 32;
/// One parked user goroutine in [`Sched::gcounts`].
pub const GCOUNT_WAITING: u64 = 1;

/// Go: `runtime.NumGoroutine`: live user goroutines.
pub fn num_goroutine() -> u64 {
    SCHED.gcounts.load(Ordering::Relaxed) >> 32
}

/// Parked user goroutines.
pub fn nwaiting() -> u64 {
    SCHED.gcounts.load(Ordering::Relaxed) & 0xffff_ffff
}
