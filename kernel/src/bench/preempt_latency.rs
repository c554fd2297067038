//! `preempt_latency` (BENCH.md 8, procs=1, 3 reps, no warm-up): a spinner
//! with no preemption points and a sleeper doing 100 x `sleep(1ms)`,
//! recording each lateness; the sleeper only runs when the spinner is
//! preempted asynchronously. Run at `slice=1ms` (the comparison with Go's
//! ~20 ms) and then once at the default slice, each line with `slice_us=`.
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::now;
use super::sleep_accuracy::{Lateness, lateness_line};
use crate::lock::SpinLock;
use crate::{Duration, WaitGroup, go, gosched, sleep};

const SAMPLES: usize = 100;

static STARTED: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);
static SINK: AtomicU64 = AtomicU64::new(0);

/// The spinner's loop: a relaxed load (a plain MOV) per iteration, no
/// calls, no yields.
fn spin() -> u64 {
    let mut x = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        x = core::hint::black_box(x.wrapping_add(1));
    }
    x
}

/// One repetition: the 100 latenesses, sorted.
fn once() -> Vec<u64> {
    STARTED.store(false, Ordering::SeqCst);
    STOP.store(false, Ordering::SeqCst);
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    let w = wg.clone();
    go(move || {
        STARTED.store(true, Ordering::SeqCst);
        SINK.store(spin(), Ordering::Relaxed);
        w.done();
    });
    let out = Arc::new(SpinLock::new(Vec::new()));
    let (w, o) = (wg.clone(), out.clone());
    go(move || {
        while !STARTED.load(Ordering::SeqCst) {
            gosched();
        }
        let mut v = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t0 = now();
            sleep(Duration::from_millis(1));
            v.push((now() - t0).saturating_sub(1_000_000));
        }
        *o.lock() = v;
        STOP.store(true, Ordering::SeqCst);
        w.done();
    });
    wg.wait();
    let mut v = core::mem::take(&mut *out.lock());
    v.sort_unstable();
    v
}

fn at_slice(slice: Option<Duration>) {
    let prev = slice.map(crate::sched::set_slice);
    let slice_us = crate::sched::preempt::slice_ns() / 1000;
    let mut lat = Lateness::default();
    for _ in 0..3 {
        lat.add(once());
    }
    if let Some(p) = prev {
        crate::sched::set_slice(p);
    }
    lateness_line(
        "preempt_latency",
        SAMPLES as u64,
        &lat,
        &alloc::format!("slice_us={slice_us}"),
    );
}

pub fn run(_procs: usize) {
    at_slice(Some(Duration::from_millis(1)));
    at_slice(None);
}
