//! Timers and sleep under deterministic virtual time (icount): never early,
//! accurate, many sleepers, tickless idle, `sleep(Duration::MAX)` sleeps
//! forever without an interrupt storm.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::sleep;
use gmpos::testing::hw::now_ns;
use gmpos::testing::hw::timer;
use gmpos::{WaitGroup, go, num_cpu};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        icount=1
        timeout=300
    ",
    // sleep_forever_beside_200ms leaves its sleeper parked for good: last.
}

#[gmpos::test]
fn sleep_1ms_200_times() {
    let mut over: Vec<u64> = Vec::with_capacity(200);
    for _ in 0..200 {
        let t0 = now_ns();
        sleep(Duration::from_millis(1));
        let slept = now_ns() - t0;
        assert!(
            slept >= 1_000_000,
            "sleep(1ms) woke early: after {slept} ns"
        );
        over.push(slept - 1_000_000);
    }
    over.sort_unstable();
    let (median, max) = (over[100], over[199]);
    gmpos::test_note!(
        "sleep(1ms) x 200: oversleep median {} us, p90 {} us, max {} us",
        median / 1000,
        over[180] / 1000,
        max / 1000
    );
    assert!(median <= 25_000, "median oversleep {median} ns > 25 us");
}

#[gmpos::test]
fn ten_thousand_sleepers() {
    let wg = Arc::new(WaitGroup::new());
    let early = Arc::new(AtomicU64::new(0));
    let worst = Arc::new(AtomicU64::new(0));
    // Lateness histogram: <100us, <1ms, <5ms, >=5ms.
    let hist = Arc::new([const { AtomicU64::new(0) }; 4]);
    let mut rng = qemu_tests::Rng::new(0x9e37_79b9_7f4a_7c15);
    wg.add(10_000);
    for _ in 0..10_000 {
        let d = rng.next() % 50_000_001; // 0..=50 ms
        let (w, e, wo, h) = (wg.clone(), early.clone(), worst.clone(), hist.clone());
        go(move || {
            let t0 = now_ns();
            sleep(Duration::from_nanos(d));
            let slept = now_ns() - t0;
            if slept < d {
                e.fetch_add(1, Ordering::Relaxed);
            }
            let late = slept.saturating_sub(d);
            wo.fetch_max(late, Ordering::Relaxed);
            let bucket = match late {
                0..100_000 => 0,
                100_000..1_000_000 => 1,
                1_000_000..5_000_000 => 2,
                _ => 3,
            };
            h[bucket].fetch_add(1, Ordering::Relaxed);
            w.done();
        });
    }
    wg.wait();
    let worst = worst.load(Ordering::Relaxed);
    let h: Vec<u64> = hist.iter().map(|x| x.load(Ordering::Relaxed)).collect();
    gmpos::test_note!(
        "10000 sleepers (0-50 ms) on {} CPUs: latest woke {} us late; late <100us: {}, <1ms: {}, <5ms: {}, >=5ms: {}",
        num_cpu(),
        worst / 1000,
        h[0],
        h[1],
        h[2],
        h[3]
    );
    assert_eq!(early.load(Ordering::Relaxed), 0, "some sleepers woke early");
    assert!(
        worst <= 5_000_000,
        "a sleeper woke {} us late (limit 5 ms)",
        worst / 1000
    );
}

#[gmpos::test]
fn tickless_when_all_asleep() {
    let n = num_cpu();
    let wg = Arc::new(WaitGroup::new());
    wg.add(n as i64 * 2);
    for _ in 0..n * 2 {
        let w = wg.clone();
        go(move || {
            sleep(Duration::from_millis(500));
            w.done();
        });
    }
    // Let every sleeper park, then count timer interrupts over the sleep.
    sleep(Duration::from_millis(1));
    let before: Vec<u64> = (0..n).map(timer::ticks).collect();
    let t0 = now_ns();
    wg.wait();
    let dt = now_ns() - t0;
    let ticks: Vec<u64> = (0..n).map(|i| timer::ticks(i) - before[i]).collect();
    gmpos::test_note!(
        "{} ms with every goroutine asleep: timer interrupts per CPU {:?}",
        dt / 1_000_000,
        ticks
    );
    for (i, &t) in ticks.iter().enumerate() {
        assert!(
            t <= 5,
            "cpu {i} took {t} timer interrupts while everything slept (limit 5)"
        );
    }
}

/// A far deadline must stay far: `sleep(Duration::MAX)` must neither wake
/// nor make its CPU take interrupts (with a TSC-deadline timer, a wrapped
/// deadline lies in the past and re-arms forever). QEMU's TCG has no TSC
/// deadline, so this exercises the APIC-count path; the conversions are
/// unit-tested on the host (`time::convert`).
#[gmpos::test]
fn sleep_forever_beside_200ms() {
    let n = num_cpu();
    let woke = Arc::new(AtomicBool::new(false));
    let w = woke.clone();
    go(move || {
        sleep(Duration::MAX);
        w.store(true, Ordering::Relaxed);
    });
    // Let the sleeper park (its timer is added), then count interrupts.
    sleep(Duration::from_millis(1));
    let before: Vec<u64> = (0..n).map(timer::interrupts).collect();
    let t0 = now_ns();
    sleep(Duration::from_millis(200));
    let slept = now_ns() - t0;
    let irqs: Vec<u64> = (0..n).map(|i| timer::interrupts(i) - before[i]).collect();
    gmpos::test_note!(
        "sleep(200ms) beside sleep(Duration::MAX) on {n} CPUs: slept {} us, timer interrupts per CPU {:?}",
        slept / 1000,
        irqs
    );
    assert!(
        !woke.load(Ordering::Relaxed),
        "sleep(Duration::MAX) returned"
    );
    assert!(
        slept >= 200_000_000,
        "sleep(200ms) woke early: after {slept} ns"
    );
    if gmpos::testing::hw::tsc::counts_instructions() {
        assert!(
            slept <= 205_000_000,
            "sleep(200ms) took {} us (limit 205 ms)",
            slept / 1000
        );
    }
    // Idle CPUs: none to a few (the 200 ms timer, a stale or early one);
    // a storm would be thousands.
    for (i, &t) in irqs.iter().enumerate() {
        assert!(
            t <= 10,
            "cpu {i} took {t} timer interrupts in 200 ms with everything asleep (limit 10)"
        );
    }
}
