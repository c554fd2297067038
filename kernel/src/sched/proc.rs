//! The scheduler loop (Go: runtime/proc.go): `schedule` -> `findRunnable` ->
//! `execute` -> `gogo`; goroutine creation and exit; `gosched`; `gopark` and
//! `goready`; `wakep` and idling.
//!
//! M i runs on CPU i and owns P i while `i < gomaxprocs`. An idle M halts
//! its CPU (`sti; hlt`) with its P in the idle set; `wakep` hands an idle P
//! back to its M (which then spins: `idle.rs`) and sends a wake-up IPI.
use alloc::boxed::Box;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};

use super::g::{G, Status, WaitReason};
use super::idle;
use super::m::{M, UnlockFn, getg, getm, m};
use super::order::{RandomEnum, RandomOrder};
use super::p::{P, PStatus, p};
use super::policy::{self, FindSources, SpinState};
use super::sched::{SCHED, globrunqput, globrunqputbatch, gomaxprocs};
use super::stack;
use crate::arch::switch::{self, Gobuf};
use crate::arch::{self, percpu};
use crate::lock::locks_held;
use crate::mem::kstack;

/// Size of each M's g0 (scheduler) stack.
const G0_STACK_SIZE: u64 = 64 * 1024;

/// Victim order for stealing (Go: `stealOrder`), sized to gomaxprocs.
static STEAL_ORDER: spin::RwLock<RandomOrder> = spin::RwLock::new(RandomOrder::new());

/// The M's P, if it has one (M i owns P i while i < gomaxprocs).
pub fn mp_p(mp: &M) -> Option<&'static P> {
    (mp.id < gomaxprocs()).then(|| p(mp.id))
}

/// Go: `acquirem`: keeps the current goroutine on this CPU (no preemption,
/// no migration) until the guard drops. Counts as a held runtime lock.
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

// ---------------------------------------------------------------------------
// Start-up

/// Go: `schedinit` + `newproc(runtime.main)` + `mstart` on the bootstrap
/// CPU: sets up the Ps, makes `main` goroutine 1 and starts scheduling.
pub fn init(ncpu: usize, main: fn()) -> ! {
    let cfg = crate::config();
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
    SCHED.ncpu.store(ncpu as u32, Ordering::Relaxed);
    SCHED.gomaxprocs.store(procs as u32, Ordering::Relaxed);
    STEAL_ORDER.write().reset(procs as u32);
    stack::init(cfg.maxstack as u64);
    for i in 0..procs {
        p(i).set_status(PStatus::Running);
    }
    // The main goroutine: id 1. When `main` returns, the kernel powers off
    // with status 0, like a Go program whose main returns.
    newproc_on(
        p(0),
        move || {
            main();
            crate::panic::exit(0)
        },
        "main",
        false,
    );
    super::preempt::init(cfg.slice_ns);
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
    g0.system.store(true, Ordering::Relaxed);
    // Every mcall restarts g0 at its top (Go: g0.sched.sp from mstart).
    // SAFETY: g0 is not running yet; only this CPU uses it.
    unsafe { (*g0.sched.get()).sp = top };
    mp.g0.store(g0, Ordering::Release);
    mp.g0_top.store(top as usize, Ordering::Relaxed);
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
    let (gp, inherit_time) = find_runnable(mp);
    // Go: a spinning M that found work stops spinning, and wakes another
    // spinner if it was the last one (there may be more work).
    if SCHED.idle.is_spinning(mp.id) {
        resetspinning(mp);
    }
    // The scheduler loop's TLB-epoch flush point, and `gp` must not run
    // through stale translations of its unmapped stack pages.
    stack::flush_point(gp);
    execute(mp, gp, inherit_time)
}

