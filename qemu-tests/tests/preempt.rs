//! Asynchronous preemption: no starvation by spinning goroutines, Go's
//! runnext starvation case, never at an unsafe point, correct results under
//! frequent preemption. One P, 1 ms time slices.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use core::time::Duration;
use gmpos::lock::SpinLock;
use gmpos::sched::preempt::counters;
use gmpos::time::{now_ns, sleep};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=1,2
        icount=1
        args=gomaxprocs=1 slice=1ms
        timeout=180
    ",
    cases: [sleeper_beats_one_spinner, sleeper_beats_two_spinners, runnext_respawn_does_not_starve_global,
            no_async_preemption_under_spin_lock, copies_and_recursion_under_preemption],
}

fn spin_until(stop: &AtomicBool) -> u64 {
    let mut x = 0u64;
    // No calls, no yields: only asynchronous preemption can interrupt this.
    while !stop.load(Ordering::Relaxed) {
        x = x.wrapping_add(1);
        core::hint::black_box(x);
    }
    x
}

fn sleeper_vs_spinners(spinners: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    let (a0, _, _) = counters();
    for _ in 0..spinners {
        let (s, w) = (stop.clone(), wg.clone());
        wg.add(1);
        go(move || {
            core::hint::black_box(spin_until(&s));
            w.done();
        });
    }
    let t0 = now_ns();
    let mut worst = 0;
    for _ in 0..100 {
        let s0 = now_ns();
        sleep(Duration::from_millis(1));
        let slept = now_ns() - s0;
        assert!(slept >= 1_000_000, "sleep(1ms) returned after {slept} ns");
        worst = worst.max(slept);
    }
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    let (a1, _, _) = counters();
    gmpos::test_note!(
        "{spinners} spinner(s): 100 x sleep(1ms) took {} ms, worst single sleep {} us, {} async preemptions",
        (now_ns() - t0) / 1_000_000,
        worst / 1000,
        a1 - a0
    );
    assert!(a1 > a0, "the spinners were never preempted asynchronously");
}

fn sleeper_beats_one_spinner() {
    sleeper_vs_spinners(1);
}

fn sleeper_beats_two_spinners() {
    sleeper_vs_spinners(2);
}

static CHAIN_STOP: AtomicBool = AtomicBool::new(false);

fn respawn(n: u64) {
    if CHAIN_STOP.load(Ordering::Relaxed) {
        return;
    }
    // A little work, then hand over to a new goroutine through runnext: it
    // inherits our time slice, so `schedtick` never advances.
    let mut x = n;
    for _ in 0..200 {
        x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    go(move || respawn(x));
}

fn runnext_respawn_does_not_starve_global() {
    CHAIN_STOP.store(false, Ordering::Relaxed);
    go(|| respawn(1));
    go(|| respawn(2));
    // Main goes to the global queue; the two chains keep P0 busy through
    // runnext. Only the slice-based preemption lets the global queue in.
    let c0 = counters();
    let t0 = now_ns();
    gmpos::gosched();
    let waited = now_ns() - t0;
    let c1 = counters();
    CHAIN_STOP.store(true, Ordering::Relaxed);
    gmpos::test_note!(
        "preemptions meanwhile: async {}, cooperative {}, refused {}",
        c1.0 - c0.0,
        c1.1 - c0.1,
        c1.2 - c0.2
    );
    assert!(
        c1.0 + c1.1 - c0.0 - c0.1 <= 3,
        "the global queue waited more than 3 time slices"
    );
    gmpos::test_note!(
        "a goroutine in the global queue ran after {} us despite the runnext chains (slice 1 ms)",
        waited / 1000
    );
    assert!(
        waited < 5_000_000,
        "the global queue was starved for {} ms",
        waited / 1_000_000
    );
    // Let the chains die out.
    sleep(Duration::from_millis(5));
}

static LOCK: SpinLock<u64> = SpinLock::new(0);

fn no_async_preemption_under_spin_lock() {
    let done = Arc::new(AtomicBool::new(false));
    let stats = Arc::new([const { AtomicU64::new(0) }; 6]);
    let (d, st) = (done.clone(), stats.clone());
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    // Something else to run, so that preemption has a reason to happen.
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    go(move || {
        core::hint::black_box(spin_until(&s2));
    });
    go(move || {
        let mut guard = LOCK.lock();
        let (a0, c0, r0) = counters();
        // Hold a runtime spin lock for ~20 ms of busy work (20 slices).
        let until = now_ns() + 20_000_000;
        while now_ns() < until {
            *guard = core::hint::black_box(guard.wrapping_add(1));
        }
        let (a1, c1, r1) = counters();
        drop(guard); // the pending preemption is honoured right here
        let (a2, c2, _) = counters();
        for (i, v) in [a1 - a0, r1 - r0, c1 - c0, c2 - c1, a2 - a1]
            .into_iter()
            .enumerate()
        {
            st[i].store(v, Ordering::Relaxed);
        }
        d.store(true, Ordering::Relaxed);
        w.done();
    });
    wg.wait();
    stop.store(true, Ordering::Relaxed);
    let s: Vec<u64> = stats.iter().map(|v| v.load(Ordering::Relaxed)).collect();
    gmpos::test_note!(
        "under a spin lock: {} async preemptions, {} requests refused; at release: {} cooperative, {} async",
        s[0],
        s[1],
        s[3],
        s[4]
    );
    assert_eq!(
        s[0], 0,
        "preempted asynchronously while holding a spin lock"
    );
    assert!(s[1] > 0, "no preemption was even requested in 20 slices");
    assert_eq!(
        s[3], 1,
        "the pending preemption was not honoured at release"
    );
    assert_eq!(
        s[4], 0,
        "preempted asynchronously after release instead of at the release"
    );
}

#[inline(never)]
fn fib(n: u64) -> u64 {
    let pad = [n; 16];
    core::hint::black_box(&pad);
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[inline(never)]
fn deep_sum(n: u64) -> u64 {
    let mut buf = [0u64; 64];
    buf[(n % 64) as usize] = n;
    core::hint::black_box(&mut buf);
    if n == 0 {
        0
    } else {
        // `buf` is used after the call, so each frame keeps its array.
        n + deep_sum(n - 1) + core::hint::black_box(buf[0]) - buf[0]
    }
}

fn copies_and_recursion_under_preemption() {
    let wg = Arc::new(WaitGroup::new());
    let bad = Arc::new(AtomicU64::new(0));
    let (a0, _, _) = counters();
    for k in 0..4u64 {
        let (w, b) = (wg.clone(), bad.clone());
        wg.add(1);
        go(move || {
            // memcpy-style loops over a 64 KiB buffer, verified each round.
            let src: Vec<u8> = (0..65536u32).map(|i| (i as u8) ^ (k as u8)).collect();
            let mut dst = alloc::vec![0u8; 65536];
            for round in 0..40 {
                dst.copy_from_slice(&src);
                for i in (0..65536).step_by(4096) {
                    if dst[i] != src[i] {
                        b.fetch_add(1, Ordering::Relaxed);
                    }
                }
                dst[round] = 0;
            }
            // Deep recursion growing the stack while being preempted.
            if deep_sum(500) != 500 * 501 / 2 {
                b.fetch_add(1, Ordering::Relaxed);
            }
            if fib(20) != 6765 {
                b.fetch_add(1, Ordering::Relaxed);
            }
            w.done();
        });
    }
    wg.wait();
    let (a1, _, _) = counters();
    gmpos::test_note!(
        "copies and recursion: {} async preemptions, all results right",
        a1 - a0
    );
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "wrong results under preemption"
    );
}
