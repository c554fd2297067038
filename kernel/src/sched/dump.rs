//! Goroutine dumps in Go's format:
//!
//! ```text
//! goroutine 7 [chan receive, 2 minutes]:
//! \t@ret 0xffffffff8001234f
//! created by @ret 0xffffffff80012a00 in goroutine 1
//! ```
//!
//! The frames are raw addresses (`traceback.rs`): the host runner
//! symbolises them into Go's `function(...)` / `\tfile:line +0xoff` lines.
use core::fmt;
use core::sync::atomic::Ordering;

use super::g::{G, Status};
use super::schedt::SCHED;
use super::traceback;
use crate::arch::frames::WalkStart;
use crate::cmdline::Traceback;
use crate::console::emergency;

/// Prints the goroutine running on this CPU, `g` being the per-CPU
/// current-G pointer (not g0), its frames from `start`; for a panic or a
/// fatal error (`dying`) with `traceback=all` or `system`, every other
/// goroutine after it, as Go does. The panic path's goroutine reporter
/// (`panic::set_goroutine_reporter`, registered by `init`).
pub fn print_running(g: usize, start: WalkStart, dying: bool) {
    // SAFETY: the current G is live while it runs on this CPU, and the
    // panic path passes only the current G.
    let g = unsafe { &*(g as *const G) };
    print_goroutine_from(g, "running", start);
    if dying && traceback::level() >= Traceback::All {
        dump_others(Some(g));
    }
}

/// What an NMI prints after this CPU's registers (the runner sends one on
/// a test timeout): what the CPU runs, its frames from the interrupted RIP,
/// and on CPU 0, once the scheduler runs, its state and every goroutine
/// (`arch::exceptions::set_nmi_handler`, registered by `init`). The arch
/// holds the report lock around it: each CPU's block is printed whole.
pub fn nmi_report(start: WalkStart) {
    crate::panic::report_context(start);
    if crate::arch::cpu_index() == 0 && SCHED.mainstarted.load(Ordering::Relaxed) {
        print_sched_state();
        // This CPU's goroutine was printed above, with its frames.
        dump_others(super::g::current());
    }
}

/// Go's goroutine header: `goroutine N [state]:` (with the minutes it has
/// waited, from one minute on).
fn print_header(g: &G, state: &str) {
    // The emergency writer cannot fail.
    let _ = write_header(&mut Emergency, g, state);
}

fn write_header(w: &mut dyn fmt::Write, g: &G, state: &str) -> fmt::Result {
    let waited_min = if g.status() == Status::Waiting {
        crate::clock::now_ns().saturating_sub(g.wait_since.load(Ordering::Relaxed)) / 60_000_000_000
    } else {
        0
    };
    if waited_min >= 1 {
        write!(
            w,
            "\ngoroutine {} [{}, {} minutes]:\n",
            g.goid(),
            state,
            waited_min
        )
    } else {
        write!(w, "\ngoroutine {} [{}]:\n", g.goid(), state)
    }
}

/// The console's emergency writer as a `fmt::Write` (dumps run in panic
/// and NMI context, where the console lock may be held).
struct Emergency;

impl fmt::Write for Emergency {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        emergency(format_args!("{s}"));
        Ok(())
    }
}

/// Writes the header line of every goroutine [`dump_all`] would print to
/// `w` (tests read the wait reasons back from a buffer).
pub fn write_all(w: &mut dyn fmt::Write) -> fmt::Result {
    let mut gp = SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g = unsafe { &*gp };
        let st = g.status();
        if st != Status::Dead && st != Status::Idle && traceback::shows(g) {
            write_header(w, g, state_of(g))?;
        }
        gp = g.allnext.load(Ordering::Acquire);
    }
    Ok(())
}

/// Prints one goroutine that is not running on this CPU: its header, its
/// frames from its saved context, its creator.
pub fn print_goroutine(g: &G, state: &str) {
    print_header(g, state);
    traceback::print_stopped(g);
}

/// Prints one goroutine with its frames from `start` (the goroutine
/// running on this CPU: where the report began).
pub fn print_goroutine_from(g: &G, state: &str, start: WalkStart) {
    print_header(g, state);
    traceback::print_frames(g, start);
}

/// The state a dump shows: the wait reason for parked Gs, else the status.
pub fn state_of(g: &G) -> &'static str {
    match g.status() {
        Status::Waiting => g.wait_reason().as_str(),
        s => s.name(),
    }
}

/// Prints every live user goroutine (system ones too with
/// `traceback=system`; Go's tracebacks leave them out otherwise).
pub fn dump_all() {
    dump_others(None)
}

