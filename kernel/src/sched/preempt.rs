//! Preemption (Go: `retake`/`preemptone` in proc.go, `asyncPreempt` in
//! preempt.go, the stack-check half of `newstack`): every way a goroutine is
//! made to give up its CPU against its will, in one place.
//!
//! The timer tick (`tick.rs`, Go's sysmon) calls [`retake`] for its own P.
//! If the P's time slice (`slice.rs`) ran out with the same goroutine (or a
//! `runnext` chain inheriting its slice) still running:
//! - at a safe point ([`is_async_safe_point`], Go: `isAsyncSafePoint`) the
//!   interrupt frame is rewritten so that the goroutine "calls"
//!   `async_preempt` (`arch/x86_64/preempt.rs`), which saves every register
//!   and flag and calls [`async_preempt_park`]: Go's SIGURG path;
//! - anywhere else the request stays pending (`g.preempt`) and is honoured
//!   at the next cooperative safe point ([`safe_point`]: the runtime's entry
//!   points and the release of the last runtime lock, Go's `releasem`).
//!
//! Both end in [`gopreempt_m`] on g0: the goroutine goes to the global
//! queue (or right behind the goroutines timers woke, if that is why its
//! slice was cut) and the P schedules.
//!
//! Rules (what is never preempted): g0 (the scheduler), interrupt handlers,
//! code holding a runtime lock or a [`preempt_disable`] guard (`m.locks >
//! 0`), the no-preempt text (context switch, trap entry, `async_preempt`),
//! and any point whose RSP is not on the goroutine's own stack.
use core::sync::atomic::Ordering;

use super::g::G;
use super::m::{AcquireM, getg, getm, on_g0};
use super::p::{P, p};
use super::schedt::{globrunqput, wokenput};
use super::slice::SliceCheck;
use crate::arch::preempt as hw;
use crate::arch::trap::TrapFrame;
use crate::arch::{percpu, switch};
use crate::layout::PAGE_SIZE;
use crate::lock::locks_held;

/// After a refused (unsafe) attempt, check again this much later.
const RETRY_NS: u64 = 100_000;

/// The time slice in ns (from `slice=`, Go's `forcePreemptNS`; kept with
/// the other history knobs, `knobs.rs`).
#[inline]
pub fn slice_ns() -> u64 {
    super::knobs::slice_ns()
}

/// Changes the time slice at run time (the `slice=` knob; tests and demos
/// use it) and returns the previous one. Slices already running keep their
/// deadline. Below the command line's minimum (100 us) the timer would
/// spend more time interrupting than the goroutines running: clamped.
pub fn set_slice(d: core::time::Duration) -> core::time::Duration {
    let ns = (d.as_nanos().min(u64::MAX as u128) as u64).max(crate::cmdline::MIN_SLICE_NS);
    core::time::Duration::from_nanos(super::knobs::swap_slice_ns(ns))
}

/// Preemption-disable guard (Go: `acquirem` for code that must stay on
/// its CPU): while it lives, the goroutine is neither preempted nor moved.
/// Counted with the runtime locks.
pub fn preempt_disable() -> AcquireM {
    AcquireM::new()
}

// ---------------------------------------------------------------------------
// Asynchronous: from the timer interrupt

/// Go: `retake` for this CPU's own P (`pp`, running goroutine `g`), from the
/// timer interrupt at `now`: preempt `g` if the P has not scheduled for a
/// whole slice.
///
/// The `preempt=` knob (`knobs.rs`) decides what an expiry does: `async`
/// (Go 1.14) as above; `coop` (Go 1.2-1.13) only sets the request, honoured
/// at the next cooperative safe point, and stops looking until the next
/// slice; `off` (Go 1.0-1.1) does nothing but end the slice's deadline, so
/// the timer is not re-armed in the past.
pub(super) fn retake(pp: &P, g: &G, frame: &mut TrapFrame, now: u64) {
    let tick = pp.schedtick.load(Ordering::Relaxed);
    match pp.slice.check(tick, now, slice_ns(), || pp.runq.mark()) {
        SliceCheck::Running | SliceCheck::Renewed => {}
        SliceCheck::Expired if super::knobs::flags() & super::knobs::PREEMPT_OFF != 0 => {
            pp.slice.preempted();
        }
        SliceCheck::Expired if super::knobs::flags() & super::knobs::PREEMPT_COOP != 0 => {
            g.preempt.store(true, Ordering::Relaxed);
            pp.slice.preempted();
        }
        SliceCheck::Expired if is_async_safe_point(g, frame) => {
            pp.counters.async_preempts.fetch_add(1, Ordering::Relaxed);
            pp.slice.preempted();
            // SAFETY: checked by is_async_safe_point: goroutine code, its
            // own stack, interrupts were on.
            unsafe { hw::inject(frame) };
        }
        SliceCheck::Expired => {
            pp.counters.preempt_refused.fetch_add(1, Ordering::Relaxed);
            g.preempt.store(true, Ordering::Relaxed);
            pp.slice.retry_at(now + RETRY_NS);
        }
    }
}

