//! BENCH.md `preempt_latency` (procs=1, slice=1ms): a spinner with no
//! preemption points and a sleeper doing 100 x sleep(1ms); the sleeper only
//! runs when the spinner is preempted asynchronously. Under icount the
//! median lateness must be at most 2 ms (Go: 10-20 ms).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::time::{now_ns, sleep};
use gmpos::{WaitGroup, go, gosched};
use qemu_tests::bench::report;

gmpos::qemu_test! {
    config: "
        smp=1
        icount=1
        args=gomaxprocs=1 slice=1ms
        timeout=300
    ",
    cases: [preempt_latency],
}

static STARTED: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static SINK: AtomicU64 = AtomicU64::new(0);

fn one_rep() -> Vec<u64> {
    STARTED.store(false, Ordering::SeqCst);
    STOP.store(false, Ordering::SeqCst);
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    let w = wg.clone();
    go(move || {
        STARTED.store(true, Ordering::Relaxed);
        let mut x = 0u64;
        while !STOP.load(Ordering::Relaxed) {
            x = x.wrapping_add(1);
        }
        SINK.store(x, Ordering::Relaxed);
        w.done();
    });
    let lat = Arc::new(gmpos::lock::SpinLock::new(Vec::with_capacity(100)));
    let (w, l) = (wg.clone(), lat.clone());
    go(move || {
        while !STARTED.load(Ordering::Relaxed) {
            gosched();
        }
        let mut v = Vec::with_capacity(100);
        for _ in 0..100 {
            let t0 = now_ns();
            sleep(Duration::from_millis(1));
            v.push(now_ns() - t0 - 1_000_000);
        }
        *l.lock() = v;
        STOP.store(true, Ordering::Relaxed);
        w.done();
    });
    wg.wait();
    let mut v = core::mem::take(&mut *lat.lock());
    v.sort_unstable();
    v
}

fn preempt_latency() {
    let mut medians = Vec::new();
    let (mut p50, mut p90, mut mins, mut maxs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut maxall = 0;
    for _ in 0..3 {
        let v = one_rep();
        medians.push(v[50] as f64);
        p50.push(v[50]);
        p90.push(v[90]);
        mins.push(v[0]);
        maxs.push(v[99]);
        maxall = maxall.max(v[99]);
    }
    let med = |mut x: Vec<u64>| {
        x.sort_unstable();
        x[x.len() / 2] / 1000
    };
    let extras = alloc::format!(
        "lat_p50_us={} lat_p90_us={} lat_min_us={} lat_max_us={} lat_maxall_us={} gcs=0",
        med(p50),
        med(p90),
        med(mins),
        med(maxs),
        maxall / 1000
    );
    report("preempt_latency", 1, 100, &medians, &extras);
    let mut m = medians.clone();
    m.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert!(
        m[1] <= 2_000_000.0,
        "median preemption lateness {} ns > 2 ms",
        m[1]
    );
}
