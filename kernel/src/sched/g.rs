//! G: a goroutine (Go: `type g struct` in runtime2.go).
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

use super::glist::{Linked, SchedLink};
use crate::arch::switch::Gobuf;

/// Goroutine status (Go: `_Gidle`, `_Grunnable`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Just allocated, not yet initialised (Go: `_Gidle`).
    Idle = 0,
    /// On a run queue, not running (Go: `_Grunnable`).
    Runnable = 1,
    /// Running on a CPU (Go: `_Grunning`).
    Running = 2,
    /// Blocked in `gopark`; `wait_reason` says why (Go: `_Gwaiting`).
    Waiting = 3,
    /// Exited; on a free list for reuse (Go: `_Gdead`). (Go's
    /// `_Gpreempted` has no counterpart: a preempted goroutine goes straight
    /// from `Running` to `Runnable` on g0.)
    Dead = 4,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Idle,
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Waiting,
            _ => Status::Dead,
        }
    }

    /// Go's name for the status, as goroutine dumps print it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Runnable => "runnable",
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Dead => "dead",
        }
    }
}

/// Why a goroutine is waiting (Go: `waitReason`, with Go's strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum WaitReason {
    Zero = 0,
    ChanReceive,
    ChanSend,
    ChanReceiveNilChan,
    ChanSendNilChan,
    Select,
    SelectNoCases,
    Sleep,
    SyncMutexLock,
    SyncRWMutexRLock,
    SyncRWMutexLock,
    SyncWaitGroupWait,
    SyncCondWait,
    /// gmpos's own: Go has no such string (a goroutine waiting in
    /// `Once.Do` shows Go's `sync.Mutex.Lock`, the Once's inner mutex);
    /// here each primitive names itself in a dump.
    SyncOnce,
    /// Go: `waitReasonSemacquire`: the runtime semaphore itself (the
    /// counting `Semaphore`, `set_gomaxprocs`'s `worldsema`).
    Semacquire,
    Preempted,
    /// Parked by a test or a runtime-internal wait.
    Park,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Zero => "",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::SyncMutexLock => "sync.Mutex.Lock",
            WaitReason::SyncRWMutexRLock => "sync.RWMutex.RLock",
            WaitReason::SyncRWMutexLock => "sync.RWMutex.Lock",
            WaitReason::SyncWaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::SyncCondWait => "sync.Cond.Wait",
            WaitReason::SyncOnce => "sync.Once.Do",
            WaitReason::Semacquire => "semacquire",
            WaitReason::Preempted => "preempted",
            WaitReason::Park => "park",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        if v <= WaitReason::Park as u8 {
            // SAFETY: WaitReason is repr(u8) with contiguous discriminants
            // 0..=Park, and `v` is in that range.
            unsafe { core::mem::transmute::<u8, WaitReason>(v) }
        } else {
            WaitReason::Zero
        }
    }
}

/// Bytes of closure stored inside the G (larger closures are boxed).
pub const INLINE_FN_BYTES: usize = 64;

/// The goroutine's entry closure, stored inline (no heap trip per spawn for
/// small closures: `go(move || ...)` capturing a few words).
#[repr(C, align(16))]
pub struct FnSlot {
    pub bytes: UnsafeCell<[u8; INLINE_FN_BYTES]>,
    /// Moves the closure out of `bytes` and runs it.
    pub call: UnsafeCell<Option<unsafe fn(*mut u8)>>,
}