/// Go: `execute`: runs `gp` on this M. A G from `runnext` inherits the time
/// slice (`schedtick` unchanged); any other starts a new one.
fn execute(mp: &M, gp: NonNull<G>, inherit_time: bool) -> ! {
    // SAFETY: `gp` came off a run queue: it is a live G that we now own.
    let g = unsafe { gp.as_ref() };
    let pp = mp_p(mp).expect("execute without a P");
    mp.curg.store(gp.as_ptr(), Ordering::Relaxed);
    g.m.store(mp.id as u32, Ordering::Relaxed);
    g.casgstatus(Status::Runnable, Status::Running);
    g.preempt.store(false, Ordering::Relaxed);
    g.stackguard0.store(
        g.stack_window.load(Ordering::Relaxed) + crate::layout::PAGE_SIZE,
        Ordering::Relaxed,
    );
    g.ran_on.fetch_or(1 << mp.id, Ordering::Relaxed);
    if !inherit_time {
        pp.schedtick.fetch_add(1, Ordering::Relaxed);
    }
    // A new time slice starts when schedtick moved (Go: sysmon notices the
    // change and records schedwhen) or when no slice is running yet. A G
    // from runnext keeps the slice it inherited.
    let tick = pp.schedtick.load(Ordering::Relaxed);
    if tick != pp.slice_tick.load(Ordering::Relaxed)
        || pp.slice_deadline.load(Ordering::Relaxed) == u64::MAX
    {
        pp.slice_tick.store(tick, Ordering::Relaxed);
        pp.urgent_cut.store(false, Ordering::Relaxed);
        pp.begin_slice(crate::clock::now_ns(), super::preempt::slice_ns());
    }
    pp.counters.grun.fetch_add(1, Ordering::Relaxed);
    super::preempt::rearm(Some(pp));
    // SAFETY: the G's context was saved by mcall or built by newproc; its
    // stack is mapped and no other CPU runs it (we own it).
    unsafe { switch::gogo(g.sched.get(), gp.as_ptr() as usize) }
}

/// The kernel's side of findRunnable's sources (see `policy.rs` for the
/// order, which is tested on the host).
struct Sources<'a> {
    mp: &'a M,
    pp: &'a P,
}

impl FindSources for Sources<'_> {
    type G = NonNull<G>;

    fn schedtick(&self) -> u32 {
        self.pp.schedtick.load(Ordering::Relaxed)
    }

    fn global_len_hint(&self) -> usize {
        SCHED.runqsize.load(Ordering::Acquire)
    }

    fn urgent_get(&mut self) -> Option<NonNull<G>> {
        if SCHED.nurgent.load(Ordering::Acquire) == 0 {
            return None;
        }
        super::sched::urgentget()
    }

    fn local_get_waiting(&mut self) -> Option<NonNull<G>> {
        self.pp.runq.get_older_than(self.pp.slice_mark())
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

    fn spin_state(&self) -> SpinState {
        SpinState {
            spinning: SCHED.idle.is_spinning(self.mp.id),
            nmspinning: SCHED.idle.nmspinning(),
            gomaxprocs: gomaxprocs() as u32,
            npidle: SCHED.idle.npidle(),
        }
    }

    fn become_spinning(&mut self) {
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
                let until = arch::rdtsc() + crate::clock::ns_to_cycles(3_000);
                while arch::rdtsc() < until {
                    core::hint::spin_loop();
                }
            })?;
        self.pp.counters.steals.fetch_add(1, Ordering::Relaxed);
        self.pp
            .counters
            .gs_stolen
            .fetch_add(1 + self.pp.runq.len() as u64, Ordering::Relaxed);
        v.counters.stolen_from.fetch_add(1, Ordering::Relaxed);
        Some(g)
    }

    fn stop_stealing(&self) -> bool {
        SCHED.gcwaiting.load(Ordering::Relaxed)
    }

    fn take_slice_expired(&mut self) -> bool {
        // Either a preemption said so, or the slice ran out while this CPU
        // was in the scheduler (the timer interrupt does not preempt g0, so
        // the scheduler notices it here: Go's sysmon would preempt the next
        // G right away).
        let flagged = self.pp.slice_expired.swap(false, Ordering::Relaxed);
        let ran_out = crate::clock::now_ns() >= self.pp.slice_deadline.load(Ordering::Relaxed)
            && self.pp.schedtick.load(Ordering::Relaxed)
                == self.pp.slice_tick.load(Ordering::Relaxed);
        flagged || ran_out
    }
}

