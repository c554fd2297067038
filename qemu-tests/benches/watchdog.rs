//! The watchdog's cost: the `yield` benchmark (two goroutines calling
//! Gosched; the suite's workload, shorter) with the watchdog off, then on
//! (`watchdog_enable`, what `watchdog=1` does at boot), in one boot under icount (one virtual ns = one guest instruction),
//! one P. Off, the hooks are a load and a branch each and one store per
//! `execute`; on, the scans and heartbeats run from the tick. Run with
//! `cargo bench --bench watchdog` (not part of `make test`).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::vec::Vec;

use gmpos::set_gomaxprocs;
use gmpos::testing::sched::{watchdog_enable, watchdog_enabled, watchdog_stats};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=2
        icount=1
        timeout=1200
    ",
}

const N: u64 = 50_000;

#[gmpos::test]
fn yield_watchdog_cost() {
    set_gomaxprocs(1);
    assert!(!watchdog_enabled());
    gmpos::bench::yield_round(N);
    let off: Vec<f64> = (0..3).map(|_| gmpos::bench::yield_round(N)).collect();
    watchdog_enable();
    let on: Vec<f64> = (0..3).map(|_| gmpos::bench::yield_round(N)).collect();
    report("yield-watchdog-off", 1, 2 * N, &off, "watchdog=0");
    report("yield-watchdog-on", 1, 2 * N, &on, "watchdog=1");
    gmpos::println!("watchdog: {:?}", watchdog_stats());
}
