//! The scheduler loop (Go: runtime/proc.go): `schedule` -> `findRunnable`
//! -> `execute` -> `gogo`, and how each CPU enters it (`schedinit`,
//! `mstart`).
//!
//! M i runs on CPU i and owns P i while `i < gomaxprocs`. The loop runs on
//! the M's g0 stack; a goroutine gets back to it through `mcall` (yield,
//! park, preemption, exit: `gosched.rs`, `park.rs`, `preempt.rs`,
//! `exit.rs`). Where the next G comes from, and in which order, is
//! `policy.rs` (host-tested); this file is the kernel's side of it.
use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::g::G;
use super::m::{M, getm, m};
use super::order::{RandomEnum, RandomOrder};
use super::p::{P, PStatus, p};
use super::policy::{self, FindSources, SpinState};
use super::schedt::{SCHED, gomaxprocs};
use super::{halt, stack, stw, timers};
use crate::arch::percpu;
use crate::arch::switch;
use crate::lock::locks_held;
use crate::mem::kstack;

/// Size of each M's g0 (scheduler) stack.
const G0_STACK_SIZE: u64 = 64 * 1024;

/// Victim order for stealing (Go: `stealOrder`), sized to gomaxprocs.
pub(super) static STEAL_ORDER: spin::RwLock<RandomOrder> = spin::RwLock::new(RandomOrder::new());

// ---------------------------------------------------------------------------
// Start-up

/// Go: `schedinit` + `newproc(runtime.main)` + `mstart` on the bootstrap
/// CPU: sets up the Ps for `gomaxprocs` (the `gomaxprocs=` knob, at most
/// `ncpu`), the stack limit and the time slice, makes `main` goroutine 1
/// and starts scheduling. When `main` returns, the kernel powers off with
/// status 0, like a Go program whose main returns.
pub fn init(cfg: &crate::cmdline::Config, ncpu: usize, main: fn()) -> ! {
    let procs = match cfg.gomaxprocs {
        Some(n) if n <= ncpu => n,
        Some(n) => {
            crate::println!(
                "gomaxprocs={n}: only {ncpu} CPU(s) online; using gomaxprocs={ncpu} (allowed: 1..={ncpu})"
            );
            ncpu
        }
        None => ncpu,
    };
    // The history knobs (`slice=` among them) before any G is queued:
    // `sched=gm` decides where even `main` goes.
    super::knobs::init(&cfg.knobs());
    SCHED.ncpu.store(ncpu as u32, Ordering::Relaxed);
    SCHED.gomaxprocs.store(procs as u32, Ordering::Relaxed);
    STEAL_ORDER.write().reset(procs as u32);
    stack::init(cfg.maxstack as u64, cfg.stackspace);
    super::tick::set_busy_tick(cfg.tick_ns);
    for i in 0..procs {
        p(i).set_status(PStatus::Running);
    }
    let (trace_on, prof_hz) = (cfg.trace, cfg.prof_hz);
    super::spawn::newproc_on(
        p(0),
        move || {
            // `trace=1` / `prof=HZ` cover all of main (Go: a program that
            // calls trace.Start first and trace.Stop last).
            if prof_hz != 0 {
                super::tracing::start_cpu_profile(prof_hz);
            }
            if trace_on {
                super::tracing::trace_start();
            }
            main();
            super::tracing::trace_stop();
            super::tracing::stop_cpu_profile();
            // A console holding the kernel up (the shell): goroutine 1
            // ends, the machine stays (`stayup.rs`).
            if !super::stayup::held() {
                crate::panic::exit(0)
            }
        },
        "main",
        super::spawn::Kind::User,
        0,
    );
    super::traceback::set_level(cfg.traceback);
    if cfg.schedtrace_ms != 0 {
        // Go: `schedtrace` is printed by sysmon; here a system goroutine on
        // a timer (nothing at all runs when it is off).
        let (ms, detail) = (cfg.schedtrace_ms, cfg.scheddetail);
        super::spawn::newproc_on(
            p(0),
            move || super::schedtrace::run(ms, detail),
            "gmpos::sched::schedtrace::run",
            super::spawn::Kind::System,
            0,
        );
    }
    if cfg.watchdog {
        super::watchdog::enable();
    }
    super::tick::init();
    SCHED.mainstarted.store(true, Ordering::Release);
    mstart(0)
}

