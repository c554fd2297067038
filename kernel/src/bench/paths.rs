//! `paths`: what the pieces of a context switch cost, each timed alone in
//! a loop of 100,000 calls (loop overhead subtracted) on a goroutine with
//! preemption off. Under icount the figures are guest instructions per
//! call: the per-path counts behind `yield`, `pingpong` and `switch`.
use core::hint::black_box;

use super::now;
use crate::sched::m::getm;

const N: u64 = 100_000;

fn per_call(mut f: impl FnMut()) -> f64 {
    let t0 = now();
    for _ in 0..N {
        f();
    }
    let dt = now() - t0;
    let t1 = now();
    for i in 0..N {
        black_box(i);
    }
    let empty = now() - t1;
    (dt.saturating_sub(empty)) as f64 / N as f64
}

pub fn run(procs: usize) {
    let _pin = crate::sched::AcquireM::new();
    let pp = getm().p().expect("paths: no P");
    let line = |what: &str, ns: f64| {
        crate::println!("bench=paths procs={procs} path={what} ns_per_call={ns:.1}");
    };
    line(
        "now_ns",
        per_call(|| {
            black_box(crate::clock::now_ns());
        }),
    );
    line(
        "tick_rearm",
        per_call(|| crate::sched::tick::rearm(Some(pp))),
    );
    line(
        "timers_due",
        per_call(|| {
            black_box(pp.timers.due(black_box(5)));
        }),
    );
    line(
        "run_others_due",
        per_call(|| {
            black_box(crate::sched::timers::run_others_due(pp, black_box(5)));
        }),
    );
    line(
        "global_lock_round_trip",
        per_call(|| {
            let q = crate::sched::schedt::SCHED.runq.lock();
            black_box(&q);
        }),
    );
    line(
        "irq_without",
        per_call(|| crate::arch::irq::without(|| black_box(()))),
    );
    line(
        "slice_take_expired",
        per_call(|| {
            black_box(pp.slice.take_expired(black_box(0), crate::clock::now_ns()));
        }),
    );
    line(
        "runq_mark",
        per_call(|| {
            black_box(pp.runq.mark());
        }),
    );
}
