//! Blocking and waking (Go: `gopark`, `park_m`, `goready`, `ready`).
//!
//! A goroutine that must wait (a semaphore, a WaitGroup, a timer) parks:
//! it moves to g0, becomes `Waiting`, and only then is its wait published
//! (gopark's unlock function releases the lock its waker takes), so no one
//! can ready it before it has fully stopped. `goready` makes it `Runnable`
//! and queues it: the waker's `runnext` from a goroutine, the global queue
//! from an interrupt handler, the woken queue for a timer.
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::g::{G, Status, WaitReason};
use super::gstatus;
use super::m::{AcquireM, UnlockFn, getg, getm};
use super::schedt::{globrunqput, wokenput};
use crate::arch::{percpu, switch};
use crate::lock::locks_held;

/// Fatal error when a goroutine-only operation runs where it cannot work:
/// in an interrupt handler, on g0, or (unless it parks with an unlock
/// function that releases them) while holding runtime locks.
#[inline(always)]
pub(super) fn check_can_block(what: &str, locks: Locks) {
    // The common case in a few loads and one branch (every gosched and park
    // pays it); the slow path names what is wrong.
    let cpu = percpu::this();
    let g = percpu::current_g();
    let held = match locks {
        Locks::None => locks_held(),
        Locks::ReleasedByUnlock => 0,
    };
    if percpu::irq_depth() | held != 0 || g == 0 || g == cpu.g0.load(Ordering::Relaxed) {
        cannot_block(what, locks);
    }
}

#[cold]
#[inline(never)]
fn cannot_block(what: &str, locks: Locks) {
    if percpu::irq_depth() != 0 {
        crate::panic::fatal(format_args!("{what} called from an interrupt handler"));
    }
    if getg().is_null() || super::m::on_g0() {
        crate::panic::fatal(format_args!("{what} called on g0 (the scheduler's stack)"));
    }
    if let Locks::None = locks
        && locks_held() != 0
    {
        crate::panic::fatal(format_args!("{what}: holding locks"));
    }
}

/// The same check for a blocking operation outside the scheduler (a channel
/// send or receive, `select!`) before it takes any lock: from an interrupt
/// handler it is `fatal error: <what> called from an interrupt handler`.
pub fn check_blocking(what: &str) {
    check_can_block(what, Locks::None)
}

/// Which runtime locks a blocking call may be entered with.
#[derive(Clone, Copy)]
pub(super) enum Locks {
    /// None: the goroutine would sleep holding them (`gosched`, `goyield`).
    None,
    /// Those its unlock function releases (`gopark`; checked after it ran).
    ReleasedByUnlock,
}

/// Go: `gopark`: parks the current goroutine with `reason`. Once it is off
/// its stack, `unlock` runs on g0 (Go: `unlockf`); if it returns false the
/// goroutine resumes at once. Whoever will `goready` it must find it through
/// something `unlock` releases (a lock, a wait queue), so it is never readied
/// before it has fully stopped.
pub fn gopark(unlock: Option<&dyn Fn() -> bool>, reason: WaitReason) {
    park(unlock, reason, false)
}

/// `gopark` for a goroutine holding interrupt-safe locks its unlock
/// function releases (a channel's, `sync/chan.rs`): interrupts stay off on
/// g0 until `unlock` has run (`switch::mcall_noirq`). With them on in
/// between, an interrupt handler on this CPU taking the same lock (a
/// device's `try_send`) would spin forever on a lock its own CPU holds.
pub fn gopark_irqlocked(unlock: &dyn Fn() -> bool, reason: WaitReason) {
    park(Some(unlock), reason, true)
}

fn park(unlock: Option<&dyn Fn() -> bool>, reason: WaitReason, irq_locked: bool) {
    check_can_block("gopark", Locks::ReleasedByUnlock);
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
    if irq_locked {
        // SAFETY: we are a goroutine (checked above); park_m turns
        // interrupts on once the unlock function has run.
        unsafe { switch::mcall_noirq(park_m) };
    } else {
        // SAFETY: we are a goroutine (checked above).
        unsafe { switch::mcall(park_m) };
    }
    // Running again: forget what we waited on (the watchdog's record).
    super::watchdog::on_resume(g);
}

