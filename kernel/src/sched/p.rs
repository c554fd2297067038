//! P: a processor, the right to run goroutines (Go: `type p struct`). Owns a
//! lock-free run queue, `runnext`, the scheduling tick, a free-G cache and
//! counters.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use super::g::G;
use super::gfree::GFreeLocal;
use super::runq::RunQueue;
use crate::arch::MAX_CPUS;
use crate::time::timer::PTimers;

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
    /// `schedtick` when the current time slice began, and when it ends (Go:
    /// `sysmontick.schedtick`/`schedwhen` + `forcePreemptNS`).
    pub slice_tick: AtomicU32,
    pub slice_deadline: AtomicU64,
    /// The run queue's mark when the current slice began
    /// (`RunQueue::mark`): after an expiry, what was queued before it runs
    /// before the global queue, what the slice queued after it (see
    /// `policy::find_runnable_fast`). Written by this P's CPU only.
    pub slice_mark_tail: AtomicU32,
    pub slice_mark_next: core::sync::atomic::AtomicUsize,
    /// The last G was preempted for an expired slice: the next
    /// findRunnable looks at the global queue first and does not let
    /// `runnext` inherit the slice.
    pub slice_expired: core::sync::atomic::AtomicBool,
    /// The slice was cut short because timers woke goroutines: the
    /// goroutine preempted for it yields to them but keeps its place (it
    /// goes behind the woken ones, not to the back of the global queue).
    pub urgent_cut: core::sync::atomic::AtomicBool,
    /// Go: `p.timers`.
    pub timers: PTimers,
}

// SAFETY: `gfree` is touched only by the M owning the P, with preemption off;
// the rest is atomic or the lock-free ring.
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
            },
            slice_tick: AtomicU32::new(0),
            slice_deadline: AtomicU64::new(u64::MAX),
            slice_mark_tail: AtomicU32::new(0),
            slice_mark_next: core::sync::atomic::AtomicUsize::new(0),
            slice_expired: core::sync::atomic::AtomicBool::new(false),
            urgent_cut: core::sync::atomic::AtomicBool::new(false),
            timers: PTimers::new(),
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

    /// A new time slice begins at `now` (Go: sysmon records `schedwhen`):
    /// its deadline, and the run queue's mark.
    pub fn begin_slice(&self, now: u64, slice_ns: u64) {
        let mark = self.runq.mark();
        self.slice_mark_tail.store(mark.tail, Ordering::Relaxed);
        self.slice_mark_next.store(mark.runnext, Ordering::Relaxed);
        self.slice_deadline
            .store(now.saturating_add(slice_ns), Ordering::Relaxed);
    }

    /// The run queue's mark taken when the current slice began.
    pub fn slice_mark(&self) -> super::runq::RunqMark {
        super::runq::RunqMark {
            tail: self.slice_mark_tail.load(Ordering::Relaxed),
            runnext: self.slice_mark_next.load(Ordering::Relaxed),
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
