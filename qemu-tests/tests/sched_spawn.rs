//! Spawning: 100,000 goroutines in batches of 1,000; free-G reuse over
//! 1,000,000 short goroutines keeps the number of allocated Gs bounded.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::sched::SCHED;
use gmpos::{WaitGroup, go, num_goroutine};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        timeout=120
    ",
}

fn spawn_batches(total: u64, batch: u64) -> u64 {
    let counter = Arc::new(AtomicU64::new(0));
    for _ in 0..total / batch {
        let wg = Arc::new(WaitGroup::new());
        wg.add(batch as i64);
        for _ in 0..batch {
            let c = counter.clone();
            let w = wg.clone();
            go(move || {
                c.fetch_add(1, Ordering::Relaxed);
                w.done();
            });
        }
        wg.wait();
    }
    counter.load(Ordering::Relaxed)
}

#[gmpos::test]
fn spawn_100k_in_batches() {
    let t0 = gmpos::testing::hw::now_ns();
    let n = spawn_batches(100_000, 1_000);
    assert_eq!(n, 100_000, "not every goroutine ran");
    // The last batch's goroutines may still be finishing goexit after
    // wg.done(): wait for them to be gone.
    while num_goroutine() != 1 {
        gmpos::gosched();
    }
    let dt = gmpos::testing::hw::now_ns() - t0;
    gmpos::test_note!(
        "100000 goroutines in {} ms ({} ns each), {} CPUs",
        dt / 1_000_000,
        dt / 100_000,
        gmpos::num_cpu()
    );
}

#[gmpos::test]
fn free_g_reuse_1m() {
    let before = SCHED.nallocated.load(Ordering::Relaxed);
    let n = spawn_batches(1_000_000, 1_000);
    assert_eq!(n, 1_000_000);
    let allocated = SCHED.nallocated.load(Ordering::Relaxed);
    gmpos::test_note!(
        "1000000 goroutines ran with {} Gs allocated ({} before)",
        allocated,
        before
    );
    // Batches of 1,000 need ~1,000 Gs plus per-P cache slack; never one per
    // spawn.
    assert!(
        allocated <= 4_000,
        "free-G reuse is not working: {allocated} Gs allocated"
    );
}

#[gmpos::test]
fn goroutine_ids_and_api() {
    assert_eq!(
        gmpos::testing::sched::current_goid(),
        1,
        "main must be goroutine 1"
    );
    assert_eq!(gmpos::gomaxprocs(), gmpos::num_cpu());
    let wg = Arc::new(WaitGroup::new());
    let child = Arc::new(AtomicU64::new(0));
    wg.add(1);
    let (w, c) = (wg.clone(), child.clone());
    let id = go(move || {
        c.store(gmpos::testing::sched::current_goid(), Ordering::Relaxed);
        w.done();
    });
    wg.wait();
    assert_eq!(
        child.load(Ordering::Relaxed),
        id,
        "go() returned a different id than the goroutine sees"
    );
    assert!(id > 1);
}

/// Go's `runtime.GOMAXPROCS(0)`: a query. It returns the current value,
/// whatever it is, and changes nothing (no stop-the-world, no message).
#[gmpos::test]
fn gomaxprocs_zero_is_a_query() {
    let n = gmpos::num_cpu();
    for procs in [(n / 2).max(1), n] {
        gmpos::set_gomaxprocs(procs);
        for _ in 0..3 {
            assert_eq!(
                gmpos::set_gomaxprocs(0),
                procs,
                "set_gomaxprocs(0) with gomaxprocs={procs}"
            );
            assert_eq!(gmpos::gomaxprocs(), procs, "set_gomaxprocs(0) changed it");
        }
    }
}

#[gmpos::test]
fn gomaxprocs_resize() {
    let n = gmpos::num_cpu();
    // Out of range: a clear message, nothing changes.
    assert_eq!(gmpos::set_gomaxprocs(n + 1), n);
    assert_eq!(gmpos::gomaxprocs(), n);
    for procs in [1, n, (n / 2).max(1), n] {
        gmpos::set_gomaxprocs(procs);
        assert_eq!(gmpos::gomaxprocs(), procs);
        let ran_on = Arc::new([const { AtomicU64::new(0) }; 64]);
        let wg = Arc::new(WaitGroup::new());
        wg.add(200);
        for _ in 0..200 {
            let (w, r) = (wg.clone(), ran_on.clone());
            go(move || {
                r[gmpos::testing::hw::cpu_index()].fetch_add(1, Ordering::Relaxed);
                qemu_tests::spin_ns(100_000);
                w.done();
            });
        }
        wg.wait();
        for cpu in procs..n {
            assert_eq!(
                ran_on[cpu].load(Ordering::Relaxed),
                0,
                "cpu {cpu} ran goroutines with gomaxprocs={procs}"
            );
        }
        gmpos::test_note!(
            "gomaxprocs={procs}: goroutines ran on {:?}",
            (0..n)
                .map(|i| ran_on[i].load(Ordering::Relaxed))
                .collect::<alloc::vec::Vec<_>>()
        );
    }
}
