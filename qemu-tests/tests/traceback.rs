//! Goroutine tracebacks in Go's layout, checked on the runner's symbolised
//! output (expected-failure test: the second case panics).
//!
//! 1. A parked, a runnable (it yielded) and an asynchronously preempted
//!    goroutine each show their own frames; the preempted one starts with
//!    the spinning function itself (the RIP in its `AsyncPreemptFrame`),
//!    on the line right after its header.
//! 2. A panic three calls deep in a goroutine shows the three functions
//!    with file:line, innermost first, and `created by` with the function
//!    and line of the `go` call (the `expect=` lines name this file's lines:
//!    moving code below the config moves them).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::testing::sched::{G, Sema, Status, WaitReason, counters, print_goroutine, state_of};
use gmpos::{WaitGroup, go, sleep};

gmpos::qemu_test! {
    config: "
        smp=1
        timeout=60
        expect=goroutine 2 [park]:
        expect=traceback::park_here(...)
        expect=tests/traceback.rs:
        expect=created by traceback::stopped_goroutines_show_their_frames in goroutine 1
        expect=goroutine 3 [runnable]:
        expect=traceback::yield_here(...)
        expect=goroutine 4 [runnable]:
        expect=^traceback::spin_here(...)
        expect=^tests/traceback.rs:
        expect=panic: three calls deep
        expect=goroutine 5 [running]:
        expect=traceback::level_three(...)
        expect=^tests/traceback.rs:146
        expect=traceback::level_two(...)
        expect=^tests/traceback.rs:140
        expect=traceback::level_one(...)
        expect=^tests/traceback.rs:135
        expect=created by traceback::panic_three_calls_deep in goroutine 1
        expect=^tests/traceback.rs:156
    ",
}

/// Every goroutine with id `goid` (Gs are never freed: found in the list
/// of all Gs).
fn find(goid: u64) -> &'static G {
    let mut gp = gmpos::testing::sched::SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g = unsafe { &*gp };
        if g.goid() == goid {
            return g;
        }
        gp = g.allnext.load(Ordering::Acquire);
    }
    panic!("no goroutine {goid}");
}

// `black_box` after the call: no tail call, so the frame stays on the
// stack.
#[inline(never)]
fn park_here(s: &Sema) {
    s.acquire(WaitReason::Park);
    core::hint::black_box(());
}

#[inline(never)]
fn yield_here(stop: &AtomicBool, yielded: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        yielded.store(true, Ordering::Relaxed);
        gmpos::gosched();
    }
    core::hint::black_box(());
}

/// Spins in assembly until `stop` is set: every instruction of the loop is
/// this function's own (no inlined frame above it in the traceback).
#[inline(never)]
fn spin_here(stop: &AtomicBool, n: &AtomicU64) {
    n.store(1, Ordering::Relaxed);
    // SAFETY: only reads the flag's byte, which stays alive (an Arc held by
    // the closure) while it spins.
    unsafe {
        core::arch::asm!(
            "2:",
            "pause",
            "cmp byte ptr [{flag}], 0",
            "je 2b",
            flag = in(reg) stop.as_ptr(),
        );
    }
    core::hint::black_box(());
}

#[gmpos::test]
fn stopped_goroutines_show_their_frames() {
    let sema = Arc::new(Sema::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    let s = sema.clone();
    let parked = go(move || park_here(&s));
    let yielded = Arc::new(AtomicBool::new(false));
    let (st, y) = (stop.clone(), yielded.clone());
    let yielder = go(move || yield_here(&st, &y));
    let (st, n) = (stop.clone(), spins.clone());
    let spinner = go(move || spin_here(&st, &n));
    // One CPU: while main sleeps the others run; main's timer preempts the
    // spinner asynchronously (it never reaches a safe point).
    let (async0, _, _) = counters();
    while counters().0 == async0
        || spins.load(Ordering::Relaxed) == 0
        || !yielded.load(Ordering::Relaxed)
    {
        sleep(Duration::from_millis(15));
    }
    for id in [parked, yielder, spinner] {
        let g = find(id);
        assert_ne!(g.status(), Status::Running, "one CPU: only main runs");
        print_goroutine(g, state_of(g));
    }
    stop.store(true, Ordering::Relaxed);
    sema.release();
}

#[inline(never)]
fn level_one(x: u64) -> u64 {
    core::hint::black_box(level_two(x + 1)) + 1
}

#[inline(never)]
fn level_two(x: u64) -> u64 {
    core::hint::black_box(level_three(x + 1)) + 1
}

#[inline(never)]
fn level_three(x: u64) -> u64 {
    if core::hint::black_box(x) == 3 {
        panic!("three calls deep");
    }
    x
}

#[gmpos::test]
fn panic_three_calls_deep() {
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    go(move || {
        core::hint::black_box(level_one(1));
        w.done();
    });
    wg.wait();
}
