//! The timer tick: each CPU's local APIC timer, one-shot, plays Go's sysmon
//! for its own P.
//!
//! The timer is programmed ([`rearm`]) for the earliest of the P's next
//! runtime timer and, while the P runs goroutines, the end of the time
//! slice and a busy tick. On the interrupt ([`on_tick`]):
//! 1. the P's due timers ready their goroutines (interrupt-safe), then the
//!    other Ps' (their CPUs may be stalled or busy with interrupts off);
//!    due function timers are only noticed (g0 runs them, `timers.rs`);
//! 2. if timers woke goroutines, the running goroutine's slice is cut
//!    (`Slice::cut_for_woken`) so that they wait at most about
//!    [`WOKEN_SLICE_NS`];
//! 3. `preempt::retake` for the running goroutine;
//! 4. the timer is re-armed (tickless: an idle CPU only for its timers).
use core::sync::atomic::{AtomicU64, Ordering};

use super::g::G;
use super::m::getm;
use super::p::{P, PStatus};
use super::timers;
use crate::arch::trap::TrapFrame;
use crate::arch::{MAX_CPUS, percpu, timer};
use crate::clock;

/// Timers due this close after the ones firing now are waited for in the
/// same interrupt (tickless idle with many sleepers set at nearly the same
/// time takes one interrupt, not one each).
const TIMER_COALESCE_NS: u64 = 20_000;

/// When timers woke goroutines, the running goroutine's slice is cut to this
/// (from its start): woken sleepers wait at most about this long.
const WOKEN_SLICE_NS: u64 = 500_000;

/// The longest a CPU running goroutines goes without a timer interrupt
/// (`tick=`, default 1 ms; the interrupt-storm tests shorten it to 500 us
/// and 100 us).
static BUSY_TICK_NS: AtomicU64 = AtomicU64::new(crate::cmdline::DEFAULT_TICK_NS);

/// Sets the busy tick period (`tick=`). Boot, before any CPU schedules.
pub fn set_busy_tick(ns: u64) {
    BUSY_TICK_NS.store(ns, Ordering::Relaxed);
}

/// The earliest a re-arm programs the timer, from now. A deadline already
/// passed whose cause the tick cannot remove (a slice that expired while g0
/// runs the scheduler) would otherwise fire again at once, forever: an
/// interrupt storm that starves the very code that would clear it.
const MIN_REARM_NS: u64 = 10_000;

/// Per-CPU: the deadline the timer is armed for (u64::MAX: stopped).
static ARMED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; MAX_CPUS];

/// Installs [`on_tick`] as the timer interrupt's handler.
pub(super) fn init() {
    timer::set_tick_handler(on_tick);
}

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
    rearm_at(pp, clock::now_ns())
}

/// [`rearm`] with the clock already read (`now`, a moment ago: `execute`
/// reads it once for the slice and this). The common case on a context
/// switch, a running P whose timer is already armed no later than every
/// bound below, writes nothing and so needs neither interrupts off nor a
/// second clock read: it returns from the fast path (the slow path would
/// return too: `current <= deadline`). A tick landing in between re-arms
/// for the P's state itself, which the caller set before calling this.
#[inline]
pub fn rearm_at(pp: Option<&P>, now: u64) {
    if let Some(pp) = pp
        && pp.status() == PStatus::Running
    {
        let armed = ARMED[percpu::cpu_index()].load(Ordering::Relaxed);
        // Every bound the slow path takes the minimum of (a function timer
        // counts only while in the future there, so `<=` it is enough).
        if armed <= pp.timers.timer0_when.load(Ordering::Acquire)
            && armed <= pp.timers.ftimer0_when.load(Ordering::Acquire)
            && armed <= pp.slice.deadline()
            && armed <= now.saturating_add(BUSY_TICK_NS.load(Ordering::Relaxed))
            && armed <= super::tracing::next_sample()
        {
            return;
        }
    }
    // With interrupts off: the timer interrupt itself re-arms, and must not
    // run between our cache update and the hardware write.
    crate::arch::irq::without(|| rearm_locked(pp, now))
}

