//! Go's `GODEBUG=schedtrace=X,scheddetail=1`: with `schedtrace=MS` on the
//! command line, a system goroutine wakes every MS ms and prints one line
//! of scheduler state (nothing runs when it is off: no goroutine, no timer).
//!
//! The line is Go's, field for field, then gmpos's extras after it:
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=4 idleprocs=1 threads=4 spinningthreads=0 needspinning=0 idlethreads=1 runqueue=0 [0 2 1 0] steals=12 preempt=async:3,coop:1 goroutines=7 waiting=5
//! ```
//!
//! `threads` are the Ms (one per CPU), `idlethreads` the halted ones,
//! `needspinning` is always 0 (gmpos's `wakep` hands an idle P over
//! directly, see `idle.rs`), `runqueue` the global queue, `[...]` each P's
//! local ring (`runnext` included). Extras: `steals` (successful steals, all
//! Ps), `preempt=async:A,coop:C` (preemptions so far), `goroutines` and
//! `waiting` (user goroutines: live, parked), and, only when a history knob
//! (`knobs.rs`) is not at its default, `knobs=` with those knobs in the
//! same `name:value,...` form (`knobs=sched:gm,preempt:coop`).
//!
//! `scheddetail=1` adds, as Go does, one line per P, per M and per G:
//!
//! ```text
//!   P0: status=1 schedtick=120 syscalltick=0 m=0 runqsize=0 gfreecnt=3 timerslen=1
//!   M0: p=0 curg=1 mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=false blocked=false lockedg=-1 halted=false
//!   G1: status=4(sleep) m=-1 lockedm=-1
//! ```
//!
//! P status numbers are Go's (`_Pidle` 0, `_Prunning` 1, `_Pgcstop` 3,
//! `_Pdead` 4), and so are G status numbers (`_Grunnable` 1, `_Grunning` 2,
//! `_Gwaiting` 4, `_Gdead` 6). `syscalltick` is always 0 (no system calls);
//! `lockedg`/`lockedm` are -1 (no `LockOSThread`). `halted` is gmpos's.
use core::fmt::{self, Write};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::g::{G, Status, WaitReason};
use super::p::{PStatus, p};
use super::schedt::{SCHED, gomaxprocs, num_goroutine, nwaiting};
use super::timers::{self, Timer, TimerFn};

/// The system goroutine `schedtrace=` starts (on P0 at `sched::init`).
pub fn run(period_ms: u64, detail: bool) {
    loop {
        sleep_ns(period_ms.max(1) * 1_000_000);
        print_trace(detail);
    }
}

/// Prints one trace now (what each `schedtrace=` period prints).
pub fn print_trace(detail: bool) {
    let mut out = LineOut {
        buf: [0; 512],
        len: 0,
    };
    let _ = write_trace(&mut out, detail);
    out.flush();
}

/// Sleeps on a timer (what `time::sleep` does: `time/` sits above `sched/`).
fn sleep_ns(ns: u64) {
    let me = NonNull::new(super::m::getg()).expect("schedtrace outside a goroutine");
    let when = crate::clock::now_ns().saturating_add(ns);
    let t = Timer::new(TimerFn::Ready(me));
    let add = || {
        timers::add_here(&t, when);
        true
    };
    super::gopark(Some(&add), WaitReason::Sleep);
}

/// Prints whole lines: each goes to the console in one locked write, so
/// other CPUs' output never lands inside a trace line.
struct LineOut {
    buf: [u8; 512],
    len: usize,
}

impl LineOut {
    fn flush(&mut self) {
        if self.len != 0 {
            // Only whole `&str`s are copied in, and the buffer is flushed
            // before one would not fit, so it holds UTF-8.
            let s = core::str::from_utf8(&self.buf[..self.len]).unwrap_or("");
            crate::print!("{s}");
            self.len = 0;
        }
    }
}

impl Write for LineOut {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for piece in s.split_inclusive('\n') {
            if self.len + piece.len() > self.buf.len() {
                self.flush();
            }
            if piece.len() > self.buf.len() {
                crate::print!("{piece}");
                continue;
            }
            self.buf[self.len..self.len + piece.len()].copy_from_slice(piece.as_bytes());
            self.len += piece.len();
            if piece.ends_with('\n') {
                self.flush();
            }
        }
        Ok(())
    }
}

