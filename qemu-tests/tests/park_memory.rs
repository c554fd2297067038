//! BENCH.md `park_memory`: 100,000 goroutines parked on one wait queue cost at
//! most 6 KiB each in total (stack page + G + page tables + allocator
//! overhead), from a fresh boot (no free G, no cached stack). Prints the
//! breakdown and the benchmark line.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;

use gmpos::testing::hw::now_ns;
use gmpos::testing::mem::{frame, heap};
use gmpos::testing::sched::Sema;
use gmpos::testing::sched::WaitReason;
use gmpos::testing::sched::stack;
use gmpos::{WaitGroup, go, gomaxprocs};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=1,2
        args=heap=128M
        timeout=300
    ",
}

const N: u64 = 100_000;

#[gmpos::test]
fn park_100k_goroutines() {
    let gate = Arc::new(Sema::new(0));
    let started = Arc::new(WaitGroup::new());
    let exited = Arc::new(WaitGroup::new());
    started.add(N as i64);
    exited.add(N as i64);
    let (_, free0) = frame::stats();
    let heap0 = heap::stats().in_use;
    let stack0 = stack::mapped_bytes();
    let t0 = now_ns();
    for _ in 0..N {
        let (g, s, e) = (gate.clone(), started.clone(), exited.clone());
        go(move || {
            s.done();
            g.acquire(WaitReason::ChanReceive);
            e.done();
        });
    }
    started.wait();
    // Let the last ones reach the wait queue.
    while gmpos::testing::sched::SCHED
        .nwaiting
        .load(core::sync::atomic::Ordering::Relaxed)
        < N
    {
        gmpos::sleep(core::time::Duration::from_millis(1));
    }
    let spawn_ns = (now_ns() - t0) / N;
    let (_, free1) = frame::stats();
    let heap1 = heap::stats().in_use;
    let stack1 = stack::mapped_bytes();
    let frames_b = (free0 - free1) * 4096;
    let heap_b = heap1 - heap0;
    let stack_b = stack1 - stack0;
    let total_b = frames_b + heap_b;
    let pt_b = frames_b - stack_b;
    gmpos::test_note!(
        "{} parked goroutines: per G {} B stack + {} B page tables and other frames + {} B heap = {} B total",
        N,
        stack_b / N,
        pt_b / N,
        heap_b / N,
        total_b / N
    );
    // Wake them all and let them exit (timed).
    let t1 = now_ns();
    for _ in 0..N {
        gate.release();
    }
    exited.wait();
    let wake_ns = (now_ns() - t1) as f64 / N as f64;
    let extras = alloc::format!(
        "sys_B_per_g={} stack_B_per_g={} heap_B_per_g={} total_B_per_g={} spawn_ns_per_g={} gcs=0",
        frames_b / N,
        stack_b / N,
        heap_b / N,
        total_b / N,
        spawn_ns
    );
    report("park_memory", gomaxprocs(), N, &[wake_ns], &extras);
    assert!(
        total_b / N <= 6 * 1024,
        "{} bytes per parked goroutine (limit 6 KiB)",
        total_b / N
    );
}