/// [`dump_all`] but for the goroutine running on this CPU (a report that
/// printed it with its frames already).
pub fn dump_all_but_current() {
    dump_others(super::g::current())
}

/// [`dump_all`] but for `skip` (printed already).
fn dump_others(skip: Option<&G>) {
    let mut gp = SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g = unsafe { &*gp };
        let st = g.status();
        if st != Status::Dead
            && st != Status::Idle
            && traceback::shows(g)
            && !skip.is_some_and(|s| core::ptr::eq(s, g))
        {
            print_goroutine(g, state_of(g));
        }
        gp = g.allnext.load(Ordering::Acquire);
    }
}

/// One line per P and the global state (Go: `schedtrace`), for the NMI dump
/// the runner requests on a timeout.
pub fn print_sched_state() {
    use super::p::p;
    let now = crate::clock::now_ns();
    emergency(format_args!(
        "SCHED {}ms: gomaxprocs={} idleprocs={} spinningthreads={} runqueue={} goroutines={} waiting={}\n",
        now / 1_000_000,
        super::schedt::gomaxprocs(),
        SCHED.idle.npidle(),
        SCHED.idle.nmspinning(),
        SCHED.runqsize.load(Ordering::Relaxed),
        super::schedt::num_goroutine(),
        super::schedt::nwaiting(),
    ));
    for i in 0..super::schedt::gomaxprocs() {
        let pp = p(i);
        let dl = pp.slice.deadline();
        emergency(format_args!(
            "  P{}: {:?} runq={} schedtick={} slice_tick={} slice_left={}us timer0={}us grun={} async={} coop={} refused={} steals={} stolen_from={} runnext_backoffs={}/{} halts={} wakeups={}\n",
            i,
            pp.status(),
            pp.runq.len(),
            pp.schedtick.load(Ordering::Relaxed),
            pp.slice.tick(),
            if dl == u64::MAX {
                -1
            } else {
                (dl as i64 - now as i64) / 1000
            },
            {
                let t = pp.timers.timer0_when.load(Ordering::Relaxed);
                if t == u64::MAX {
                    -1
                } else {
                    (t as i64 - now as i64) / 1000
                }
            },
            pp.counters.grun.load(Ordering::Relaxed),
            pp.counters.async_preempts.load(Ordering::Relaxed),
            pp.counters.coop_preempts.load(Ordering::Relaxed),
            pp.counters.preempt_refused.load(Ordering::Relaxed),
            pp.counters.steals.load(Ordering::Relaxed),
            pp.counters.stolen_from.load(Ordering::Relaxed),
            pp.counters.runnext_backoffs.load(Ordering::Relaxed),
            pp.counters.runnext_backoffs.load(Ordering::Relaxed)
                + pp.counters.runnext_no_backoff.load(Ordering::Relaxed),
            pp.counters.idle_halts.load(Ordering::Relaxed),
            pp.counters.wakeups.load(Ordering::Relaxed),
        ));
    }
    let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    for i in 0..ncpu {
        let mp = super::m::m(i);
        let curg = mp.curg.load(Ordering::Relaxed);
        let armed = super::tick::armed_deadline(i);
        emergency(format_args!(
            "  M{}: {} spinning={} curg={} timer={}us ticks={}\n",
            i,
            if mp.is_halted() { "halted" } else { "running" },
            SCHED.idle.is_spinning(i),
            if curg.is_null() {
                0
            } else {
                // SAFETY: a racy read of a G that is never freed (Gs are
                // recycled, not deallocated), for a diagnostic only.
                unsafe { (*curg).goid() }
            },
            if armed == u64::MAX {
                -1
            } else {
                (armed as i64 - now as i64) / 1000
            },
            crate::arch::timer::ticks(i),
        ));
    }
}

/// Prints the goroutine stacks' counters (after `mem::print_stats`).
pub fn print_stack_stats() {
    let s = &super::stack::STATS;
    crate::println!(
        "mem: goroutine stacks {} KiB mapped (peak {} KiB) in {} windows; segments mapped {} unmapped {}; shrinks {}; {} KiB unmapped awaiting TLB flushes",
        s.mapped.load(Ordering::Relaxed) >> 10,
        s.peak.load(Ordering::Relaxed) >> 10,
        s.windows.load(Ordering::Relaxed),
        s.segments_mapped.load(Ordering::Relaxed),
        s.segments_unmapped.load(Ordering::Relaxed),
        s.shrinks.load(Ordering::Relaxed),
        super::stack::limbo_frames() * 4
    );
}
