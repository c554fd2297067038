//! Scale: 1,000,000 goroutines parked at once (`mem=8G`, `heap=1G`), then
//! all woken and finished, at -smp 2 and 4. Prints the memory per parked
//! goroutine and the spawn and drain times, and the stack region's size
//! (how many `maxstack=` windows it holds: the most goroutines that can
//! exist; beyond them the named fatal error of `tests/stack_space.rs`).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::{nwaiting, stack};
use gmpos::{Duration, WaitGroup, go, gomaxprocs, num_goroutine, read_mem_stats, sleep, test_note};

gmpos::qemu_test! {
    config: "
        smp=2,4
        mem=8G
        args=heap=1G
        timeout=1800
    ",
}

const N: u64 = 1_000_000;

/// Frames in use (stacks, page tables) plus heap bytes in use (the heap's
/// frames are all mapped at boot, so its growth shows only in its counter).
fn used_bytes() -> u64 {
    let ms = read_mem_stats();
    (ms.frames_total - ms.frames_free) * 4096 + ms.heap_in_use
}

#[gmpos::test]
fn a_million_parked_goroutines() {
    test_note!(
        "stack region: {} windows of {} bytes (maxstack=) = {} GiB of address space",
        stack::max_windows(),
        stack::limit(),
        (stack::max_windows() * stack::limit()) >> 30
    );
    assert!(
        stack::max_windows() >= N,
        "the stack region cannot hold {N} goroutines"
    );
    let before = used_bytes();
    let gate = Arc::new(WaitGroup::new());
    gate.add(1);
    let done = Arc::new(WaitGroup::new());
    done.add(N as i64);
    let ran = Arc::new(AtomicU64::new(0));
    let t0 = now_ns();
    for _ in 0..N {
        let (gate, done, ran) = (gate.clone(), done.clone(), ran.clone());
        go(move || {
            gate.wait();
            ran.fetch_add(1, Ordering::Relaxed);
            done.done();
        });
    }
    let spawned = now_ns();
    while nwaiting() < N {
        sleep(Duration::from_millis(10));
    }
    let parked = now_ns();
    let per_g = (used_bytes() - before) / N;
    assert_eq!(num_goroutine() as u64, N + 1);
    let t1 = now_ns();
    gate.done();
    done.wait();
    let drained = now_ns();
    assert_eq!(
        ran.load(Ordering::Relaxed),
        N,
        "a goroutine ran twice or never"
    );
    test_note!(
        "scale: {N} goroutines parked at once, gomaxprocs={}: {} bytes each; spawn {} ms, all parked {} ms, wake + finish {} ms",
        gomaxprocs(),
        per_g,
        (spawned - t0) / 1_000_000,
        (parked - t0) / 1_000_000,
        (drained - t1) / 1_000_000
    );
}
