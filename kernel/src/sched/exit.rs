//! A goroutine's end (Go: `goexit1`, `goexit0`, `gfput`).
//!
//! Every goroutine stack is topped by `goexit` (planted by
//! `switch::prepare_stack`): when the entry function returns, `goexit`
//! calls [`goexit1`], which switches to g0; there the G becomes `Dead`,
//! keeps its stack (trimmed to its top page) and goes to the P's free cache
//! for the next `go`.
//!
//! There is no public `goexit`: the kernel is built with `panic = "abort"`,
//! nothing unwinds, so ending a goroutine from inside would skip every
//! destructor on its stack (guards, `Arc`s). A goroutine ends by returning.
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::g::{G, Status, WaitReason};
use super::m::getm;
use super::p::P;
use super::schedt::SCHED;
use super::stack;
use crate::arch::switch;

/// Go: `goexit1`: called by `goexit` when a goroutine's function returns
/// (a link-time upcall: `arch/x86_64/switch.rs` names it `gmpos_goexit1`).
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
    crate::trace::go_end(g.goid());
    g.casgstatus(Status::Running, Status::Dead);
    mp.curg.store(ptr::null_mut(), Ordering::Relaxed);
    g.m.store(u32::MAX, Ordering::Relaxed);
    g.set_wait_reason(WaitReason::Zero);
    // Go's gfput keeps the stack: the window and its top page stay.
    stack::release_to_top(g);
    gfput(mp.p().expect("goexit without a P"), g);
    super::proc::schedule()
}

/// Go: `gfput`: a dead G (keeping its stack) to the P's free cache, which
/// spills half to the global list when it reaches 64.
fn gfput(pp: &P, g: &G) {
    // SAFETY: only this M touches its P's free cache (we are on g0 with the
    // P); the G is dead and on no list.
    unsafe { (*pp.gfree.get()).put(NonNull::from(g), &SCHED) };
}