/// Go: `findRunnable`: finds a G to run, halting the CPU while there is none.
fn find_runnable(mp: &M) -> (NonNull<G>, bool) {
    loop {
        if SCHED.gcwaiting.load(Ordering::Acquire) {
            gcstopm(mp);
            continue;
        }
        let Some(pp) = mp_p(mp) else {
            // A CPU without a P (beyond gomaxprocs) halts, still serving IPIs
            // and TLB shootdowns, until procresize gives it one.
            halt_while(mp, || {
                mp_p(mp).is_none() && !SCHED.gcwaiting.load(Ordering::SeqCst)
            });
            continue;
        };
        // Go: checkTimers: run this P's due timers (function timers too: we
        // are on g0, not in an interrupt handler).
        let now = crate::clock::now_ns();
        if pp.timers.timer0_when.load(Ordering::Acquire) <= now
            || pp.timers.due.load(Ordering::Relaxed)
        {
            crate::time::timer::run_due(pp, now, true);
        }
        // A timer must not be late because its own CPU is busy, stalled or
        // asleep.
        crate::time::timer::run_others_due(pp, now);
        if let Some(found) = policy::find_runnable_fast(&mut Sources { mp, pp }) {
            return found;
        }
        if SCHED.gcwaiting.load(Ordering::Acquire) {
            continue;
        }
        // Nothing found: give up the P (mark it idle) and halt until handed
        // work (Go: pidleput + stopm).
        idle(mp, pp);
    }
}

/// The kernel's side of the idle protocol (`idle.rs`): interrupts, `hlt`,
/// wake-up IPIs and the real queues.
struct Cpu<'a> {
    mp: &'a M,
}

/// Test hook (issue 10 D's regression test): nanoseconds `wakep` stalls
/// between taking an idle P and waking its M. 0 in normal runs.
pub static WAKEP_WINDOW_DELAY_NS: AtomicU64 = AtomicU64::new(0);

impl idle::Machine for Cpu<'_> {
    fn any_work(&self) -> bool {
        if SCHED.runqsize.load(Ordering::SeqCst) != 0 || SCHED.nurgent.load(Ordering::SeqCst) != 0 {
            return true;
        }
        (0..gomaxprocs()).any(|i| !p(i).runq.is_empty())
    }

    fn work_before_halt(&self, m: usize) -> bool {
        let pp = p(m);
        SCHED.runqsize.load(Ordering::SeqCst) != 0
            || SCHED.nurgent.load(Ordering::SeqCst) != 0
            || SCHED.gcwaiting.load(Ordering::SeqCst)
            || pp.timers.due.load(Ordering::Relaxed)
            || pp.timers.timer0_when.load(Ordering::Acquire) <= crate::clock::now_ns()
    }

    fn interrupts_off(&self) {
        crate::arch::irq::disable();
    }

    fn interrupts_on(&self) {
        crate::arch::irq::enable();
    }

    fn halt(&self, m: usize) {
        let pp = p(m);
        pp.counters.idle_halts.fetch_add(1, Ordering::Relaxed);
        // Tickless: an idle P's timer is armed for its next timer only.
        super::preempt::rearm(Some(pp));
        self.mp.halt();
    }

    fn wake(&self, m: usize) {
        super::m::m(m).wakeups.fetch_add(1, Ordering::Relaxed);
        crate::arch::ipi::send_wakeup(m);
    }

    fn this_m(&self) -> usize {
        percpu::cpu_index()
    }

    fn pinned(&self, f: &mut dyn FnMut()) {
        let _m = AcquireM::new();
        f()
    }

    fn wakep_window(&self) {
        let ns = WAKEP_WINDOW_DELAY_NS.load(Ordering::Relaxed);
        if ns != 0 {
            let until = crate::clock::now_ns() + ns;
            while crate::clock::now_ns() < until {
                core::hint::spin_loop();
            }
        }
    }
}

/// The idle path (Go: `pidleput` + `stopm`): the P goes idle and the CPU
/// halts until the P is busy again (see `idle.rs` for the protocol).
fn idle(mp: &M, pp: &P) {
    pp.set_status(PStatus::Idle);
    let how = SCHED.idle.idle(mp.id, &Cpu { mp });
    match how {
        idle::Woken::Recheck => mp.idle_returns[0].fetch_add(1, Ordering::Relaxed),
        idle::Woken::Work => mp.idle_returns[1].fetch_add(1, Ordering::Relaxed),
        idle::Woken::Handed => {
            pp.counters.wakeups.fetch_add(1, Ordering::Relaxed);
            mp.idle_returns[2].fetch_add(1, Ordering::Relaxed)
        }
    };
    pp.set_status(PStatus::Running);
}

