//! Preemption, the scheduler half: the local APIC timer plays Go's sysmon
//! (`retake`) and SIGURG (`preemptone`) at once.
//!
//! Every CPU's timer is one-shot, programmed for the earlier of its P's next
//! timer and the end of the running goroutine's time slice (`slice=`,
//! default 10 ms, Go's `forcePreemptNS`). On the interrupt ([`on_tick`]):
//! 1. due `Ready` timers of the P ready their goroutines (interrupt-safe
//!    path); due function timers are left for the scheduler loop;
//! 2. Go's `retake` for this CPU's own P: if the P's `schedtick` has not
//!    changed since the slice began (a goroutine inheriting the slice through
//!    `runnext` does not change it), the running goroutine is preempted:
//!    asynchronously if the interrupted point is safe ([`is_async_safe_point`],
//!    Go: `isAsyncSafePoint`), else the request is left pending
//!    (`g.preempt`, `stackguard0 = STACK_PREEMPT`) and honoured at the next
//!    cooperative safe point (`stack_check`, or the release of the last
//!    runtime lock, Go's `releasem`);
//! 3. the timer is re-armed (tickless: an idle CPU only for its timers).
//!
//! Rules (what is never preempted): g0 (the scheduler), interrupt handlers,
//! code holding a runtime lock or a `preempt_disable` guard (`m.locks > 0`),
//! the no-preempt text (context switch, trap entry, `async_preempt`), and any
//! point whose RSP is not on the goroutine's own stack.
use core::sync::atomic::Ordering;

use super::g::G;
use super::m::{M, getg, getm};
use super::p::{P, PStatus, p};
use super::proc::{self, AcquireM};
use super::stack::STACK_PREEMPT;
use crate::arch::preempt as hw;
use crate::arch::trap::TrapFrame;
use crate::arch::{percpu, timer};
use crate::layout::PAGE_SIZE;
use crate::time::{self, timer as rtimer};

/// Timers due this close after the ones firing now are waited for in the
/// same interrupt (tickless idle with many sleepers set at nearly the same
/// time takes one interrupt, not one each).
const TIMER_COALESCE_NS: u64 = 20_000;

/// When timers woke goroutines, the running goroutine's slice is cut to this
/// (from its start): woken sleepers wait at most about this long.
const URGENT_SLICE_NS: u64 = 500_000;

/// The longest a CPU running goroutines goes without a timer interrupt.
const BUSY_TICK_NS: u64 = 1_000_000;

/// After a refused (unsafe) attempt, check again this much later.
const RETRY_NS: u64 = 100_000;

/// The time slice in ns (from `slice=`).
static SLICE_NS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(10_000_000);

pub fn init(slice_ns: u64) {
    SLICE_NS.store(slice_ns, Ordering::Relaxed);
    timer::set_tick_handler(on_tick);
}

pub fn slice_ns() -> u64 {
    SLICE_NS.load(Ordering::Relaxed)
}

/// Changes the time slice at run time (the `slice=` knob; tests and demos
/// use it) and returns the previous one. Slices already running keep their
/// deadline. Below the command line's minimum (100 us) the timer would
/// spend more time interrupting than the goroutines running: clamped.
pub fn set_slice(d: core::time::Duration) -> core::time::Duration {
    let ns = (d.as_nanos().min(u64::MAX as u128) as u64).max(crate::cmdline::MIN_SLICE_NS);
    core::time::Duration::from_nanos(SLICE_NS.swap(ns, Ordering::Relaxed))
}

/// Preemption-disable guard (Go: `acquirem` for code that must stay on
/// its CPU): while it lives, the goroutine is neither preempted nor moved.
/// Counted with the runtime locks.
pub fn preempt_disable() -> AcquireM {
    AcquireM::new()
}

/// Per-CPU: the deadline the timer is armed for (u64::MAX: stopped).
static ARMED: [core::sync::atomic::AtomicU64; crate::arch::MAX_CPUS] =
    [const { core::sync::atomic::AtomicU64::new(u64::MAX) }; crate::arch::MAX_CPUS];

