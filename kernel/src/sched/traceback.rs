//! Goroutine tracebacks in Go's format (Go: runtime/traceback.go).
//!
//! Where a goroutine's frames come from:
//! - parked or runnable: its saved context (`g.sched`, saved by `mcall`):
//!   the return address into the function that called `mcall`, then the
//!   frame-pointer chain from the saved RBP;
//! - asynchronously preempted: the interrupted RIP in its
//!   `AsyncPreemptFrame` (`g.async_frame`), then the chain from the RBP
//!   saved there (Go does the same for asyncPreempt: `async_preempt` has no
//!   frame of its own, so the spinning function itself is the top frame);
//! - running on this CPU: where the report began (the trap frame of a
//!   fault or an NMI, the panic handler's own frame, `print_stack`'s);
//! - running on another CPU: not walked (its stack changes under us), as
//!   Go's "goroutine running on other thread; stack unavailable".
//!
//! The walk is the arch's (`arch::frames::walk`): bounded to the
//! goroutine's stack window and [`MAX_FRAMES`], every load through
//! `probe_read`, so a stack shrunk or corrupted under it ends the walk
//! instead of faulting. It stops at `goexit`, the planted outermost return
//! address (Go hides `runtime.goexit` too).
//!
//! The booted kernel is stripped, so the kernel prints raw addresses and
//! the host runner, which holds the unstripped ELF, symbolises them as the
//! serial output passes through (`boot/src/symbolize.rs`). The lines it
//! rewrites (a tab, then the marker; nothing else on the line):
//!
//! ```text
//! \t@pc 0xffffffff80012345       an exact PC (a trap's or a preemption's RIP)
//! \t@ret 0xffffffff80012345      a return address (the call is just before it)
//! created by @ret 0x... in goroutine N
//! ```
//!
//! and what it prints instead, Go's layout (inlined frames included; the
//! file lines start with a tab):
//!
//! ```text
//! gmpos::demo::filter(...)
//!     /path/kernel/src/demo.rs:42 +0x1f
//! created by gmpos::demo::run in goroutine 1
//!     /path/kernel/src/demo.rs:20 +0x88
//! ```
use core::sync::atomic::{AtomicU8, Ordering};

use super::g::{G, Status};
use crate::arch::frames::{self, Frame, WalkStart};
use crate::arch::preempt::AsyncPreemptFrame;
use crate::arch::{probe_read, switch};
use crate::cmdline::Traceback;
use crate::console::emergency;
use crate::layout::PAGE_SIZE;

/// Frames printed per goroutine (Go prints 100: 50 innermost and 50
/// outermost; the innermost are the ones a reader needs).
pub const MAX_FRAMES: usize = 100;

static LEVEL: AtomicU8 = AtomicU8::new(Traceback::All as u8);

/// Sets the level (`traceback=` on the command line, Go's `GOTRACEBACK`).
pub fn set_level(t: Traceback) {
    LEVEL.store(t as u8, Ordering::Relaxed);
}

/// The level in force.
pub fn level() -> Traceback {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Traceback::Single,
        1 => Traceback::All,
        _ => Traceback::System,
    }
}

/// Does a dump of every goroutine show `g` (Go: `isSystemGoroutine` is
/// shown with `GOTRACEBACK=system` only)?
pub fn shows(g: &G) -> bool {
    !g.system.load(Ordering::Relaxed) || level() == Traceback::System
}

/// Where the frames of a goroutine that is not running begin (see the
/// module doc): the interrupted RIP of an asynchronous preemption, else
/// its saved context.
pub fn saved_start(g: &G) -> WalkStart {
    let af = g.async_frame.load(Ordering::Relaxed);
    if af != 0 {
        let rip = af + core::mem::offset_of!(AsyncPreemptFrame, rip) as u64;
        let rbp = af + core::mem::offset_of!(AsyncPreemptFrame, rbp) as u64;
        if let (Ok(rip), Ok(rbp)) = (probe_read(rip), probe_read(rbp)) {
            return WalkStart {
                top: Some(Frame::Pc(rip)),
                fp: rbp,
            };
        }
    }
    let ctx = g.saved_context();
    // A context `mcall` saved resumes at a return address; a new one (from
    // `prepare_stack`, RBP 0) at its entry function's first instruction.
    let top = if ctx.bp == 0 {
        Frame::Pc(ctx.pc)
    } else {
        Frame::Ret(ctx.pc)
    };
    WalkStart {
        top: Some(top),
        fp: ctx.bp,
    }
}

/// Prints `g`'s frames from `start` (raw addresses, see the module doc),
/// then its `created by` line.
pub fn print_frames(g: &G, start: WalkStart) {
    // The usable window: above the guard page, up to the top.
    let lo = g.stack_window.load(Ordering::Relaxed) + PAGE_SIZE;
    let hi = g.stack_hi.load(Ordering::Relaxed);
    let goexit = switch::goexit as *const () as u64 + 1;
    let elided = frames::walk(
        start,
        lo,
        hi,
        MAX_FRAMES,
        |ret| ret == goexit,
        |f| match f {
            Frame::Pc(pc) => emergency(format_args!("\t@pc {pc:#x}\n")),
            Frame::Ret(ret) => emergency(format_args!("\t@ret {ret:#x}\n")),
        },
    );
    if elided {
        emergency(format_args!("...additional frames elided...\n"));
    }
    print_created_by(g);
}

/// Go's `created by F in goroutine N`, from the creator's PC (`gopc`).
fn print_created_by(g: &G) {
    let parent = g.parent_goid.load(Ordering::Relaxed);
    let gopc = g.gopc.load(Ordering::Relaxed);
    if gopc != 0 {
        emergency(format_args!(
            "created by @ret {gopc:#x} in goroutine {parent}\n"
        ));
    } else if parent != 0 {
        // SAFETY: written at spawn, before the G was published.
        let creator = unsafe { *g.creator_name.get() };
        emergency(format_args!("created by {creator} in goroutine {parent}\n"));
    }
}

/// The frames of a goroutine that is not running on this CPU: from its
/// saved context, or Go's "stack unavailable" when another CPU runs it.
pub fn print_stopped(g: &G) {
    if g.status() == Status::Running {
        emergency(format_args!(
            "\tgoroutine running on other CPU (cpu {}); stack unavailable\n",
            g.m.load(Ordering::Relaxed)
        ));
        print_created_by(g);
        return;
    }
    print_frames(g, saved_start(g));
}