/// Go: `resetspinning`: a spinning M found work; if it was the last spinning
/// M and Ps are idle, wake another to look for more.
fn resetspinning(mp: &M) {
    SCHED.idle.stop_spinning(mp.id);
    if SCHED.idle.should_wake_after_spin() {
        wakep();
    }
}

/// Go: `wakep`: if there is an idle P and no spinning M, wake one idle CPU to
/// look for work. Callers publish the work first (see `idle.rs`).
pub fn wakep() {
    if !SCHED.mainstarted.load(Ordering::Relaxed) {
        return;
    }
    SCHED.idle.wakep(&Cpu { mp: getm() });
}

// ---------------------------------------------------------------------------
// Goroutine creation and exit

/// The goroutine's first function: runs its closure, then returns into
/// `goexit` (planted by `prepare_stack`).
extern "C" fn gostart() {
    let gp = getg();
    // SAFETY: we are the current goroutine; `entry.call` was set by newproc
    // before the G was published, and is taken exactly once here.
    unsafe {
        let call = (*(*gp).entry.call.get())
            .take()
            .expect("goroutine without entry");
        call((*gp).entry.bytes.get() as *mut u8);
    }
}

/// Go: `goexit1`: called by `goexit` when a goroutine's function returns.
#[unsafe(export_name = "gmpos_goexit1")]
pub extern "C" fn goexit1() -> ! {
    // SAFETY: we are on a goroutine stack (goexit only runs there).
    unsafe { switch::mcall(goexit0) };
    unreachable!("goexit0 returned")
}

/// Go: `goexit0` (on g0): the G is dead; recycle it and schedule.
unsafe extern "C" fn goexit0(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: the exiting goroutine is ours; mcall passed its address.
    let g = unsafe { &*(gp as *const G) };
    g.casgstatus(Status::Running, Status::Dead);
    if !g.system.load(Ordering::Relaxed) {
        SCHED.ngoroutine.fetch_sub(1, Ordering::Relaxed);
    }
    mp.curg.store(ptr::null_mut(), Ordering::Relaxed);
    g.m.store(u32::MAX, Ordering::Relaxed);
    g.set_wait_reason(WaitReason::Zero);
    // Go's gfput keeps the stack: the window and its top page stay.
    stack::release_to_top(g);
    gfput(mp_p(mp).expect("goexit without a P"), g);
    schedule()
}

/// Go: `gfput`: a dead G (keeping its stack) to the P's free cache, which
/// spills half to the global list when it reaches 64.
fn gfput(pp: &P, g: &G) {
    // SAFETY: only this M touches its P's free cache (we are on g0 with the
    // P); the G is dead and on no list.
    unsafe { (*pp.gfree.get()).put(NonNull::from(g), &SCHED) };
}

/// Go: `gfget`: a free G from the P's cache (refilled from the global list in
/// batches of 32).
fn gfget(pp: &P) -> Option<NonNull<G>> {
    // SAFETY: as in gfput; the caller holds AcquireM.
    unsafe { (*pp.gfree.get()).get(&SCHED) }
}

/// Go: `malg`: a brand-new G with a stack.
fn malg() -> NonNull<G> {
    let g = Box::leak(Box::new(G::new()));
    stack::alloc(g);
    g.casgstatus(Status::Idle, Status::Dead);
    SCHED.nallocated.fetch_add(1, Ordering::Relaxed);
    // Go: allgadd: push onto the list of all Gs (lock-free, never removed).
    let mut head = SCHED.allgs.load(Ordering::Acquire);
    loop {
        g.allnext.store(head, Ordering::Relaxed);
        match SCHED
            .allgs
            .compare_exchange_weak(head, g, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => break,
            Err(h) => head = h,
        }
    }
    NonNull::from(g)
}

