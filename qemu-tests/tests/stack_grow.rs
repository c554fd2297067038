//! Growable goroutine stacks: deep recursion just works, many goroutines with
//! random depths, shrinking after deep recursion, bounded memory with reuse.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::sched::Sema;
use gmpos::testing::sched::WaitReason;
use gmpos::testing::sched::stack::{self, STATS};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=1,2
        mem=2G
        args=heap=128M
        timeout=180
    ",
}

/// A frame with a 1 KiB local array; returns a checksum that depends on
/// every level (so the recursion cannot be optimised away).
#[inline(never)]
fn deep(n: u32, seed: u64) -> u64 {
    let mut buf = [0u8; 1024];
    for (i, b) in buf.iter_mut().enumerate().step_by(64) {
        *b = (seed as u8).wrapping_add(i as u8).wrapping_add(n as u8);
    }
    core::hint::black_box(&mut buf);
    if n == 0 {
        return buf[0] as u64;
    }
    let below = deep(
        n - 1,
        seed.wrapping_mul(6364136223846793005).wrapping_add(1),
    );
    below.wrapping_add(buf[64] as u64 * n as u64)
}

/// The same computation without recursion on the stack (reference result).
fn deep_reference(n: u32, seed: u64) -> u64 {
    let mut seeds = Vec::with_capacity(n as usize + 1);
    let mut s = seed;
    for _ in 0..=n {
        seeds.push(s);
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    let mut acc = (seeds[n as usize] as u8) as u64; // n == 0 level: buf[0] = seed + 0 + 0
    for level in 1..=n {
        let s = seeds[(n - level) as usize];
        let b64 = (s as u8).wrapping_add(64).wrapping_add(level as u8);
        acc = acc.wrapping_add(b64 as u64 * level as u64);
    }
    acc
}

#[gmpos::test]
fn recurse_256k() {
    let wg = Arc::new(WaitGroup::new());
    let result = Arc::new(AtomicU64::new(0));
    let mapped = Arc::new(AtomicU64::new(0));
    wg.add(1);
    let (w, r, m) = (wg.clone(), result.clone(), mapped.clone());
    go(move || {
        r.store(deep(256, 42), Ordering::Relaxed);
        // SAFETY: the current G is live.
        let g = unsafe { &*gmpos::testing::sched::getg() };
        m.store(
            g.stack_hi.load(Ordering::Relaxed) - g.stack_lo.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        w.done();
    });
    wg.wait();
    assert_eq!(
        result.load(Ordering::Relaxed),
        deep_reference(256, 42),
        "wrong result from deep recursion"
    );
    let m = mapped.load(Ordering::Relaxed);
    assert!(m >= 256 * 1024, "the stack did not grow: {m} bytes mapped");
    gmpos::test_note!(
        "256-deep recursion with 1 KiB frames: stack grew to {} KiB",
        m / 1024
    );
}

#[gmpos::test]
fn ten_thousand_random_depths() {
    let wg = Arc::new(WaitGroup::new());
    let bad = Arc::new(AtomicU64::new(0));
    let mut rng = qemu_tests::Rng::new(0x2545_f491_4f6c_dd1d);
    wg.add(10_000);
    for i in 0..10_000u64 {
        // Depth 0..=60 frames of ~1.1 KiB: 0 to ~64 KiB of stack.
        let depth = (rng.next() % 61) as u32;
        let (w, b) = (wg.clone(), bad.clone());
        go(move || {
            if deep(depth, i) != deep_reference(depth, i) {
                b.fetch_add(1, Ordering::Relaxed);
            }
            w.done();
        });
    }
    wg.wait();
    assert_eq!(bad.load(Ordering::Relaxed), 0, "wrong results");
    gmpos::test_note!(
        "10000 goroutines, 0-64 KiB each: peak stack mapped {} MiB, {} segments mapped",
        STATS.peak.load(Ordering::Relaxed) >> 20,
        STATS.segments_mapped.load(Ordering::Relaxed)
    );
}

#[gmpos::test]
fn shrink_after_deep_recursion() {
    static PARK: Sema = Sema::new(0);
    let wg = Arc::new(WaitGroup::new());
    let before = Arc::new(AtomicU64::new(0));
    let after = Arc::new(AtomicU64::new(0));
    // Before `go`: on another CPU the goroutine may park and shrink before
    // this goroutine gets to look.
    let shrinks0 = STATS.shrinks.load(Ordering::Relaxed);
    wg.add(1);
    let (w, b, a) = (wg.clone(), before.clone(), after.clone());
    go(move || {
        core::hint::black_box(deep(200, 7));
        // SAFETY: the current G is live.
        let g = unsafe { &*gmpos::testing::sched::getg() };
        b.store(
            g.stack_hi.load(Ordering::Relaxed) - g.stack_lo.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        // Park: the scheduler shrinks the mostly unused stack.
        PARK.acquire(WaitReason::Park);
        a.store(
            g.stack_hi.load(Ordering::Relaxed) - g.stack_lo.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        w.done();
    });
    // Let it park, then wake it.
    while gmpos::testing::sched::nwaiting() == 0 {
        gmpos::gosched();
    }
    let mapped_parked = stack::mapped_bytes();
    PARK.release();
    wg.wait();
    let (b, a) = (
        before.load(Ordering::Relaxed),
        after.load(Ordering::Relaxed),
    );
    assert!(b >= 200 * 1024, "no deep stack to shrink: {b}");
    assert!(
        a <= b / 2,
        "the stack did not shrink on park: {b} -> {a} bytes"
    );
    assert!(STATS.shrinks.load(Ordering::Relaxed) > shrinks0);
    gmpos::test_note!(
        "stack of a parked goroutine shrank from {} KiB to {} KiB (total mapped while parked: {} KiB)",
        b / 1024,
        a / 1024,
        mapped_parked / 1024
    );
}