/// Go: `mstart`: turns the calling CPU (on its boot stack, which is
/// abandoned) into M `cpu` running the scheduler on its g0 stack.
pub fn mstart(cpu: usize) -> ! {
    let mp = m(cpu);
    let g0 = Box::leak(Box::new(G::new()));
    let st = kstack::alloc(kstack::Kind::G0, cpu, G0_STACK_SIZE);
    let top = st.top & !15;
    g0.stack_lo.store(st.bottom, Ordering::Relaxed);
    g0.stack_hi.store(st.top, Ordering::Relaxed);
    // Every mcall restarts g0 at its top (Go: g0.sched.sp from mstart).
    // SAFETY: g0 is not running yet; only this CPU uses it.
    unsafe { (*g0.sched.get()).sp = top };
    mp.g0.store(g0, Ordering::Release);
    let cpu_state = percpu::this();
    cpu_state.g0.store(g0 as *mut G as usize, Ordering::Release);
    cpu_state.g.store(g0 as *mut G as usize, Ordering::Release);
    cpu_state
        .m
        .store(mp as *const M as usize, Ordering::Release);
    // Start `schedule` on the g0 stack (a throw-away first frame below the
    // top; later mcalls reuse the stack from its top).
    let first = switch::prepare_stack(top - 64, schedule_entry);
    // SAFETY: `first` was just built on g0's mapped, unused stack.
    unsafe { switch::gogo(&first, g0 as *mut G as usize) }
}

/// Where a CPU waiting for the scheduler to start (an AP) ends up: once
/// `init` has set up the Ps, it becomes M `index`.
pub fn ap_start(index: usize) -> ! {
    while !SCHED.mainstarted.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    mstart(index)
}

extern "C" fn schedule_entry() {
    schedule()
}

// ---------------------------------------------------------------------------
// The loop

/// Go: `schedule`: one round of scheduling; never returns.
pub fn schedule() -> ! {
    let mp = getm();
    if locks_held() != 0 {
        crate::panic::fatal(format_args!("schedule: holding locks"));
    }
    // Top up this CPU's stack-frame reserve here, on g0, where no goroutine
    // stack can fault (the fault path itself must not take locks).
    stack::refill_reserve();
    // The tracer's buffers drain here, on g0, where a pause hurts no one.
    crate::trace::flush_point(false);
    let (gp, inherit_time) = find_runnable(mp);
    // Go: a spinning M that found work stops spinning, and wakes another
    // spinner if it was the last one (there may be more work).
    if SCHED.idle.is_spinning(mp.id) {
        halt::resetspinning(mp);
    }
    // The scheduler loop's TLB-epoch flush point, and `gp` must not run
    // through stale translations of its unmapped stack pages.
    stack::flush_point(gp);
    execute(mp, gp, inherit_time)
}

/// Go: `execute`: runs `gp` on this M. A G from `runnext` inherits the time
/// slice (`schedtick` unchanged); any other starts a new one.
pub(super) fn execute(mp: &M, gp: NonNull<G>, inherit_time: bool) -> ! {
    // SAFETY: `gp` came off a run queue: it is a live G that we now own.
    let g = unsafe { gp.as_ref() };
    let pp = mp.p().expect("execute without a P");
    mp.curg.store(gp.as_ptr(), Ordering::Relaxed);
    g.m.store(mp.id as u32, Ordering::Relaxed);
    super::gstatus::start(g);
    g.preempt.store(false, Ordering::Relaxed);
    g.ran_on.fetch_or(1 << mp.id, Ordering::Relaxed);
    super::watchdog::on_execute(g);
    if !inherit_time {
        pp.schedtick.fetch_add(1, Ordering::Relaxed);
    }
    let tick = pp.schedtick.load(Ordering::Relaxed);
    // One clock read for the slice and the re-arm.
    let now = crate::clock::now_ns();
    if pp.slice.starts_new(tick) {
        pp.slice
            .begin(tick, now, super::preempt::slice_ns(), pp.runq.mark());
    }
    pp.counters.grun.fetch_add(1, Ordering::Relaxed);
    crate::trace::go_start(g.goid(), pp.id);
    super::tick::rearm_at(Some(pp), now);
    // SAFETY: the G's context was saved by mcall or built by newproc; its
    // stack is mapped and no other CPU runs it (we own it).
    unsafe { switch::gogo(g.sched.get(), gp.as_ptr() as usize) }
}

/// Go: `findRunnable`: finds a G to run, halting the CPU while there is none.
fn find_runnable(mp: &M) -> (NonNull<G>, bool) {
    loop {
        if SCHED.gcwaiting.load(Ordering::Acquire) {
            stw::gcstopm(mp);
            continue;
        }
        let Some(pp) = mp.p() else {
            // A CPU without a P (beyond gomaxprocs) halts, still serving IPIs
            // and TLB shootdowns, until procresize gives it one.
            mp.halt_while(|| mp.p().is_none() && !SCHED.gcwaiting.load(Ordering::SeqCst));
            continue;
        };
        // Go: checkTimers, for this P and (a timer must not be late because
        // its own CPU is busy, stalled or asleep) the others.
        // Function timers (time channels, `after_func`) run only here, on
        // g0. One pass over the Ps checks both kinds (two loads per P).
        let now = crate::clock::now_ns();
        for i in 0..gomaxprocs() {
            let q = p(i);
            if q.timers.due_ready(now) {
                timers::run_due(q, now);
            }
            if q.timers.due_funcs(now) {
                timers::run_funcs_due(q, now);
            }
        }
        if let Some(found) = policy::find_runnable_fast(&mut Queues { mp, pp, now }) {
            // SAFETY: a G just taken off a run queue is live and ours.
            if super::watchdog::skip_for_test(unsafe { found.0.as_ref() }) {
                // The watchdog's starvation hook: back to the global queue,
                // unrun (every P passes it by; none spins on it alone).
                super::schedt::globrunqput(found.0);
                continue;
            }
            return found;
        }
        if SCHED.gcwaiting.load(Ordering::Acquire) {
            continue;
        }
        // Nothing found: give up the P (mark it idle) and halt until handed
        // work (Go: pidleput + stopm).
        halt::stopm(mp, pp);
    }
}