/// Go: `park_m` (on g0; interrupts off until the unlock function has run
/// when parked by `gopark_irqlocked`).
unsafe extern "C" fn park_m(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: mcall passed the current goroutine.
    let g = unsafe { &*(gp as *const G) };
    crate::trace::go_block(g.goid(), g.wait_reason() as u8);
    // SAFETY: set by gopark on this M just before mcall.
    let unlock = unsafe { (*mp.waitunlockf.get()).take() };
    let unlock = unlock.map(|f| {
        move || {
            // SAFETY: the closure lives on the parked G's stack, intact
            // while it is parked; nobody can ready the G before `f`
            // releases its lock.
            let ok = unsafe { (*f)() };
            // After `gopark_irqlocked` interrupts are still off if the
            // unlock function did not turn them on; g0 runs the scheduler
            // with them on.
            crate::arch::irq::enable();
            ok
        }
    });
    // The status protocol (`gstatus.rs`): Waiting, then the rest of dropg,
    // then the unlock publishes the wait.
    let commit = gstatus::park_commit(
        g,
        // Shrink before the unlock: afterwards another CPU may run the G.
        // The shrink sends no IPI and waits for nothing (the frames wait in
        // the TLB epoch's limbo; with the limbo full and this lock held it
        // is skipped), so gopark's lock may be any lock, interrupt-safe
        // ones included.
        |g| mp.dropg_rest(g),
        unlock,
        |g| {
            end_external_wait(g);
            crate::trace::go_unblock(g.goid(), 0, crate::trace::ReadyTo::LocalP);
        },
    );
    if commit == gstatus::Commit::Resume {
        super::proc::execute(mp, NonNull::from(g), true);
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
    super::proc::schedule()
}

/// Parks the current goroutine (`reason`) and runs `next` on this CPU at
/// once: no run queue, the slice inherited (Go has no such call; it is the
/// floor of a context switch, one `mcall` and one `gogo`, which the
/// `switch` benchmark measures). `next` must be parked (`Waiting`, its
/// context saved) and its waker must be the caller alone: it is taken
/// without going through its wait structure. The caller resumes when
/// someone readies or hands off to it.
pub fn gohandoff(next: NonNull<G>, reason: WaitReason) {
    check_can_block("gohandoff", Locks::None);
    // Interrupts off until mcall's switch: the slot is this M's, and a
    // preemption in between could move us to another CPU.
    crate::arch::irq::disable();
    getm().handoff.store(next.as_ptr(), Ordering::Relaxed);
    // SAFETY: getg() is our live goroutine.
    unsafe { &*getg() }.set_wait_reason(reason);
    // SAFETY: we are a goroutine (checked above).
    unsafe { switch::mcall(handoff_m) };
}

/// `gohandoff`'s half on g0.
unsafe extern "C" fn handoff_m(gp: usize) -> ! {
    let mp = getm();
    // SAFETY: mcall passed the current goroutine.
    let g = unsafe { &*(gp as *const G) };
    let next = mp.handoff.swap(core::ptr::null_mut(), Ordering::Relaxed);
    let next = NonNull::new(next).expect("gohandoff: no goroutine to run");
    // SAFETY: the caller of gohandoff guarantees `next` is parked and that
    // only it wakes it: we own it now.
    let n = unsafe { next.as_ref() };
    n.set_wait_reason(WaitReason::Zero);
    // `next` runnable before we count ourselves waiting: the deadlock check
    // must never see both parked at one instant.
    n.casgstatus(Status::Waiting, Status::Runnable);
    mp.dropg(g, Status::Waiting);
    super::proc::execute(mp, next, true)
}

/// Go: `goready`: makes a parked goroutine runnable. From a goroutine it goes
/// to this P's `runnext` (it runs next, inheriting our time slice); from an
/// interrupt handler or a CPU without a P it goes to the global queue (never
/// into a ring the interrupted code may be pushing into).
pub fn goready(gp: NonNull<G>) {
    let in_irq = percpu::irq_depth() != 0;
    // From an interrupt: a wake-up from outside goroutine code, which the
    // deadlock check must see (`deadlock.rs`).
    let _waking = in_irq.then(super::deadlock::Waking::new);
    let to = match getm().p() {
        Some(_) if !in_irq && !super::knobs::gm() => crate::trace::ReadyTo::LocalP,
        _ => crate::trace::ReadyTo::Global,
    };
    ready(gp, to, |g| match getm().p() {
        Some(pp) if !in_irq => super::put::runqput(pp, g, true),
        _ => globrunqput(g),
    })
}

/// `goready` for a goroutine its timer woke (a sleeper), from the timer
/// interrupt or a scheduler loop: to the woken queue, which every P serves
/// first. Several timers firing at once must not push each other, and the
/// backlog, through one P's runnext and ring.
pub fn goready_woken(gp: NonNull<G>) {
    ready(gp, crate::trace::ReadyTo::Woken, wokenput)
}

/// Go: `ready`: `Waiting -> Runnable`, into the queue `put`, then `wakep`.
fn ready(gp: NonNull<G>, to: crate::trace::ReadyTo, put: impl FnOnce(NonNull<G>)) {
    // SAFETY: the caller found `gp` parked through its wait structure.
    let g = unsafe { gp.as_ref() };
    // Before it is queued: once queued it may start on another CPU, and its
    // GoStart must come after this.
    if crate::trace::on() {
        let readier = if percpu::irq_depth() != 0 {
            0
        } else {
            super::g::current_goid()
        };
        crate::trace::go_unblock(g.goid(), readier, to);
    }
    gstatus::ready(
        g,
        |g| {
            g.set_wait_reason(WaitReason::Zero);
            end_external_wait(g);
            if !g.system.load(Ordering::Relaxed) {
                super::deadlock::note_user_ready();
            }
        },
        |_| {
            // Stay on this CPU (and P) while pushing into its ring.
            let _m = AcquireM::new();
            put(gp);
        },
    );
    super::halt::wakep();
}

/// Marks the current goroutine, about to `gopark`, as waiting on an
/// interrupt source (a channel that interrupt handlers feed): while it is
/// parked, the deadlock check does not call the program dead, since an
/// interrupt may still wake it. Readying it ends the mark.
///
/// Only user goroutines count: `checkdead` ignores system goroutines, and
/// the serial shell (a system goroutine always parked on the UART's
/// channel) would otherwise make every deadlock of a demo it runs look
/// like "still waiting for an interrupt", never reported.
pub fn external_wait() {
    // SAFETY: called by a goroutine about to park (getg is live).
    let g = unsafe { &*getg() };
    if g.system.load(Ordering::Relaxed) {
        return;
    }
    if !g.external_wait.swap(true, Ordering::SeqCst) {
        super::schedt::SCHED
            .nexternal
            .fetch_add(1, Ordering::SeqCst);
    }
}

fn end_external_wait(g: &G) {
    if g.external_wait.load(Ordering::Relaxed) && g.external_wait.swap(false, Ordering::SeqCst) {
        super::schedt::SCHED
            .nexternal
            .fetch_sub(1, Ordering::SeqCst);
    }
}
