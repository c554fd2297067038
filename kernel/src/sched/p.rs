//! P: a processor, the right to run goroutines (Go: `type p struct`). Owns a
//! lock-free run queue, `runnext`, the scheduling tick, a free-G cache, a
//! sudog cache and counters.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use super::g::G;
use super::gfree::GFreeLocal;
use super::runq::RunQueue;
use super::slice::Slice;
use super::sudog::{KSudog, SudogCache};
use super::timers::PTimers;
use crate::arch::MAX_CPUS;

/// P status (Go: `_Pidle`, `_Prunning`, `_Pgcstop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PStatus {
    /// Not in use (beyond gomaxprocs).
    Dead = 0,
    /// Its M is idle (halted or about to).
    Idle = 1,
    /// Its M runs the scheduler or a goroutine.
    Running = 2,
    /// Stopped for a stop-the-world.
    GcStop = 3,
}

/// Counters of one P (read by tests and the scheduler stats).
#[derive(Default)]
pub struct PCounters {
    /// Goroutines started (execute calls).
    pub grun: AtomicU64,
    /// Successful steals this P made, and Gs it took that way.
    pub steals: AtomicU64,
    pub gs_stolen: AtomicU64,
    /// Times other Ps stole from this one.
    pub stolen_from: AtomicU64,
    /// Gs taken from the global queue.
    pub global_takes: AtomicU64,
    /// Times this P's M halted idle, and wake-ups it received.
    pub idle_halts: AtomicU64,
    pub wakeups: AtomicU64,
    /// Preemptions: asynchronous (injected at the timer interrupt),
    /// cooperative (a pending request honoured at a safe point), and
    /// requests refused as unsafe (left pending).
    pub async_preempts: AtomicU64,
    pub coop_preempts: AtomicU64,
    pub preempt_refused: AtomicU64,
    /// Steals of a victim's `runnext`: ~3 us back-offs taken first (the
    /// victim was running), and attempts without one (it was not).
    pub runnext_backoffs: AtomicU64,
    pub runnext_no_backoff: AtomicU64,
    /// Local-queue use (the history knobs' tests, `put.rs`): Gs `runqput`
    /// put into `runnext`, and straight into the ring's tail (a `runnext` G
    /// pushed out to the ring is not counted again; batches from the global
    /// queue and steals are counted as `global_takes`, `gs_stolen`). Only
    /// the owner writes them. Go's and gmpos's gets are not counted: the
    /// puts show whether the local queue is used at all, without a cost on
    /// every schedule.
    pub ring_puts: AtomicU64,
    pub runnext_puts: AtomicU64,
    /// Times this P's M became a spinning M in findRunnable (Go:
    /// `becomeSpinning`), and spin rounds of Mutex waiters while running
    /// on it (`spin.rs`): both 0 with `spin=off`.
    pub spinning_starts: AtomicU64,
    pub mutex_spins: AtomicU64,
}

pub struct P {
    pub id: usize,
    status: AtomicU8,
    /// Go: `p.runq`, `p.runnext`.
    pub runq: RunQueue<G>,
    /// Go: `p.schedtick`: incremented on every new time slice.
    pub schedtick: AtomicU32,
    /// Go: `p.gFree` (owner only).
    pub gfree: UnsafeCell<GFreeLocal<G>>,
    pub counters: PCounters,
    /// The current time slice (`slice.rs`).
    pub slice: Slice,
    /// Go: `p.timers`.
    pub timers: PTimers,
    /// Go: `p.sudogcache` (owner only, like `gfree`).
    pub sudogcache: UnsafeCell<SudogCache<KSudog>>,
}

// SAFETY: `gfree` and `sudogcache` are touched only by the M owning the P,
// with preemption off; the rest is atomic or the lock-free ring.
unsafe impl Sync for P {}

impl P {
    const fn new(id: usize) -> P {
        P {
            id,
            status: AtomicU8::new(PStatus::Dead as u8),
            runq: RunQueue::new(),
            schedtick: AtomicU32::new(0),
            gfree: UnsafeCell::new(GFreeLocal::new()),
            counters: PCounters {
                grun: AtomicU64::new(0),
                steals: AtomicU64::new(0),
                gs_stolen: AtomicU64::new(0),
                stolen_from: AtomicU64::new(0),
                global_takes: AtomicU64::new(0),
                idle_halts: AtomicU64::new(0),
                wakeups: AtomicU64::new(0),
                async_preempts: AtomicU64::new(0),
                coop_preempts: AtomicU64::new(0),
                preempt_refused: AtomicU64::new(0),
                runnext_backoffs: AtomicU64::new(0),
                runnext_no_backoff: AtomicU64::new(0),
                ring_puts: AtomicU64::new(0),
                runnext_puts: AtomicU64::new(0),
                spinning_starts: AtomicU64::new(0),
                mutex_spins: AtomicU64::new(0),
            },
            slice: Slice::new(),
            timers: PTimers::new(),
            sudogcache: UnsafeCell::new(SudogCache::new()),
        }
    }

    pub fn status(&self) -> PStatus {
        match self.status.load(Ordering::Acquire) {
            1 => PStatus::Idle,
            2 => PStatus::Running,
            3 => PStatus::GcStop,
            _ => PStatus::Dead,
        }
    }

    pub fn set_status(&self, s: PStatus) {
        self.status.store(s as u8, Ordering::Release);
    }
}

static PS: [P; MAX_CPUS] = {
    let mut ps = [const { P::new(0) }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        ps[i].id = i;
        i += 1;
    }
    ps
};

/// P `i` (Go: `allp[i]`).
pub fn p(i: usize) -> &'static P {
    &PS[i]
}
