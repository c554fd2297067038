//! The scheduler's side of the execution tracer and the CPU profiler
//! (`trace/` has the buffers and the stream): starting and stopping them
//! (Go: `trace.Start`/`trace.Stop`, `pprof.StartCPUProfile`/
//! `StopCPUProfile`), the snapshot of existing goroutines, and the
//! profiler's sample from the timer tick.
//!
//! The hooks themselves are one line at each transition (`trace::go_*`):
//! `execute` (GoStart), `gosched_m`/`goyield_m` (GoSched), `gopreempt_m`
//! (GoPreempt), `park_m` (GoBlock), `ready` (GoUnblock), `goexit0`
//! (GoEnd), `newproc_on` (GoCreate), `steal_from` (Steal), `stopm`
//! (ProcStop/ProcStart), `wake` and the stop-the-world (Ipi), `run_due`
//! (TimerFire), `procresize` (Gomaxprocs).
use core::sync::atomic::{AtomicU64, Ordering};

use super::g::G;
use super::m::{AcquireM, getm};
use super::schedt::{SCHED, gomaxprocs};
use crate::arch::frames::{self, WalkStart};
use crate::arch::trap::TrapFrame;
use crate::arch::{MAX_CPUS, percpu, switch};
use crate::layout::PAGE_SIZE;
use crate::trace;

/// Go: `trace.Start`: starts the execution tracer; its stream goes to the
/// debug console (`make trace` saves it). False if it was already on.
pub fn trace_start() -> bool {
    let _m = AcquireM::new();
    let cur = (super::g::current_goid(), getm().p().map_or(0, |p| p.id));
    trace::start(
        crate::arch::smp::ncpu(),
        gomaxprocs(),
        &mut |put| {
            let mut gp = SCHED.allgs.load(Ordering::Acquire);
            while !gp.is_null() {
                // SAFETY: Gs on allgs are never freed.
                let g = unsafe { &*gp };
                gp = g.allnext.load(Ordering::Acquire);
                let status = g.status();
                if status == super::g::Status::Dead || status == super::g::Status::Idle {
                    continue;
                }
                put(trace::Existing {
                    goid: g.goid(),
                    parent: g.parent_goid.load(Ordering::Relaxed),
                    status: status as u8,
                    system: g.system.load(Ordering::Relaxed),
                    name: g.entry_name(),
                });
            }
        },
        cur,
    )
}

/// Go: `trace.Stop`: ends every open slice, drains the buffers, writes the
/// drop counts and the end. False if tracing was off.
pub fn trace_stop() -> bool {
    trace::stop()
}

/// Go: `pprof.StartCPUProfile`: samples every running CPU `hz` times a
/// second from its timer tick. False if it was on (or `hz` is 0).
pub fn start_cpu_profile(hz: u32) -> bool {
    let hz = hz.min(10_000);
    let ok = trace::prof_start(crate::arch::smp::ncpu(), hz);
    if ok {
        let first = crate::clock::now_ns() + 1_000_000_000 / hz as u64;
        for n in &NEXT_SAMPLE {
            n.store(first, Ordering::Relaxed);
        }
    }
    ok
}

/// Go: `pprof.StopCPUProfile`.
pub fn stop_cpu_profile() -> bool {
    trace::prof_stop()
}

/// Per CPU: when its next profile sample is due (ns since boot).
static NEXT_SAMPLE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; MAX_CPUS];

/// The earliest moment the tick must fire for the profiler on this CPU
/// (u64::MAX: profiling off). Only a running P is sampled (Go samples CPU
/// time; an idle CPU has none), so `tick::rearm` asks only then.
#[inline]
pub(super) fn next_sample() -> u64 {
    if trace::prof_hz() == 0 {
        return u64::MAX;
    }
    NEXT_SAMPLE[percpu::cpu_index()].load(Ordering::Relaxed)
}

/// From the timer tick (interrupts off): takes a sample if one is due. The
/// slice logic is untouched: it is driven by time, not by tick counts, so
/// the extra interrupts change no preemption decision.
pub(super) fn maybe_sample(frame: &TrapFrame, now: u64) {
    let hz = trace::prof_hz();
    if hz == 0 {
        return;
    }
    let next = &NEXT_SAMPLE[percpu::cpu_index()];
    let due = next.load(Ordering::Relaxed);
    if now < due {
        return;
    }
    let period = 1_000_000_000 / hz as u64;
    // A CPU that was idle or stalled does not owe the samples it missed.
    next.store((due + period).max(now + period / 2), Ordering::Relaxed);
    sample(frame);
}

/// One sample: the interrupted PC and, through the frame-pointer chain of
/// the stack it ran on (the goroutine's, or g0's), its callers.
fn sample(frame: &TrapFrame) {
    let cpu = percpu::this();
    let g = cpu.g.load(Ordering::Relaxed) as *const G;
    let on_g0 = g.is_null() || g as usize == cpu.g0.load(Ordering::Relaxed);
    let mut pcs = [0u64; trace::event::MAX_SAMPLE_FRAMES];
    let mut n = 0;
    // Only the timer's own interrupt: nested in another handler, the frame
    // chain is the handler's (its stack is not the goroutine's).
    if !g.is_null() && cpu.irq_depth.load(Ordering::Relaxed) == 1 {
        // SAFETY: the current G (goroutine or g0) is live while it runs here.
        let gr = unsafe { &*g };
        let (lo, hi) = if on_g0 {
            (
                gr.stack_lo.load(Ordering::Relaxed),
                gr.stack_hi.load(Ordering::Relaxed),
            )
        } else {
            (
                gr.stack_window.load(Ordering::Relaxed) + PAGE_SIZE,
                gr.stack_hi.load(Ordering::Relaxed),
            )
        };
        let goexit = switch::goexit as *const () as u64 + 1;
        frames::walk(
            WalkStart {
                top: None,
                fp: frame.rbp,
            },
            lo,
            hi,
            pcs.len(),
            |ret| ret == goexit,
            |f| {
                let (frames::Frame::Ret(r) | frames::Frame::Pc(r)) = f;
                pcs[n] = r;
                n += 1;
            },
        );
    }
    let goid = if on_g0 {
        0
    } else {
        // SAFETY: as above.
        unsafe { &*g }.goid()
    };
    trace::sample(goid, frame.rip, &pcs[..n]);
}