/// Stores closure `f` in the G's entry slot, inline when it fits.
fn store_entry<F: FnOnce() + Send + 'static>(g: &G, f: F) {
    unsafe fn call_inline<F: FnOnce()>(p: *mut u8) {
        // SAFETY: `p` holds an F written by store_entry, read exactly once.
        let f = unsafe { (p as *mut F).read() };
        f()
    }
    unsafe fn call_boxed<F: FnOnce()>(p: *mut u8) {
        // SAFETY: `p` holds a Box<F> written by store_entry, read once.
        let f = unsafe { (p as *mut Box<F>).read() };
        f()
    }
    let bytes = g.entry.bytes.get() as *mut u8;
    // SAFETY: the G is dead/idle and owned by the spawner; the slot is
    // 16-aligned and INLINE_FN_BYTES long, checked against F's layout.
    unsafe {
        if size_of::<F>() <= super::g::INLINE_FN_BYTES && align_of::<F>() <= 16 {
            (bytes as *mut F).write(f);
            *g.entry.call.get() = Some(call_inline::<F>);
        } else {
            (bytes as *mut Box<F>).write(Box::new(f));
            *g.entry.call.get() = Some(call_boxed::<F>);
        }
    }
}

/// Go: `newproc1` + `runqput(pp, newg, true)`: creates a goroutine running
/// `f` on P `pp` (whose owner we are) and returns its id.
fn newproc_on<F: FnOnce() + Send + 'static>(pp: &P, f: F, name: &'static str, system: bool) -> u64 {
    let gp = gfget(pp).unwrap_or_else(malg);
    // SAFETY: a dead G from the free list or malg: we own it exclusively.
    let g = unsafe { gp.as_ref() };
    let parent = current_goid();
    store_entry(g, f);
    let hi = g.stack_hi.load(Ordering::Relaxed);
    // SAFETY: the G is ours and not running: nobody else reads `sched`.
    unsafe { *g.sched.get() = switch::prepare_stack(hi, gostart) };
    let goid = SCHED.goidgen.fetch_add(1, Ordering::Relaxed) + 1;
    g.goid.store(goid, Ordering::Relaxed);
    g.parent_goid.store(parent, Ordering::Relaxed);
    g.system.store(system, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe {
        *g.entry_name.get() = name;
        *g.creator_name.get() = current_entry_name();
    }
    g.set_wait_reason(WaitReason::Zero);
    if !system {
        SCHED.ngoroutine.fetch_add(1, Ordering::Relaxed);
    }
    g.casgstatus(Status::Dead, Status::Runnable);
    pp.runq.put(gp, true, globrunqputbatch);
    goid
}

/// `go f()` (Go: `newproc`): starts a goroutine running `f` and returns its
/// id. It goes to this P's `runnext`; an idle CPU is woken to steal work.
pub fn go<F: FnOnce() + Send + 'static>(f: F) -> u64 {
    spawn(f, core::any::type_name::<F>(), false)
}

/// Starts a runtime-internal (system) goroutine: not counted by
/// `num_goroutine`, the deadlock check or default dumps.
pub fn go_system<F: FnOnce() + Send + 'static>(f: F) -> u64 {
    spawn(f, core::any::type_name::<F>(), true)
}

fn spawn<F: FnOnce() + Send + 'static>(f: F, name: &'static str, system: bool) -> u64 {
    stack::stack_check();
    if percpu::irq_depth() != 0 {
        // An interrupt may have stopped the owner in the middle of a push
        // into this P's ring (single producer): never spawn from a handler.
        crate::panic::fatal(format_args!("go called from an interrupt handler"));
    }
    let id = {
        let _m = AcquireM::new();
        let pp = mp_p(getm()).expect("go: no P");
        newproc_on(pp, f, name, system)
    };
    wakep();
    id
}

// ---------------------------------------------------------------------------
// Yielding, parking, readying

/// Fatal error when a goroutine-only operation runs where it cannot work.
fn check_can_block(what: &str) {
    if percpu::irq_depth() != 0 {
        crate::panic::fatal(format_args!("{what} called from an interrupt handler"));
    }
    if getg().is_null() || super::m::on_g0() {
        crate::panic::fatal(format_args!("{what} called on g0 (the scheduler's stack)"));
    }
}

/// Go: `Gosched`: yields the processor; the goroutine goes to the global
/// queue and runs again later.
pub fn gosched() {
    stack::stack_check();
    check_can_block("gosched");
    if locks_held() != 0 {
        crate::panic::fatal(format_args!("gosched: holding locks"));
    }
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(gosched_m) };
}