/// A goroutine. `#[repr(C)]` with the [`Gobuf`] first: the context switch
/// addresses it at offset 0.
#[repr(C)]
pub struct G {
    /// Saved context while not running (Go: `g.sched`).
    pub sched: UnsafeCell<Gobuf>,
    /// Stack bounds: `stack_lo` is the bottom of the mapped part, `stack_hi`
    /// the top; `stack_window` the window's base (its guard page). See
    /// `stack.rs` (Go: `g.stack`).
    pub stack_lo: AtomicU64,
    pub stack_hi: AtomicU64,
    pub stack_window: AtomicU64,
    /// The stack descriptor's segments: segment i spans
    /// `[seg_lo[i], seg_lo[i-1])` (`stack_hi` for i = 0); frames are in the
    /// page-table entries.
    pub nsegs: AtomicU32,
    pub seg_lo: [AtomicU64; super::stack::MAX_SEGS],
    /// Go: `g.goid` (1 = main).
    pub goid: AtomicU64,
    /// Go: `g.parentGoid`.
    pub parent_goid: AtomicU64,
    /// Go: `g.gopc`: the return address of the `go()` call that created it
    /// (`created by` in tracebacks; 0 for goroutines the runtime starts).
    pub gopc: AtomicU64,
    /// While it is off the CPU after an asynchronous preemption: the
    /// register-save frame (`AsyncPreemptFrame`) on its stack, else 0. Its
    /// traceback starts at the interrupted RIP saved there.
    pub async_frame: AtomicU64,
    status: AtomicU8,
    wait_reason: AtomicU8,
    /// A runtime-internal goroutine (Go: `isSystemGoroutine`): not counted
    /// by `num_goroutine` or the deadlock check, left out of dumps. Set by
    /// `go_system` before the G is published.
    pub system: AtomicBool,
    /// Parked waiting on an interrupt source (`park::external_wait`):
    /// counted in `SCHED.nexternal` until readied.
    pub external_wait: AtomicBool,
    /// Go: `g.preempt`: a preemption request is pending, honoured at the
    /// next cooperative safe point (`preempt::safe_point`). Go also sets
    /// `stackguard0 = stackPreempt` so the next function prologue notices;
    /// gmpos's stacks grow by page faults and have no prologue check, so the
    /// flag alone is the request.
    pub preempt: AtomicBool,
    /// Go: `g.waitsince` (ns since boot) when it parked.
    pub wait_since: AtomicU64,
    /// Go: `g.trackingStamp`: when it last became runnable, while runnable
    /// latency is tracked (`latency.rs`; 0: not stamped).
    pub runnable_since: AtomicU64,
    /// Entry function name (`core::any::type_name` of the closure: the
    /// booted kernel is stripped, dumps still name functions) and creator's.
    pub entry_name: UnsafeCell<&'static str>,
    pub creator_name: UnsafeCell<&'static str>,
    /// CPU (M) running it, or u32::MAX.
    pub m: AtomicU32,
    /// Bitmask of CPUs it ran on since its stack's last unmap (set to the
    /// unmapping CPU by the unmap): CPUs known to hold no translation of its
    /// unmapped pages (see `stack::flush_point`).
    pub ran_on: AtomicU64,
    /// The TLB-epoch generation of its stack's last unmap (0: never), and
    /// the range unmapped since every CPU last passed one (`stack.rs`).
    pub retired_gen: AtomicU64,
    pub retired_lo: AtomicU64,
    pub retired_hi: AtomicU64,
    /// Go: `g.schedlink`.
    pub schedlink: SchedLink<G>,
    /// Next in the list of all Gs (Go: `allgs`), never unlinked.
    pub allnext: AtomicPtr<G>,
    /// The watchdog's state (`watchdog.rs`): run count, wait record.
    pub watch: super::watchdog::GWatch,
    pub entry: FnSlot,
}

// SAFETY: a G is shared between CPUs, but its non-atomic parts (`sched`,
// `entry`, the names) are only touched by whoever owns the G at that moment:
// the CPU running it, or the scheduler that holds it off any queue. Handing
// a G over always goes through a release/acquire (run queue, lock, status).
unsafe impl Sync for G {}
// SAFETY: as above.
unsafe impl Send for G {}

// SAFETY: `schedlink` is a field of the G, the same on every call.
unsafe impl Linked for G {
    fn sched_link(&self) -> &SchedLink<G> {
        &self.schedlink
    }
}

impl super::gfree::FreeG for G {
    fn has_stack(&self) -> bool {
        self.stack_hi.load(Ordering::Relaxed) != 0
    }
}

impl G {
    pub fn new() -> G {
        G {
            sched: UnsafeCell::new(Gobuf::default()),
            stack_lo: AtomicU64::new(0),
            stack_hi: AtomicU64::new(0),
            stack_window: AtomicU64::new(0),
            nsegs: AtomicU32::new(0),
            seg_lo: [const { AtomicU64::new(0) }; super::stack::MAX_SEGS],
            goid: AtomicU64::new(0),
            parent_goid: AtomicU64::new(0),
            gopc: AtomicU64::new(0),
            async_frame: AtomicU64::new(0),
            status: AtomicU8::new(Status::Idle as u8),
            wait_reason: AtomicU8::new(0),
            system: AtomicBool::new(false),
            external_wait: AtomicBool::new(false),
            preempt: AtomicBool::new(false),
            wait_since: AtomicU64::new(0),
            runnable_since: AtomicU64::new(0),
            entry_name: UnsafeCell::new(""),
            creator_name: UnsafeCell::new(""),
            m: AtomicU32::new(u32::MAX),
            ran_on: AtomicU64::new(0),
            retired_gen: AtomicU64::new(0),
            retired_lo: AtomicU64::new(0),
            retired_hi: AtomicU64::new(0),
            schedlink: SchedLink::new(),
            allnext: AtomicPtr::new(core::ptr::null_mut()),
            watch: super::watchdog::GWatch::new(),
            entry: FnSlot {
                bytes: UnsafeCell::new([0; INLINE_FN_BYTES]),
                call: UnsafeCell::new(None),
            },
        }
    }