/// Programs this CPU's one-shot for the earlier of its P's first timer and,
/// while the P is running, the end of the slice and the busy tick.
///
/// The rule (issue 10 A): **a CPU whose P is `Running` always has its timer
/// armed for at most `BUSY_TICK_NS` ahead**, whatever context asks: the
/// scheduler on g0 about to `gogo`, a goroutine, or the tick itself having
/// interrupted g0. It is decided from the P's status, never from "is a
/// goroutine current right now": a tick landing on g0 between `execute`'s
/// re-arm and `gogo` would otherwise arm nothing, and the goroutine `gogo`
/// then starts would never be preempted (the lazy re-arm never looks again).
/// Only an `Idle` (or stopped) P is tickless: its M halts, and waking it
/// (`wakep`'s IPI, a due timer) leads through `execute`, which re-arms.
pub fn rearm(pp: Option<&P>) {
    // With interrupts off: the timer interrupt itself re-arms, and must not
    // run between our cache update and the hardware write.
    crate::arch::irq::without(|| rearm_locked(pp))
}

/// The earliest a re-arm programs the timer, from now. A deadline already
/// passed whose cause the tick cannot remove (a slice that expired while g0
/// runs the scheduler, a due function timer only the scheduler loop runs)
/// would otherwise fire again at once, forever: an interrupt storm that
/// starves the very code that would clear it.
const MIN_REARM_NS: u64 = 10_000;

fn rearm_locked(pp: Option<&P>) {
    let mut deadline = u64::MAX;
    if let Some(pp) = pp {
        deadline = pp.timers.timer0_when.load(Ordering::Acquire);
        if pp.status() == PStatus::Running {
            deadline = deadline.min(pp.slice_deadline.load(Ordering::Relaxed));
            // A busy CPU looks at the world at least every BUSY_TICK_NS:
            // other Ps' due timers are run by whoever schedules, and a CPU
            // that never enters the scheduler would otherwise only notice
            // them at the end of its slice. It also bounds the damage of a
            // slice deadline of u64::MAX (between an injection and the next
            // `execute`).
            deadline = deadline.min(time::now_ns().saturating_add(BUSY_TICK_NS));
        }
        if deadline != u64::MAX {
            deadline = deadline.max(time::now_ns().saturating_add(MIN_REARM_NS));
        }
    }
    let armed = &ARMED[percpu::cpu_index()];
    let current = armed.load(Ordering::Relaxed);
    // Lazy re-arming: if the timer is already armed for an earlier moment,
    // leave it; when it fires, the tick re-arms for what is then needed.
    // Reprogramming the APIC on every context switch (each new slice ends
    // later than the last) would cost more than one spare tick per slice.
    if current <= deadline {
        return;
    }
    armed.store(deadline, Ordering::Relaxed);
    if deadline == u64::MAX {
        timer::stop();
    } else {
        timer::set_oneshot_ns(deadline);
    }
}

/// The deadline CPU `cpu`'s timer is armed for (u64::MAX: none), for dumps.
pub fn armed_deadline(cpu: usize) -> u64 {
    ARMED[cpu].load(Ordering::Relaxed)
}

/// The one-shot fired: it is no longer armed.
fn disarmed() {
    ARMED[percpu::cpu_index()].store(u64::MAX, Ordering::Relaxed);
}

/// The timer interrupt handler (every CPU), on the interrupt stack with
/// interrupts off.
pub fn on_tick(frame: &mut TrapFrame) {
    disarmed();
    let mp = getm();
    let pp = proc::mp_p(mp);
    let now = time::now_ns();
    let mut readied = 0;
    if let Some(pp) = pp {
        // Timers due within TIMER_COALESCE_NS of each other are run by one
        // interrupt: wait (never fire early) rather than take another.
        // Only an idle CPU waits (it has nothing else to do), and only for a
        // bounded time.
        let idle = pp.status() == PStatus::Idle;
        let start = now;
        let mut now = now;
        loop {
            if pp.timers.timer0_when.load(Ordering::Acquire) <= now {
                readied += rtimer::run_due(pp, now, false);
            }
            let next = pp.timers.timer0_when.load(Ordering::Acquire);
            if !idle
                || next == u64::MAX
                || next <= now
                || next - now > TIMER_COALESCE_NS
                || next - start > 2 * TIMER_COALESCE_NS
            {
                break;
            }
            while time::now_ns() < next {
                core::hint::spin_loop();
            }
            now = time::now_ns();
        }
    }
    // Other Ps' due goroutine timers (their CPUs may be stalled or busy with
    // interrupts off): readying is interrupt-safe.
    if let Some(me) = pp {
        readied += rtimer::run_others_due(me, now);
    }
    let cpu = percpu::this();
    let g = cpu.g.load(Ordering::Relaxed);
    let running = g != 0 && g != cpu.g0.load(Ordering::Relaxed);
    if let (Some(pp), true) = (pp, running) {
        // SAFETY: the current G is live while it runs on this CPU.
        let g = unsafe { &*(g as *const G) };
        if readied != 0 {
            // Timers woke goroutines: ask for a reschedule soon (Go leaves
            // them to the running goroutine's slice). The running goroutine
            // keeps at least URGENT_SLICE_NS of its slice, so a storm of
            // timers cannot preempt it at every tick.
            let dl = pp.slice_deadline.load(Ordering::Relaxed);
            if dl != u64::MAX {
                let start = dl.saturating_sub(slice_ns());
                let urgent = (start + URGENT_SLICE_NS).max(now);
                if urgent < dl {
                    pp.slice_deadline.store(urgent, Ordering::Relaxed);
                    pp.urgent_cut.store(true, Ordering::Relaxed);
                }
            }
        }
        retake(pp, mp, g, frame, now);
    }
    rearm(pp);
}