/// Go: `gosched_m` -> `goschedImpl` (on g0).
unsafe extern "C" fn gosched_m(gp: usize) -> ! {
    // SAFETY: mcall passed the current goroutine, which we own now.
    requeue_global(unsafe { &*(gp as *const G) })
}

/// Go: `goyield`: like `gosched`, but the goroutine goes to the tail of this
/// P's local ring instead of the global queue (it keeps its locality).
pub fn goyield() {
    check_can_block("goyield");
    if locks_held() != 0 {
        crate::panic::fatal(format_args!("goyield: holding locks"));
    }
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(goyield_m) };
}

/// Go: `goyield_m` (on g0).
unsafe extern "C" fn goyield_m(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: mcall passed the current goroutine, which we own now.
    let g = unsafe { &*(gp as *const G) };
    g.casgstatus(Status::Running, Status::Runnable);
    mp.curg.store(ptr::null_mut(), Ordering::Relaxed);
    stack::maybe_shrink(g, gobuf_of(g).sp);
    match mp_p(mp) {
        Some(pp) => pp.runq.put(NonNull::from(g), false, globrunqputbatch),
        None => globrunqput(NonNull::from(g)),
    }
    schedule()
}

/// Go: `gopark`: parks the current goroutine with `reason`. Once it is off
/// its stack, `unlock` runs on g0 (Go: `unlockf`); if it returns false the
/// goroutine resumes at once. Whoever will `goready` it must find it through
/// something `unlock` releases (a lock, a wait queue), so it is never readied
/// before it has fully stopped.
pub fn gopark(unlock: Option<&dyn Fn() -> bool>, reason: WaitReason) {
    check_can_block("gopark");
    // From here to the switch we must stay on this CPU: the unlock function
    // is handed over through this M. Interrupts off (mcall re-enables them
    // on g0) rules out a preemption in between (Go: acquirem).
    crate::arch::irq::disable();
    let mp = getm();
    // SAFETY: only this M touches waitunlockf; the closure lives on our
    // stack, which stays intact until park_m has run it.
    unsafe {
        *mp.waitunlockf.get() = unlock.map(|f| {
            core::mem::transmute::<*const (dyn Fn() -> bool + '_), UnlockFn>(f as *const _)
        });
    }
    // SAFETY: getg() is our live goroutine.
    let g = unsafe { &*getg() };
    g.set_wait_reason(reason);
    g.wait_since
        .store(crate::clock::now_ns(), Ordering::Relaxed);
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(park_m) };
}

/// Go: `park_m` (on g0).
unsafe extern "C" fn park_m(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: mcall passed the current goroutine.
    let g = unsafe { &*(gp as *const G) };
    g.casgstatus(Status::Running, Status::Waiting);
    let user = !g.system.load(Ordering::Relaxed);
    if user {
        SCHED.nwaiting.fetch_add(1, Ordering::Relaxed);
    }
    mp.curg.store(ptr::null_mut(), Ordering::Relaxed);
    // Shrink before the unlock: afterwards another CPU may run the G. The
    // shrink sends no IPI and waits for nothing (the frames wait in the TLB
    // epoch's limbo; with the limbo full and this lock held it is skipped),
    // so gopark's lock may be any lock, interrupt-safe ones included.
    stack::maybe_shrink(g, gobuf_of(g).sp);
    // SAFETY: set by gopark on this M just before mcall.
    let unlock = unsafe { (*mp.waitunlockf.get()).take() };
    if let Some(f) = unlock {
        // SAFETY: the closure lives on the parked G's stack, intact while it
        // is parked; nobody can ready the G before `f` releases its lock.
        let ok = unsafe { (*f)() };
        if !ok {
            if user {
                SCHED.nwaiting.fetch_sub(1, Ordering::Relaxed);
            }
            g.casgstatus(Status::Waiting, Status::Runnable);
            execute(mp, NonNull::from(g), true);
        }
    }
    if locks_held() != 0 {
        crate::panic::fatal(format_args!(
            "schedule: holding locks (after gopark unlock: {} held on cpu {}, goroutine {} parked for {})",
            locks_held(),
            percpu::cpu_index(),
            g.goid(),
            g.wait_reason().as_str()
        ));
    }
    schedule()
}

