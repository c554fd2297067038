//! The benchmark suite of `shared/BENCH.md` (`gmpos::bench`, one file per
//! workload), one case per workload so that `make bench` boots once per
//! workload (`scripts/bench.sh`); `spawn_cold` and `park_memory` are one
//! case per procs count, booted once per repetition (a fresh kernel: no
//! free G, no cached stack). Configurations: -smp 2 under icount (one
//! virtual ns = one guest instruction) and under plain TCG (`ICOUNT=0`).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=2
        icount=1,0
        args=heap=128M
        timeout=7200
    ",
}

fn run(name: &str, procs: Option<usize>) {
    let w = gmpos::bench::find(name).expect("no such workload");
    gmpos::bench::run(w, procs);
}

#[gmpos::test]
fn spawn() {
    run("spawn", None)
}

#[gmpos::test]
fn spawn_cold_p1() {
    run("spawn_cold", Some(1))
}

#[gmpos::test]
fn spawn_cold_p2() {
    run("spawn_cold", Some(2))
}

#[gmpos::test]
fn yield_() {
    run("yield", None)
}

#[gmpos::test]
fn switch() {
    run("switch", None)
}

#[gmpos::test]
fn pingpong() {
    run("pingpong", None)
}

#[gmpos::test]
fn chan_buffered() {
    run("chan_buffered", None)
}

#[gmpos::test]
fn mutex() {
    run("mutex", None)
}

#[gmpos::test]
fn fanout() {
    run("fanout", None)
}

#[gmpos::test]
fn sieve() {
    run("sieve", None)
}

#[gmpos::test]
fn preempt_latency() {
    run("preempt_latency", None)
}

#[gmpos::test]
fn park_memory_p1() {
    run("park_memory", Some(1))
}

#[gmpos::test]
fn park_memory_p2() {
    run("park_memory", Some(2))
}

#[gmpos::test]
fn sleep_accuracy() {
    run("sleep_accuracy", None)
}