    pub fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    pub fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    pub fn set_wait_reason(&self, r: WaitReason) {
        self.wait_reason.store(r as u8, Ordering::Relaxed);
    }

    pub fn goid(&self) -> u64 {
        self.goid.load(Ordering::Relaxed)
    }

    pub fn entry_name(&self) -> &'static str {
        // SAFETY: written only while the G is dead/idle and owned by the
        // spawner, before it is published to a run queue.
        unsafe { *self.entry_name.get() }
    }

    /// The context saved when it last stopped running (Go: `g.sched`): its
    /// `sp` drives stack shrinking, dumps read it. A racy snapshot unless
    /// the caller owns the G (it is not running).
    pub fn saved_context(&self) -> Gobuf {
        // SAFETY: a plain copy of a POD struct; the owner of a stopped G
        // reads it exactly, others get a snapshot for reports.
        unsafe { *self.sched.get() }
    }

    /// Go: `casgstatus`: moves the G from `from` to `to`, checking that the
    /// transition is one the scheduler makes and that the G really was in
    /// `from`. A violation is a scheduler bug: a named fatal error.
    ///
    /// The goroutine counters follow the status, here and nowhere else:
    /// `SCHED.gcounts` counts the live user goroutines (`Dead -> Runnable`
    /// to `Running -> Dead`) and the parked ones (in `Waiting`).
    #[inline]
    pub fn casgstatus(&self, from: Status, to: Status) {
        use Status::*;
        let legal = matches!(
            (from, to),
            (Idle, Dead)
                | (Dead, Runnable)
                | (Runnable, Running)
                | (Running, Runnable)
                | (Running, Waiting)
                | (Running, Dead)
                | (Waiting, Runnable)
        );
        if !legal {
            self.bad_status(from, to, None);
        }
        if let Err(actual) =
            self.status
                .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
        {
            self.bad_status(from, to, Some(Status::from_u8(actual)));
        }
        use super::schedt::{GCOUNT_LIVE, GCOUNT_WAITING, SCHED};
        let delta = match (from, to) {
            (Dead, Runnable) => GCOUNT_LIVE,
            (Running, Dead) => GCOUNT_LIVE.wrapping_neg(),
            (Running, Waiting) => GCOUNT_WAITING,
            (Waiting, Runnable) => GCOUNT_WAITING.wrapping_neg(),
            _ => 0,
        };
        // SeqCst: the deadlock check's snapshot is ordered with every
        // transition (a `lock xadd` either way on x86).
        if delta != 0 && !self.system.load(Ordering::Relaxed) {
            SCHED.gcounts.fetch_add(delta, Ordering::SeqCst);
        }
        super::latency::on_transition(self, from, to);
    }

    /// A refused transition (`actual: None`) or a G not in `from`: a
    /// scheduler bug, a named fatal error.
    #[cold]
    #[inline(never)]
    fn bad_status(&self, from: Status, to: Status, actual: Option<Status>) -> ! {
        match actual {
            None => crate::panic::fatal(format_args!(
                "casgstatus: bad transition for goroutine {}: {} -> {}",
                self.goid(),
                from.name(),
                to.name()
            )),
            Some(actual) => crate::panic::fatal(format_args!(
                "casgstatus: goroutine {} is {}, expected {} (moving to {})",
                self.goid(),
                actual.name(),
                from.name(),
                to.name()
            )),
        }
    }
}

/// The current goroutine, if this CPU runs one (not g0, not before the
/// scheduler starts).
pub fn current() -> Option<&'static G> {
    let g = super::m::getg();
    if g.is_null() || super::m::on_g0() {
        return None;
    }
    // SAFETY: the current G is live while it runs on this CPU.
    Some(unsafe { &*g })
}

/// The current goroutine's id (0 on g0 or before the scheduler runs).
pub fn current_goid() -> u64 {
    current().map_or(0, G::goid)
}