/// Go's status number of a P.
fn go_pstatus(s: PStatus) -> u8 {
    match s {
        PStatus::Idle => 0,
        PStatus::Running => 1,
        PStatus::GcStop => 3,
        PStatus::Dead => 4,
    }
}

/// Go's status number of a G.
fn go_gstatus(s: Status) -> u8 {
    match s {
        Status::Idle => 0,
        Status::Runnable => 1,
        Status::Running => 2,
        Status::Waiting => 4,
        Status::Dead => 6,
    }
}

/// Writes one trace: the `SCHED` line and, with `detail`, the P, M and G
/// lines (see the module doc for the grammar).
pub fn write_trace(w: &mut impl Write, detail: bool) -> fmt::Result {
    let now_ms = crate::clock::now_ns() / 1_000_000;
    let procs = gomaxprocs();
    let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    let halted = (0..ncpu).filter(|&i| super::m::m(i).is_halted()).count();
    write!(
        w,
        "SCHED {now_ms}ms: gomaxprocs={procs} idleprocs={} threads={ncpu} spinningthreads={} needspinning=0 idlethreads={halted} runqueue={} [",
        SCHED.idle.npidle(),
        SCHED.idle.nmspinning(),
        SCHED.runqsize.load(Ordering::Relaxed),
    )?;
    let mut steals = 0;
    for i in 0..procs {
        let pp = p(i);
        steals += pp.counters.steals.load(Ordering::Relaxed);
        write!(w, "{}{}", if i == 0 { "" } else { " " }, pp.runq.len())?;
    }
    let (async_n, coop_n, _) = super::preempt::counters();
    write!(
        w,
        "] steals={steals} preempt=async:{async_n},coop:{coop_n} goroutines={} waiting={}",
        num_goroutine(),
        nwaiting()
    )?;
    let knobs = super::knobs::current();
    if !knobs.non_default().is_empty() {
        w.write_str(" knobs=")?;
        write!(KnobField(w), "{}", knobs.non_default())?;
    }
    writeln!(w)?;
    if !detail {
        return Ok(());
    }
    for i in 0..procs {
        let pp = p(i);
        // SAFETY: a racy read of the length of the P's free-G cache (only
        // its M changes it), for a diagnostic line, as Go's `gfreecnt`.
        let gfree = unsafe { (*pp.gfree.get()).len() };
        writeln!(
            w,
            "  P{i}: status={} schedtick={} syscalltick=0 m={} runqsize={} gfreecnt={gfree} timerslen={}",
            go_pstatus(pp.status()),
            pp.schedtick.load(Ordering::Relaxed),
            if pp.status() == PStatus::Running {
                i as i64
            } else {
                -1
            },
            pp.runq.len(),
            pp.timers.pending(),
        )?;
    }
    for i in 0..ncpu {
        let mp = super::m::m(i);
        let curg = mp.curg.load(Ordering::Relaxed);
        writeln!(
            w,
            "  M{i}: p={} curg={} mallocing=0 throwing=0 preemptoff= locks={} dying=0 spinning={} blocked=false lockedg=-1 halted={}",
            if i < procs { i as i64 } else { -1 },
            if curg.is_null() {
                -1
            } else {
                // SAFETY: Gs are never freed; a racy read of its id.
                unsafe { (*curg).goid() as i64 }
            },
            crate::arch::percpu::cpu(i).locks.load(Ordering::Relaxed),
            SCHED.idle.is_spinning(i),
            mp.is_halted(),
        )?;
    }
    let mut gp = SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g: &G = unsafe { &*gp };
        let st = g.status();
        if st != Status::Dead && st != Status::Idle {
            let m = g.m.load(Ordering::Relaxed);
            writeln!(
                w,
                "  G{}: status={}({}) m={} lockedm=-1",
                g.goid(),
                go_gstatus(st),
                if st == Status::Waiting {
                    g.wait_reason().as_str()
                } else {
                    ""
                },
                if st == Status::Running && m != u32::MAX {
                    m as i64
                } else {
                    -1
                },
            )?;
        }
        gp = g.allnext.load(Ordering::Acquire);
    }
    Ok(())
}

/// Writes the knobs' `name=value name=value` as one field's
/// `name:value,name:value`.
struct KnobField<'a, W: Write>(&'a mut W);

impl<W: Write> Write for KnobField<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            self.0.write_char(match c {
                '=' => ':',
                ' ' => ',',
                c => c,
            })?;
        }
        Ok(())
    }
}
