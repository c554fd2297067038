//! The execution tracer's cost: the `yield` benchmark (two goroutines
//! calling Gosched; `sched.rs`'s workload, shorter) with tracing off, then
//! on, under icount (one virtual ns = one guest instruction), so
//! `(on - off) * ops / events` is the tracer's instructions per event,
//! draining to the debug console included. Run with `make bench` (the
//! stream goes nowhere unless `GMPOS_TRACE_OUT` is set).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::vec::Vec;

use gmpos::tracing::{trace_start, trace_stop};
use gmpos::{println, set_gomaxprocs};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=2
        icount=1
        timeout=1200
    ",
}

const N: u64 = 100_000;

/// One round: ns per Gosched (the suite's `yield` workload, shorter).
fn yield_round() -> f64 {
    gmpos::bench::yield_round(N)
}

#[gmpos::test]
fn yield_trace_off_on() {
    set_gomaxprocs(1);
    let mut off = Vec::new();
    let mut on = Vec::new();
    yield_round();
    for _ in 0..3 {
        off.push(yield_round());
        assert!(trace_start());
        on.push(yield_round());
        assert!(trace_stop());
    }
    report("yield-trace-off", 1, 2 * N, &off, "trace=0");
    report("yield-trace-on", 1, 2 * N, &on, "trace=1");
    // Two events per Gosched (GoSched, GoStart) with one P.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "trace-cost: {:.1} instructions per event (icount; 2 events per yield)",
        (mean(&on) - mean(&off)) / 2.0
    );
}