/// Go: `retake` for one P: preempt the running goroutine if its P has not
/// scheduled for a whole slice.
fn retake(pp: &P, _mp: &M, g: &G, frame: &mut TrapFrame, now: u64) {
    if now < pp.slice_deadline.load(Ordering::Relaxed) {
        return;
    }
    let tick = pp.schedtick.load(Ordering::Relaxed);
    if tick != pp.slice_tick.load(Ordering::Relaxed) {
        // Go's sysmon: the P scheduled since we last looked; a new slice
        // began (record it, so the timer is not re-armed in the past).
        pp.slice_tick.store(tick, Ordering::Relaxed);
        pp.begin_slice(now, slice_ns());
        return;
    }
    if is_async_safe_point(g, frame) {
        pp.counters.async_preempts.fetch_add(1, Ordering::Relaxed);
        // The next G starts a new slice in `execute`; until then no check.
        pp.slice_deadline.store(u64::MAX, Ordering::Relaxed);
        // SAFETY: checked by is_async_safe_point: goroutine code, its own
        // stack, interrupts were on.
        unsafe { hw::inject(frame) };
    } else {
        pp.counters.preempt_refused.fetch_add(1, Ordering::Relaxed);
        g.preempt.store(true, Ordering::Relaxed);
        g.stackguard0.store(STACK_PREEMPT, Ordering::Relaxed);
        pp.slice_deadline.store(now + RETRY_NS, Ordering::Relaxed);
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

/// Called by `async_preempt2` on the goroutine's stack: Go's
/// `mcall(gopreempt_m)`.
#[unsafe(link_section = ".text.nopreempt.sched")]
#[unsafe(export_name = "gmpos_async_preempt_park")]
pub extern "C" fn async_preempt_park() {
    // SAFETY: we are the preempted goroutine, at an async safe point.
    unsafe { crate::arch::switch::mcall(gopreempt_m) };
}

/// Go: `gopreempt_m` (on g0): the goroutine goes to the global queue.
#[unsafe(link_section = ".text.nopreempt.sched")]
unsafe extern "C" fn gopreempt_m(gp: usize) -> ! {
    // SAFETY: mcall passes the current goroutine.
    let g = unsafe { &*(gp as *const G) };
    if let Some(pp) = proc::mp_p(getm()) {
        pp.slice_expired.store(true, Ordering::Relaxed);
    }
    proc::requeue_preempted(g)
}

/// Counts a cooperative preemption honoured at a safe point.
pub fn count_cooperative() {
    if let Some(pp) = proc::mp_p(getm()) {
        pp.counters.coop_preempts.fetch_add(1, Ordering::Relaxed);
        pp.slice_expired.store(true, Ordering::Relaxed);
    }
}

/// `releasem` hook: the last runtime lock was just released; honour a
/// pending preemption request (only with interrupts on, not in an interrupt
/// handler, not on g0: `preempt_at_safe_point` checks).
#[inline]
pub fn on_last_lock_released() {
    let g = getg();
    if g.is_null() {
        return;
    }
    // SAFETY: the current G is live while it runs.
    if unsafe { &*g }.preempt.load(Ordering::Relaxed) {
        proc::preempt_at_safe_point();
    }
}

/// Counters summed over the Ps in use: (async, cooperative, refused).
pub fn counters() -> (u64, u64, u64) {
    let n = super::sched::gomaxprocs();
    let mut t = (0, 0, 0);
    for i in 0..n {
        let c = &p(i).counters;
        t.0 += c.async_preempts.load(Ordering::Relaxed);
        t.1 += c.coop_preempts.load(Ordering::Relaxed);
        t.2 += c.preempt_refused.load(Ordering::Relaxed);
    }
    t
}
