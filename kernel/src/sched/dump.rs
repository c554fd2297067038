//! Goroutine dumps in Go's format:
//!
//! ```text
//! goroutine 7 [chan receive, 2 minutes]:
//! main.worker(...)
//! created by main.main in goroutine 1
//! ```
//!
//! The booted kernel is stripped, so functions are named by the entry
//! closure's type name recorded at `go()`.
use core::sync::atomic::Ordering;

use super::g::{G, Status};
use super::sched::SCHED;
use crate::console::emergency;

/// Prints one goroutine's header, entry function and creator.
pub fn print_goroutine(g: &G, state: &str) {
    let waited_min = if g.status() == Status::Waiting {
        crate::time::now_ns().saturating_sub(g.wait_since.load(Ordering::Relaxed)) / 60_000_000_000
    } else {
        0
    };
    if waited_min >= 1 {
        emergency(format_args!(
            "\ngoroutine {} [{}, {} minutes]:\n",
            g.goid(),
            state,
            waited_min
        ));
    } else {
        emergency(format_args!("\ngoroutine {} [{}]:\n", g.goid(), state));
    }
    emergency(format_args!("{}(...)\n", g.entry_name()));
    let parent = g.parent_goid.load(Ordering::Relaxed);
    if parent != 0 {
        // SAFETY: written at spawn, before the G was published.
        let creator = unsafe { *g.creator_name.get() };
        emergency(format_args!(
            "created by {} in goroutine {}\n",
            creator, parent
        ));
    }
}

/// The state a dump shows: the wait reason for parked Gs, else the status.
pub fn state_of(g: &G) -> &'static str {
    match g.status() {
        Status::Waiting => g.wait_reason().as_str(),
        s => s.name(),
    }
}

/// Prints every live goroutine (system ones only with `all`).
pub fn dump_all(all: bool) {
    let mut gp = SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g = unsafe { &*gp };
        let st = g.status();
        if st != Status::Dead && st != Status::Idle && (all || !g.system.load(Ordering::Relaxed)) {
            print_goroutine(g, state_of(g));
        }
        gp = g.allnext.load(Ordering::Acquire);
    }
}
