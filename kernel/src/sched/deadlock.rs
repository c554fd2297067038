//! Deadlock detection (Go: `checkdead`): when every user goroutine is
//! parked and nothing outside goroutine code can wake one, the program can
//! never make progress: `fatal error: all goroutines are asleep - deadlock!`
//! and a dump of the user goroutines, status 2, as in Go.
//!
//! # When is it a deadlock?
//!
//! Goroutines are only woken by other goroutines, by timers, and by
//! interrupt handlers. So the program is dead when, at one instant,
//! 1. every live user goroutine is parked (`SCHED.gcounts` holds both
//!    counts in one word: one load is that instant), and at least one lives;
//! 2. no parked user goroutine waits on an interrupt source
//!    (`SCHED.nexternal`: a goroutine receiving from a channel interrupt
//!    handlers feed; `park::external_wait`);
//! 3. no timer that readies a user goroutine is pending (a sleeper, even a
//!    `sleep(Duration::MAX)` one: Go counts it too), and no function timer
//!    (a time channel's or `after_func`'s: it may send to the channel a
//!    goroutine waits on, or start a goroutine);
//! 4. no wake-up from outside goroutine code is in flight.
//!
//! (4) closes the window between a timer leaving its heap or an interrupt
//! handler starting to ready a goroutine, and the goroutine being counted
//! runnable: such a waker holds a [`Waking`] guard for the whole time, which
//! bumps `WAKE_GEN` on entry and counts itself in `WAKES_IN_FLIGHT`. The
//! check reads the generation and the in-flight count before and after
//! (1)-(3) (all SeqCst): if no waker entered in between and none was inside
//! at the start, nothing woke anyone while we looked, and a goroutine-side
//! wake is impossible because (1) says no goroutine ran at that instant.
//! A wrong "deadlock" is therefore impossible; a missed one is only
//! postponed (the last CPU to go idle checks again each time it halts).
//!
//! System goroutines (`go_system`) are not counted and not dumped, and
//! their waits on interrupt sources are not counted in (2) either (the
//! serial shell is always parked on the UART's channel). In report-only
//! mode (the serial shell turns it on) the report is printed once per
//! stuck state and the kernel keeps running.
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::g::{G, Status};
use super::p::p;
use super::schedt::{SCHED, gomaxprocs};
use crate::console::emergency;

/// Bumped by every waker from outside goroutine code as it starts.
static WAKE_GEN: AtomicU64 = AtomicU64::new(0);
/// Wakers from outside goroutine code between start and end.
static WAKES_IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
/// Report-only mode: print, do not exit.
static REPORT_ONLY: AtomicBool = AtomicBool::new(false);
/// In report-only mode: the state last reported (gcounts, user readies),
/// so the same stuck state is reported once.
static LAST_REPORTED: AtomicU64 = AtomicU64::new(u64::MAX);
/// Reports printed in report-only mode.
static REPORTS: AtomicU64 = AtomicU64::new(0);
/// In report-only mode: user goroutines made runnable so far. A stuck
/// state can only end by one (or by goroutines coming or going, which the
/// counts show), so (counts, this) names a stuck state. The wake
/// generation would not do: every system goroutine's timer and every key
/// the shell reads bumps it, and a demo stuck for good would be reported
/// again on each.
static USER_READIES: AtomicU64 = AtomicU64::new(0);

/// A user goroutine became runnable (`park::ready`). Counted only in
/// report-only mode (one load and a branch otherwise).
#[inline]
pub(super) fn note_user_ready() {
    if REPORT_ONLY.load(Ordering::Relaxed) {
        USER_READIES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Deadlock reports printed so far in report-only mode.
pub fn reports() -> u64 {
    REPORTS.load(Ordering::Relaxed)
}

/// A wake-up from outside goroutine code (a timer firing, an interrupt
/// handler readying a goroutine) is in progress while this lives.
pub struct Waking(());

impl Waking {
    #[inline]
    pub fn new() -> Waking {
        WAKES_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        WAKE_GEN.fetch_add(1, Ordering::SeqCst);
        Waking(())
    }
}

impl Drop for Waking {
    #[inline]
    fn drop(&mut self) {
        WAKES_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a deadlock does: exit (the default: tests, `exit`), or only print
/// the report and keep running (the serial shell, where the user can look
/// around and start other work).
pub fn set_report_only(on: bool) {
    REPORT_ONLY.store(on, Ordering::Relaxed);
}

/// Does a timer of some P ready a user goroutine, or is a function timer
/// pending (a time channel's send or an `after_func`: it may wake or start
/// a user goroutine; Go's `checkdead` likewise gives up while any timer is
/// pending)?
fn user_timer_pending() -> bool {
    let n = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    // Every P up to the CPU count: a concurrent `set_gomaxprocs` moves
    // timers between Ps.
    (0..n).any(|i| {
        let t = &p(i).timers;
        t.funcs_pending() || t.any(|g| !g.system.load(Ordering::Relaxed))
    })
}

/// Go: `checkdead`. Called by a CPU about to halt with every P idle.
pub fn checkdead() {
    if !SCHED.mainstarted.load(Ordering::Acquire) {
        return;
    }
    let gen0 = WAKE_GEN.load(Ordering::SeqCst);
    if WAKES_IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        return;
    }
    let counts = SCHED.gcounts.load(Ordering::SeqCst);
    let (live, waiting) = (counts >> 32, counts & 0xffff_ffff);
    if live == 0 || waiting != live {
        return;
    }
    if SCHED.nexternal.load(Ordering::SeqCst) != 0 || user_timer_pending() {
        return;
    }
    if WAKES_IN_FLIGHT.load(Ordering::SeqCst) != 0 || WAKE_GEN.load(Ordering::SeqCst) != gen0 {
        return;
    }
    report(counts);
}

fn report(counts: u64) {
    if REPORT_ONLY.load(Ordering::Relaxed) {
        let state = counts ^ USER_READIES.load(Ordering::Relaxed).rotate_left(32);
        if LAST_REPORTED.swap(state, Ordering::Relaxed) == state {
            return;
        }
        REPORTS.fetch_add(1, Ordering::Relaxed);
        emergency(format_args!(
            "\nall goroutines are asleep - deadlock! (report only)\n"
        ));
        dump_user();
        return;
    }
    crate::panic::fatal_report(
        format_args!("all goroutines are asleep - deadlock!"),
        dump_user,
    )
}

/// Every parked user goroutine (system ones too with `traceback=system`),
/// with its traceback, in Go's format: goroutine 1 (main) first,
/// as Go prints it, then the others (newest first: the list of all Gs).
fn dump_user() {
    for main_first in [true, false] {
        let mut gp = SCHED.allgs.load(Ordering::Acquire);
        while !gp.is_null() {
            // SAFETY: Gs are never freed; the list only grows at its head.
            let g: &G = unsafe { &*gp };
            if g.status() == Status::Waiting
                && super::traceback::shows(g)
                && (g.goid() == 1) == main_first
            {
                super::dump::print_goroutine(g, g.wait_reason().as_str());
            }
            gp = g.allnext.load(Ordering::Acquire);
        }
    }
}

/// The P count a halting CPU compares `npidle` with.
pub(super) fn all_ps_idle() -> bool {
    SCHED.idle.npidle() as usize == gomaxprocs()
}