/// Every run queue as M `mp` with P `pp` sees it: the kernel's side of
/// findRunnable's sources (`policy.rs` decides the order, on the host).
struct Queues<'a> {
    mp: &'a M,
    pp: &'a P,
    /// The clock as this round of findRunnable read it for the timers (the
    /// slice-expiry check uses it too: one read per round, not two).
    now: u64,
}

impl FindSources for Queues<'_> {
    type G = NonNull<G>;

    fn schedtick(&self) -> u32 {
        self.pp.schedtick.load(Ordering::Relaxed)
    }

    fn global_len_hint(&self) -> usize {
        SCHED.runqsize.load(Ordering::Acquire)
    }

    fn woken_get(&mut self) -> Option<NonNull<G>> {
        super::schedt::wokenget()
    }

    fn local_get_waiting(&mut self) -> Option<NonNull<G>> {
        self.pp.runq.get_older_than(self.pp.slice.mark())
    }

    fn global_get_one(&mut self) -> Option<NonNull<G>> {
        let mut q = SCHED.runq.lock();
        let g = q.pop_front();
        SCHED.runqsize.store(q.len(), Ordering::Release);
        if g.is_some() {
            self.pp
                .counters
                .global_takes
                .fetch_add(1, Ordering::Relaxed);
        }
        g
    }

    fn local_get(&mut self) -> Option<(NonNull<G>, bool)> {
        self.pp.runq.get()
    }

    fn global_get_batch(&mut self) -> Option<NonNull<G>> {
        let mut q = SCHED.runq.lock();
        let before = q.len();
        let g = policy::globrunqget(
            &mut q,
            &self.pp.runq,
            gomaxprocs(),
            policy::GLOBAL_BATCH_MAX,
        );
        SCHED.runqsize.store(q.len(), Ordering::Release);
        self.pp
            .counters
            .global_takes
            .fetch_add((before - q.len()) as u64, Ordering::Relaxed);
        g
    }

    fn mode(&self) -> policy::Mode {
        policy::Mode::from_flags(super::knobs::flags())
    }

    fn spin_state(&self) -> SpinState {
        SpinState {
            spinning: SCHED.idle.is_spinning(self.mp.id),
            nmspinning: SCHED.idle.nmspinning(),
            gomaxprocs: gomaxprocs() as u32,
            npidle: SCHED.idle.npidle(),
        }
    }

    fn become_spinning(&mut self) {
        super::put::bump(&self.pp.counters.spinning_starts);
        SCHED.idle.become_spinning(self.mp.id);
    }

    fn current_p(&self) -> usize {
        self.pp.id
    }

    fn steal_order(&mut self) -> RandomEnum {
        STEAL_ORDER.read().start(self.mp.cheaprand())
    }

    fn steal_from(&mut self, victim: usize, steal_runnext: bool) -> Option<NonNull<G>> {
        let v = p(victim);
        if v.status() != PStatus::Running && v.status() != PStatus::Idle {
            return None;
        }
        // Go: if the victim is running and has a runnext, give it ~3 us to
        // schedule it itself before taking it (it is usually about to). Only
        // a running victim (Go: `_Prunning`): an idle one will not.
        let counters = &self.pp.counters;
        let g = self
            .pp
            .runq
            .steal_with_backoff(&v.runq, steal_runnext, || {
                if v.status() != PStatus::Running {
                    counters.runnext_no_backoff.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                counters.runnext_backoffs.fetch_add(1, Ordering::Relaxed);
                let until = crate::arch::rdtsc() + crate::clock::ns_to_cycles(3_000);
                while crate::arch::rdtsc() < until {
                    core::hint::spin_loop();
                }
            })?;
        self.pp.counters.steals.fetch_add(1, Ordering::Relaxed);
        self.pp
            .counters
            .gs_stolen
            .fetch_add(1 + self.pp.runq.len() as u64, Ordering::Relaxed);
        // SAFETY: a G we just took off a queue: live, ours.
        let goid = unsafe { g.as_ref() }.goid();
        crate::trace::steal(victim, 1 + self.pp.runq.len() as u64, goid);
        v.counters.stolen_from.fetch_add(1, Ordering::Relaxed);
        Some(g)
    }

    fn stop_stealing(&self) -> bool {
        SCHED.gcwaiting.load(Ordering::Relaxed)
    }

    fn take_slice_expired(&mut self) -> bool {
        self.pp
            .slice
            .take_expired(self.pp.schedtick.load(Ordering::Relaxed), self.now)
    }
}
