//! BENCH.md `park_memory`: 100,000 goroutines parked on one wait queue cost at
//! most 6 KiB each in total (stack page + G + page tables + allocator
//! overhead), from a fresh boot (no free G, no cached stack). Prints the
//! breakdown and the benchmark line. Measured with `gmpos::read_mem_stats`,
//! which every snapshot checks against the internals it reads (frame
//! allocator, heap, stack counters, scheduler counts); then 10,000 more
//! parked goroutines reuse the freed ones (Go's `gfget`) and cost no new
//! G, no new stack page.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use gmpos::testing::hw::now_ns;
use gmpos::testing::mem::{frame, heap};
use gmpos::testing::sched::{AcquireM, SCHED, Sema, WaitReason, nwaiting, stack};
use gmpos::{Duration, MemStats, WaitGroup, go, gomaxprocs, num_goroutine, read_mem_stats, sleep};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=1,2
        args=heap=128M
        timeout=300
    ",
}

const N: u64 = 100_000;

/// `read_mem_stats()`, checked field by field against the internals it
/// reads, read right after it with preemption off (nothing else allocates:
/// every other goroutine is parked, the other CPUs idle).
fn snapshot() -> MemStats {
    let _pin = AcquireM::new();
    let ms = read_mem_stats();
    let (total, free) = frame::stats();
    let h = heap::stats();
    assert_eq!((ms.frames_total, ms.frames_free), (total, free), "frames");
    assert_eq!((ms.heap_in_use, ms.heap_size), (h.in_use, h.size), "heap");
    assert_eq!(ms.stack_mapped, stack::mapped_bytes(), "stack bytes");
    assert_eq!(ms.goroutines, num_goroutine(), "goroutines");
    assert_eq!(
        ms.goroutines_allocated,
        SCHED.nallocated.load(Ordering::Relaxed),
        "goroutines allocated"
    );
    ms
}

/// `n` goroutines parked on one semaphore, all on its wait queue when this
/// returns; `release` wakes them and waits until they have exited.
struct Parked {
    gate: Arc<Sema>,
    exited: Arc<WaitGroup>,
    n: u64,
    live0: u64,
}

impl Parked {
    fn spawn(n: u64) -> Parked {
        let live0 = num_goroutine();
        let waiting0 = nwaiting();
        let gate = Arc::new(Sema::new(0));
        let started = Arc::new(WaitGroup::new());
        let exited = Arc::new(WaitGroup::new());
        started.add(n as i64);
        exited.add(n as i64);
        for _ in 0..n {
            let (g, s, e) = (gate.clone(), started.clone(), exited.clone());
            go(move || {
                s.done();
                g.acquire(WaitReason::ChanReceive);
                e.done();
            });
        }
        started.wait();
        // Let the last ones reach the wait queue.
        while nwaiting() < waiting0 + n {
            sleep(Duration::from_millis(1));
        }
        Parked {
            gate,
            exited,
            n,
            live0,
        }
    }

    fn release(self) {
        for _ in 0..self.n {
            self.gate.release();
        }
        self.exited.wait();
        // `done` comes just before each goroutine's exit: wait for the exits.
        while num_goroutine() > self.live0 {
            sleep(Duration::from_millis(1));
        }
    }
}

#[gmpos::test]
fn park_100k_goroutines() {
    let m0 = snapshot();
    let t0 = now_ns();
    let parked = Parked::spawn(N);
    let spawn_ns = (now_ns() - t0) / N;
    let m1 = snapshot();
    assert_eq!(m1.goroutines, m0.goroutines + N, "live goroutines");
    // Fresh boot: only the few Gs freed before this case can be reused.
    let free_gs = m0.goroutines_allocated - m0.goroutines;
    assert!(
        m1.goroutines_allocated - m0.goroutines_allocated >= N - free_gs.min(N),
        "{} Gs allocated for {N} goroutines with {free_gs} free",
        m1.goroutines_allocated - m0.goroutines_allocated
    );
    let frames_b = (m0.frames_free - m1.frames_free) * 4096;
    let heap_b = m1.heap_in_use - m0.heap_in_use;
    let stack_b = m1.stack_mapped - m0.stack_mapped;
    let total_b = frames_b + heap_b;
    let pt_b = frames_b - stack_b;
    assert!(
        stack_b >= N * 4096,
        "{stack_b} B of stack for {N} parked goroutines (a page each at least)"
    );
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
    parked.release();
    let wake_ns = (now_ns() - t1) as f64 / N as f64;
    let m2 = snapshot();
    assert_eq!(m2.goroutines, m0.goroutines, "live goroutines after exit");
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

/// After the 100,000 exited, their Gs (each with its top stack page) wait
/// in the free lists: 10,000 new parked goroutines take them, so the
/// goroutine count moves by 10,000 and back while nothing new is allocated.
#[gmpos::test]
fn park_10k_reuses_freed_goroutines() {
    const K: u64 = 10_000;
    let m0 = snapshot();
    let parked = Parked::spawn(K);
    let m1 = snapshot();
    assert_eq!(m1.goroutines, m0.goroutines + K, "live goroutines");
    assert_eq!(
        m1.goroutines_allocated,
        m0.goroutines_allocated,
        "Gs allocated although {} were free",
        m0.goroutines_allocated - m0.goroutines
    );
    assert_eq!(
        m1.stack_mapped, m0.stack_mapped,
        "stack bytes mapped for reused Gs"
    );
    let frames = m0.frames_free as i64 - m1.frames_free as i64;
    let heap = m1.heap_in_use as i64 - m0.heap_in_use as i64;
    gmpos::test_note!(
        "{K} parked goroutines on reused Gs: +{} goroutines, +0 Gs, +0 stack bytes, {frames:+} frames, {heap:+} heap bytes",
        m1.goroutines - m0.goroutines
    );
    parked.release();
    let m2 = snapshot();
    assert_eq!(m2.goroutines, m0.goroutines, "live goroutines after exit");

    // A sleeping goroutine is a pending timer.
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    go(move || {
        sleep(Duration::from_millis(50));
        w.done();
    });
    let t0 = m2.timers;
    let mut seen = 0;
    for _ in 0..40 {
        seen = seen.max(snapshot().timers);
        if seen > t0 {
            break;
        }
        sleep(Duration::from_micros(200));
    }
    wg.wait();
    assert!(seen > t0, "a sleeping goroutine's timer was never pending");
}
