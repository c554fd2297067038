//! M: a machine, here a CPU (Go: `type m struct`). M i runs on CPU i for life
//! and, while `i < gomaxprocs`, owns P i.
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::g::{G, Status};
use super::order::CheapRand;
use super::p::{P, p};
use super::schedt::gomaxprocs;
use crate::arch::{MAX_CPUS, percpu};

/// The callback `gopark` runs on g0 once the G is off its stack (Go:
/// `m.waitunlockf`); a fat pointer to a closure on the parking G's stack.
pub type UnlockFn = *const (dyn Fn() -> bool + 'static);

pub struct M {
    pub id: usize,
    /// The scheduler's G: its stack runs `schedule` (Go: `m.g0`).
    pub g0: AtomicPtr<G>,
    /// The user goroutine running on this M, or null (Go: `m.curg`).
    pub curg: AtomicPtr<G>,
    /// Go: `m.waitunlockf` (only this M touches it).
    pub waitunlockf: UnsafeCell<Option<UnlockFn>>,
    /// The goroutine `gohandoff` runs next (only this M touches it, with
    /// interrupts off from the store to the `mcall`).
    pub handoff: AtomicPtr<G>,
    /// Go: `m.cheaprand`.
    pub rand: UnsafeCell<CheapRand>,
    /// TSC cycles spent halted, and number of halts.
    pub halted_cycles: AtomicU64,
    pub halts: AtomicU64,
    /// TSC at the start of the halt in progress (0 when running).
    pub halted_since: AtomicU64,
    /// Wake-up IPIs received while idle.
    pub wakeups: AtomicU64,
    /// How the idle path returned to looking for work (see `idle::Woken`):
    /// work seen after dropping spinning (`Recheck`), work seen before
    /// halting (`Work`), or handed its P by `wakep` (`Handed`).
    pub idle_rechecks: AtomicU64,
    pub idle_work_seen: AtomicU64,
    pub idle_handed: AtomicU64,
}

// SAFETY: the UnsafeCell fields are touched only by the M's own CPU.
unsafe impl Sync for M {}

impl M {
    const fn new(id: usize) -> M {
        M {
            id,
            g0: AtomicPtr::new(ptr::null_mut()),
            curg: AtomicPtr::new(ptr::null_mut()),
            waitunlockf: UnsafeCell::new(None),
            handoff: AtomicPtr::new(ptr::null_mut()),
            rand: UnsafeCell::new(CheapRand::new(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1))),
            halted_cycles: AtomicU64::new(0),
            halts: AtomicU64::new(0),
            halted_since: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
            idle_rechecks: AtomicU64::new(0),
            idle_work_seen: AtomicU64::new(0),
            idle_handed: AtomicU64::new(0),
        }
    }

    /// Halted cycles so far, including the halt in progress.
    pub fn halted_cycles_now(&self) -> u64 {
        let since = self.halted_since.load(Ordering::Acquire);
        let done = self.halted_cycles.load(Ordering::Acquire);
        if since == 0 {
            done
        } else {
            done + crate::arch::rdtsc().saturating_sub(since)
        }
    }

    /// Is this M halted right now?
    pub fn is_halted(&self) -> bool {
        self.halted_since.load(Ordering::Acquire) != 0
    }

    /// Halts the CPU until an interrupt (`sti; hlt`, atomic thanks to the
    /// interrupt shadow of `sti`), accounting the time. Interrupts must be
    /// off on entry; they are on on return.
    ///
    /// While halted the CPU counts as idle for the TLB epoch (it uses no
    /// translation, so it must not hold back the recycling of unmapped
    /// frames); it leaves idle, flushing if needed, before touching anything
    /// on waking (the interrupt handler that wakes it does so first thing;
    /// the call after `hlt` covers a wake-up without one).
    pub fn halt(&self) {
        let t0 = crate::arch::rdtsc();
        self.halted_since.store(t0, Ordering::Release);
        crate::arch::tlb::enter_idle();
        crate::arch::irq::enable_and_hlt();
        crate::arch::tlb::leave_idle();
        let t1 = crate::arch::rdtsc();
        self.halted_cycles.fetch_add(t1 - t0, Ordering::Release);
        self.halted_since.store(0, Ordering::Release);
        self.halts.fetch_add(1, Ordering::Relaxed);
    }

    /// The M's P, if it has one (M i owns P i while i < gomaxprocs).
    #[inline]
    pub fn p(&self) -> Option<&'static P> {
        (self.id < gomaxprocs()).then(|| p(self.id))
    }

    /// Halts while `cond` holds, checking it with interrupts off right
    /// before each `sti; hlt` (the idle path's check-then-halt rule: a
    /// wake-up IPI sent after the check stays pending and ends the `hlt` at
    /// once; checked with interrupts on, an IPI landing between the check
    /// and the halt would be consumed and lost).
    pub fn halt_while(&self, cond: impl Fn() -> bool) {
        loop {
            crate::arch::irq::disable();
            if !cond() {
                crate::arch::irq::enable();
                return;
            }
            self.halt();
        }
    }

    /// Go: `dropg`, on g0 right after `mcall`: the M lets go of its current
    /// goroutine `g`, which moves from `Running` to `to` (`Runnable` or
    /// `Waiting`), and shrinks its stack while no other CPU can run it (the
    /// caller publishes the G afterwards: a queue, or gopark's unlock).
    pub fn dropg(&self, g: &G, to: Status) {
        g.casgstatus(Status::Running, to);
        self.dropg_rest(g);
    }

    /// `dropg` after the status change (which `park_m` makes through
    /// `gstatus::park_commit`).
    #[inline(always)]
    pub fn dropg_rest(&self, g: &G) {
        self.curg.store(ptr::null_mut(), Ordering::Relaxed);
        super::stack::maybe_shrink(g, g.saved_context().sp);
    }

    /// Go: `cheaprand()` (this M only).
    pub fn cheaprand(&self) -> u32 {
        // SAFETY: only this M's CPU calls it, and never reentrantly
        // (interrupt handlers do not use it).
        unsafe { (*self.rand.get()).next_u32() }
    }
}

static MS: [M; MAX_CPUS] = {
    let mut ms = [const { M::new(0) }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        ms[i] = M::new(i);
        i += 1;
    }
    ms
};

/// This CPU's M (Go: `getg().m`).
#[inline]
pub fn getm() -> &'static M {
    &MS[percpu::cpu_index()]
}

/// M `i`.
pub fn m(i: usize) -> &'static M {
    &MS[i]
}

/// The current G (Go: `getg()`): a goroutine or this M's g0.
#[inline]
pub fn getg() -> *mut G {
    percpu::current_g() as *mut G
}

/// Are we on g0 (the scheduler's stack)?
pub fn on_g0() -> bool {
    let m = getm();
    getg() == m.g0.load(Ordering::Relaxed)
}

/// Go: `acquirem`: keeps the current goroutine on this CPU (no preemption,
/// no migration) until the guard drops. Counts as a held runtime lock; its
/// release is a cooperative preemption point (Go: `releasem`).
pub struct AcquireM(());

impl AcquireM {
    pub fn new() -> AcquireM {
        percpu::locks_inc();
        AcquireM(())
    }
}

impl Drop for AcquireM {
    fn drop(&mut self) {
        if percpu::locks_dec() == 0 {
            super::preempt::on_last_lock_released();
        }
    }
}