/// Go: `goready`: makes a parked goroutine runnable. From a goroutine it goes
/// to this P's `runnext` (it runs next, inheriting our time slice); from an
/// interrupt handler or a CPU without a P it goes to the global queue (never
/// into a ring the interrupted code may be pushing into).
pub fn goready(gp: NonNull<G>) {
    goready_impl(gp, false)
}

/// `goready` for a goroutine whose timer fired (a woken sleeper): it goes to
/// the front of the global queue, which every P checks first while such Gs
/// wait there.
pub fn goready_timer(gp: NonNull<G>) {
    goready_impl(gp, true)
}

fn goready_impl(gp: NonNull<G>, timer: bool) {
    // SAFETY: the caller found `gp` parked through its wait structure.
    let g = unsafe { gp.as_ref() };
    if !g.system.load(Ordering::Relaxed) {
        SCHED.nwaiting.fetch_sub(1, Ordering::Relaxed);
    }
    g.set_wait_reason(WaitReason::Zero);
    g.casgstatus(Status::Waiting, Status::Runnable);
    let in_irq = percpu::irq_depth() != 0;
    {
        let _m = AcquireM::new();
        match mp_p(getm()) {
            // A woken sleeper goes to the front of the global queue whoever
            // runs its timer (interrupt or scheduler loop): several timers
            // firing at once must not push each other, and the backlog,
            // through one P's runnext and ring.
            _ if timer => super::sched::urgentput(gp),
            Some(pp) if !in_irq => pp.runq.put(gp, true, globrunqputbatch),
            _ => globrunqput(gp),
        }
    }
    wakep();
}

/// Go: `gopreempt_m` reached from a cooperative safe point
/// (`stack_check` found `stackguard0 == STACK_PREEMPT`): yield to the global
/// queue if preemption is allowed here, else leave the request pending.
pub fn preempt_at_safe_point() {
    let g = getg();
    if g.is_null()
        || super::m::on_g0()
        || locks_held() != 0
        || percpu::irq_depth() != 0
        || !arch::irq::enabled()
    {
        return;
    }
    // SAFETY: the current goroutine is live.
    let g = unsafe { &*g };
    // Take the request with interrupts off: a timer interrupt between the
    // check and the switch could otherwise preempt us asynchronously first,
    // and we would then yield a second time for nothing.
    crate::arch::irq::disable();
    if !g.preempt.swap(false, Ordering::Relaxed) {
        crate::arch::irq::enable();
        return;
    }
    g.stackguard0.store(
        g.stack_window.load(Ordering::Relaxed) + crate::layout::PAGE_SIZE,
        Ordering::Relaxed,
    );
    super::preempt::count_cooperative();
    // SAFETY: we are a goroutine at a safe point.
    unsafe { switch::mcall(gopreempt_coop_m) };
}

/// `gopreempt_m` for a pending request honoured at a safe point (on g0).
unsafe extern "C" fn gopreempt_coop_m(gp: usize) -> ! {
    // SAFETY: mcall passed the current goroutine, which we own now.
    requeue_preempted(unsafe { &*(gp as *const G) })
}

/// The end of a preemption (on g0): to the global queue, unless the slice
/// was only cut to let timer-woken goroutines run: then the goroutine goes
/// right behind them (`urgentq`), not behind the whole backlog.
pub fn requeue_preempted(g: &G) -> ! {
    let urgent = mp_p(getm()).is_some_and(|pp| pp.urgent_cut.swap(false, Ordering::Relaxed));
    requeue(
        g,
        if urgent {
            super::sched::urgentput
        } else {
            globrunqput
        },
    )
}

/// The end of `gosched_m`/`gopreempt_m` (on g0): `g` goes to the global
/// queue and this M schedules.
pub fn requeue_global(g: &G) -> ! {
    requeue(g, globrunqput)
}

/// `Running -> Runnable`, off this M, into the queue `put`, then schedule.
fn requeue(g: &G, put: fn(NonNull<G>)) -> ! {
    let mp = getm();
    g.casgstatus(Status::Running, Status::Runnable);
    mp.curg.store(ptr::null_mut(), Ordering::Relaxed);
    stack::maybe_shrink(g, gobuf_of(g).sp);
    put(NonNull::from(g));
    if mp_p(mp).is_none() {
        // This M has no P (after procresize): it will not run the G itself,
        // so another CPU must be told (Go's goschedImpl needs no wakep: its
        // M keeps its P).
        wakep();
    }
    schedule()
}