fn rearm_locked(pp: Option<&P>, now: u64) {
    let mut deadline = u64::MAX;
    if let Some(pp) = pp {
        deadline = pp.timers.timer0_when.load(Ordering::Acquire);
        // A function timer only g0 runs: armed for while it is in the
        // future. Once due, the interrupt has nothing to do for it: the
        // idle check sees it (an idle P does not halt), and a running
        // goroutine's slice was cut when the tick noticed it (`on_tick`),
        // so re-arming for it would be a tick every MIN_REARM_NS.
        let fwhen = pp.timers.ftimer0_when.load(Ordering::Acquire);
        if fwhen > clock::now_ns() {
            deadline = deadline.min(fwhen);
        }
        if pp.status() == PStatus::Running {
            deadline = deadline.min(pp.slice.deadline());
            // A busy CPU looks at the world at least every BUSY_TICK_NS:
            // other Ps' due timers are run by whoever schedules, and a CPU
            // that never enters the scheduler would otherwise only notice
            // them at the end of its slice. It also bounds the damage of a
            // slice deadline of u64::MAX (between an injection and the next
            // `execute`).
            let tick = BUSY_TICK_NS.load(Ordering::Relaxed);
            deadline = deadline.min(now.saturating_add(tick));
            // The profiler's next sample (u64::MAX when it is off).
            deadline = deadline.min(super::tracing::next_sample());
        }
        if deadline != u64::MAX {
            deadline = deadline.max(now.saturating_add(MIN_REARM_NS));
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

/// The timer interrupt handler (every CPU), on the interrupt stack with
/// interrupts off.
fn on_tick(frame: &mut TrapFrame) {
    // The one-shot fired: it is no longer armed.
    ARMED[percpu::cpu_index()].store(u64::MAX, Ordering::Relaxed);
    let pp = getm().p();
    let now = clock::now_ns();
    let mut readied = 0;
    if let Some(pp) = pp {
        readied += run_own_timers(pp, now);
        // Other Ps' due timers (their CPUs may be stalled or busy with
        // interrupts off): readying is interrupt-safe.
        readied += timers::run_others_due(pp, now);
        // A due function timer (a time channel's send, `after_func`) runs
        // only on g0: counted like a woken goroutine, so the running one's
        // slice is cut and the scheduler loop gets to it soon.
        if pp.timers.due_funcs(now) {
            readied += 1;
        }
    }
    let cpu = percpu::this();
    let g = cpu.g.load(Ordering::Relaxed);
    let running = g != 0 && g != cpu.g0.load(Ordering::Relaxed);
    if let (Some(pp), true) = (pp, running) {
        // SAFETY: the current G is live while it runs on this CPU.
        let g = unsafe { &*(g as *const G) };
        if readied != 0 {
            // Timers woke goroutines: ask for a reschedule soon (Go leaves
            // them to the running goroutine's slice).
            pp.slice
                .cut_for_woken(now, super::preempt::slice_ns(), WOKEN_SLICE_NS);
        }
        super::preempt::retake(pp, g, frame, now);
    }
    if pp.is_some_and(|pp| pp.status() == PStatus::Running) {
        super::tracing::maybe_sample(frame, now);
    }
    super::watchdog::on_tick(now);
    rearm(pp);
}

/// This P's due timers. Timers due within `TIMER_COALESCE_NS` of each
/// other are run by one interrupt: an idle CPU (it has nothing else to do)
/// waits for them, for a bounded time, rather than take another interrupt.
/// Never fires early.
fn run_own_timers(pp: &P, start: u64) -> usize {
    let idle = pp.status() == PStatus::Idle;
    let mut now = start;
    let mut readied = 0;
    loop {
        if pp.timers.due_ready(now) {
            readied += timers::run_due(pp, now);
        }
        let next = pp.timers.timer0_when.load(Ordering::Acquire);
        if !idle
            || next == u64::MAX
            || next <= now
            || next - now > TIMER_COALESCE_NS
            || next - start > 2 * TIMER_COALESCE_NS
        {
            return readied;
        }
        while clock::now_ns() < next {
            core::hint::spin_loop();
        }
        now = clock::now_ns();
    }
}
