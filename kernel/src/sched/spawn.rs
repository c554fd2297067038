//! Creating goroutines (Go: `newproc`, `newproc1`, `malg`, `gfget`).
//!
//! `go(f)` takes a dead G from the P's free cache (or allocates one with a
//! stack), stores the closure inside it, builds its first context so that
//! it starts in `gostart` with `goexit` as its return address, and puts it
//! in the P's `runnext`: it runs next on this CPU, and an idle CPU is woken
//! to steal the rest of the work.
use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::g::{G, Status, WaitReason, current};
use super::m::{AcquireM, getg, getm};
use super::p::P;
use super::schedt::SCHED;
use super::stack;
use crate::arch::{frames, percpu, switch};

/// `go f()` (Go: `newproc`): starts a goroutine running `f` and returns its
/// id. It goes to this P's `runnext`; an idle CPU is woken to steal work.
///
/// Callable from any goroutine (and from g0 during start-up); not from an
/// interrupt handler, which may have stopped this P's owner in the middle
/// of a push into its ring (a single-producer queue): a named fatal error.
///
/// Not inlined: the return address into the caller is the goroutine's
/// `gopc` (its `created by` line).
#[inline(never)]
pub fn go<F: FnOnce() + Send + 'static>(f: F) -> u64 {
    let gopc = frames::return_address(frames::frame_pointer()).unwrap_or(0);
    spawn(f, Kind::User, gopc)
}

/// Starts a runtime-internal goroutine (Go: a system goroutine, e.g. the
/// console reader or a watchdog): not counted by `num_goroutine` or the
/// deadlock check, left out of goroutine dumps.
#[inline(never)]
pub fn go_system<F: FnOnce() + Send + 'static>(f: F) -> u64 {
    let gopc = frames::return_address(frames::frame_pointer()).unwrap_or(0);
    spawn(f, Kind::System, gopc)
}

/// Whose goroutine it is (Go: `isSystemGoroutine`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    User,
    System,
}

fn spawn<F: FnOnce() + Send + 'static>(f: F, kind: Kind, gopc: u64) -> u64 {
    super::preempt::safe_point();
    if percpu::irq_depth() != 0 {
        crate::panic::fatal(format_args!("go called from an interrupt handler"));
    }
    let id = {
        let _m = AcquireM::new();
        let pp = getm().p().expect("go: no P");
        newproc_on(pp, f, core::any::type_name::<F>(), kind, gopc)
    };
    super::halt::wakep();
    id
}

/// Go: `newproc1` + `runqput(pp, newg, true)`: creates a goroutine running
/// `f` on P `pp` (whose owner we are, preemption off) and returns its id.
pub(super) fn newproc_on<F: FnOnce() + Send + 'static>(
    pp: &P,
    f: F,
    name: &'static str,
    kind: Kind,
    gopc: u64,
) -> u64 {
    let gp = gfget(pp).unwrap_or_else(malg);
    // SAFETY: a dead G from the free list or malg: we own it exclusively.
    let g = unsafe { gp.as_ref() };
    store_entry(g, f);
    let hi = g.stack_hi.load(Ordering::Relaxed);
    // SAFETY: the G is ours and not running: nobody else reads `sched`.
    unsafe { *g.sched.get() = switch::prepare_stack(hi, gostart) };
    let goid = SCHED.goidgen.fetch_add(1, Ordering::Relaxed) + 1;
    g.goid.store(goid, Ordering::Relaxed);
    g.parent_goid
        .store(super::g::current_goid(), Ordering::Relaxed);
    g.gopc.store(gopc, Ordering::Relaxed);
    g.async_frame.store(0, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe {
        *g.entry_name.get() = name;
        *g.creator_name.get() = current().map_or("runtime", G::entry_name);
    }
    g.set_wait_reason(WaitReason::Zero);
    // Before the transition, which counts user goroutines.
    g.system.store(kind == Kind::System, Ordering::Relaxed);
    crate::trace::go_create(
        goid,
        g.parent_goid.load(Ordering::Relaxed),
        name,
        kind == Kind::System,
    );
    g.casgstatus(Status::Dead, Status::Runnable);
    super::put::runqput(pp, gp, true);
    goid
}

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

/// Go: `gfget`: a free G from the P's cache (refilled from the global list in
/// batches of 32).
fn gfget(pp: &P) -> Option<NonNull<G>> {
    // SAFETY: only this M touches its P's free cache; the caller holds
    // AcquireM (or is g0), so nothing else on this CPU runs meanwhile.
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

/// Stores closure `f` in the G's entry slot, inline when it fits (no heap
/// trip per spawn for small closures).
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