/// Adds timer `t` at `when` to this M's P (on g0, e.g. in gopark's unlock
/// function) and reprograms this CPU's timer if it became the earliest.
pub fn timer_added_here(t: &crate::time::timer::Timer, when: u64) {
    let pp = mp_p(getm()).expect("timer added on a CPU without a P");
    if crate::time::timer::add(pp, t, when) {
        crate::arch::irq::without(|| super::preempt::rearm(Some(pp)));
    }
}

// ---------------------------------------------------------------------------
// Stop the world and procresize

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
/// Deciding from `mp_p` here instead would let an M whose P the very stop
/// in progress creates (procresize growing gomaxprocs) count itself and mark
/// its new P stopped after the stopper had restarted it.
fn gcstopm(mp: &M) {
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
    halt_while(mp, || {
        SCHED.gcwaiting.load(Ordering::SeqCst) && SCHED.stopgen.load(Ordering::SeqCst) == stop_gen
    });
}

/// Halts while `cond` holds, checking it with interrupts off right before
/// each `sti; hlt` (the idle path's check-then-halt rule: a wake-up IPI sent
/// after the check stays pending and ends the `hlt` at once; checked with
/// interrupts on, an IPI landing between the check and the halt would be
/// consumed and lost).
fn halt_while(mp: &M, cond: impl Fn() -> bool) {
    loop {
        crate::arch::irq::disable();
        if !cond() {
            crate::arch::irq::enable();
            return;
        }
        mp.halt();
    }
}

/// Go: `worldsema`: one stop-the-world at a time. A sleeping lock: the
/// second caller parks instead of spinning with preemption off (two
/// stoppers spinning would each wait for the other's P forever, issue 10 F).
static WORLDSEMA: crate::sync::sema::Sema = crate::sync::sema::Sema::new(1);

/// Go: `GOMAXPROCS(n)`: stops the world, resizes the set of Ps (Go's
/// `procresize`: Gs of removed Ps go to the global queue), restarts.
/// Returns the previous value. `n` outside 1..=CPUs is a clear error.
pub fn set_gomaxprocs(n: usize) -> usize {
    check_can_block("set_gomaxprocs");
    let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    if n == 0 || n > ncpu {
        let old = gomaxprocs();
        crate::println!("set_gomaxprocs({n}): must be 1..={ncpu}; keeping {old}");
        return old;
    }
    WORLDSEMA.acquire(WaitReason::Park);
    let old = gomaxprocs();
    if n != old {
        stop_the_world_and_resize(n, old);
    }
    WORLDSEMA.release();
    if percpu::cpu_index() >= gomaxprocs() {
        // This CPU has no P any more: move to one that has (gosched puts us
        // on the global queue; this M then idles without a P).
        gosched();
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
        crate::time::timer::move_all(pp, p(0));
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
    STEAL_ORDER.write().reset(n as u32);
    SCHED.gcwaiting.store(false, Ordering::SeqCst);
    for i in 0..SCHED.ncpu.load(Ordering::Relaxed) as usize {
        if i != me {
            crate::arch::ipi::send_wakeup(i);
        }
    }
    drop(_m);
}

// ---------------------------------------------------------------------------
// Queries

/// The current goroutine's id (0 on g0 or before the scheduler runs).
pub fn current_goid() -> u64 {
    let g = getg();
    if g.is_null() {
        return 0;
    }
    // SAFETY: the current G is live while it runs.
    unsafe { (*g).goid() }
}

fn current_entry_name() -> &'static str {
    let g = getg();
    if g.is_null() || super::m::on_g0() {
        return "runtime";
    }
    // SAFETY: as above.
    unsafe { (*g).entry_name() }
}

/// Go: `runtime.NumGoroutine`: live user goroutines.
pub fn num_goroutine() -> u64 {
    SCHED.ngoroutine.load(Ordering::Relaxed)
}

/// The saved context of the current G (for reports).
pub fn gobuf_of(g: &G) -> Gobuf {
    // SAFETY: a racy snapshot for diagnostics only.
    unsafe { *g.sched.get() }
}