/// Go: `wantAsyncPreempt && isAsyncSafePoint`, decided from state (all code
/// runs in ring 0).
pub fn is_async_safe_point(g: &G, frame: &TrapFrame) -> bool {
    let cpu = percpu::this();
    // The lowest usable address is the window's base plus its guard page,
    // not the bottom of the mapped part: the injected frames may grow the
    // stack. That is an ordinary growth fault for the current goroutine:
    // `inject`'s two writes fault inside this handler (the page-fault
    // handler has its own IST stack; the goroutine is still this CPU's
    // current G; `m.locks == 0`, checked here, lets it use the frame
    // allocator if the per-CPU reserve is empty), and `async_preempt`'s
    // pushes and calls fault in goroutine context with interrupts off, the
    // goroutine current until `mcall` moves to g0. Only the guard page is a
    // hard limit, so the room (Go: `asyncPreemptStack`) is measured from it;
    // with less, the request stays pending like at any unsafe point.
    let lo = g.stack_window.load(Ordering::Relaxed) + PAGE_SIZE;
    let hi = g.stack_hi.load(Ordering::Relaxed);
    cpu.irq_depth.load(Ordering::Relaxed) == 1
        && cpu.locks.load(Ordering::Relaxed) == 0
        && hw::interrupts_were_on(frame)
        && (lo + hw::ASYNC_PREEMPT_STACK..=hi).contains(&frame.rsp)
        && !hw::in_nopreempt_text(frame.rip)
}

/// Called by `async_preempt` on the goroutine's stack, every register
/// saved in `frame`: Go's `asyncPreempt2` -> `mcall(gopreempt_m)`. A
/// link-time upcall: `arch/x86_64/preempt.rs` names it
/// `gmpos_async_preempt_park`. The frame is recorded in the G while it is
/// off the CPU, so its traceback starts at the interrupted instruction.
#[unsafe(export_name = "gmpos_async_preempt_park")]
#[unsafe(link_section = ".text.nopreempt.sched")]
pub extern "C" fn async_preempt_park(frame: *mut hw::AsyncPreemptFrame) {
    // SAFETY: we are the preempted goroutine: the current G, live.
    let g = unsafe { &*getg() };
    g.async_frame.store(frame as u64, Ordering::Relaxed);
    // SAFETY: we are the preempted goroutine, at an async safe point.
    unsafe { switch::mcall(gopreempt_m) };
    g.async_frame.store(0, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// Cooperative: a pending request at a safe point

/// A cooperative preemption point (Go: the function prologue's
/// `stackguard0` check and `newstack`'s `stackPreempt` case): honours a
/// pending request if preemption is allowed here, else leaves it pending.
/// The runtime calls it at its entry points (`go`, `gosched`, the sync
/// primitives); the release of the last runtime lock checks too.
#[inline]
pub fn safe_point() {
    let g = getg();
    // SAFETY: the current G is live while it runs.
    if !g.is_null() && unsafe { &*g }.preempt.load(Ordering::Relaxed) {
        preempt_pending();
    }
}

/// `releasem`: the last runtime lock was just released.
#[inline]
pub fn on_last_lock_released() {
    safe_point()
}

#[cold]
fn preempt_pending() {
    if on_g0() || locks_held() != 0 || percpu::irq_depth() != 0 || !crate::arch::irq::enabled() {
        return;
    }
    // SAFETY: not g0 (checked), so the current goroutine.
    let g = unsafe { &*getg() };
    // Take the request with interrupts off: a timer interrupt between the
    // check and the switch could otherwise preempt us asynchronously first,
    // and we would then yield a second time for nothing.
    crate::arch::irq::disable();
    if !g.preempt.swap(false, Ordering::Relaxed) {
        crate::arch::irq::enable();
        return;
    }
    if let Some(pp) = getm().p() {
        pp.counters.coop_preempts.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: we are a goroutine at a safe point.
    unsafe { switch::mcall(gopreempt_m) };
}

// ---------------------------------------------------------------------------
// The end of every preemption

/// Go: `gopreempt_m` (on g0): the slice is over; the goroutine goes to the
/// global queue, unless the slice was only cut to let timer-woken
/// goroutines run: then it goes right behind them (the woken queue), not
/// behind the whole backlog.
#[unsafe(link_section = ".text.nopreempt.sched")]
unsafe extern "C" fn gopreempt_m(gp: usize) -> ! {
    // SAFETY: mcall passes the current goroutine.
    let g = unsafe { &*(gp as *const G) };
    // An asynchronous preemption left its register frame in the G.
    crate::trace::go_preempt(g.goid(), g.async_frame.load(Ordering::Relaxed) == 0);
    let woken_cut = match getm().p() {
        Some(pp) => {
            pp.slice.expire();
            pp.slice.take_woken_cut()
        }
        None => false,
    };
    super::gosched::requeue(g, if woken_cut { wokenput } else { globrunqput })
}

/// Preemption counters summed over the Ps in use: (async, cooperative,
/// refused).
pub fn counters() -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for i in 0..super::schedt::gomaxprocs() {
        let c = &p(i).counters;
        t.0 += c.async_preempts.load(Ordering::Relaxed);
        t.1 += c.coop_preempts.load(Ordering::Relaxed);
        t.2 += c.preempt_refused.load(Ordering::Relaxed);
    }
    t
}
