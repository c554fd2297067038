//! `sleep_accuracy` (BENCH.md 10, procs=1, 5 reps, no warm-up): one
//! goroutine (main waits on it) does 200 x `sleep(1ms)`, recording each
//! oversleep; nothing else runs, so the CPU halts in between. The
//! statistics are `preempt_latency`'s (this file has the shared part).
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{median_u64, now, report};
use crate::lock::SpinLock;
use crate::{Duration, WaitGroup, go, sleep};

const SAMPLES: usize = 200;

/// Per-repetition lateness statistics (BENCH.md 8: the repetition's value
/// is its median; the extras are medians over repetitions, except
/// `lat_maxall_us`).
#[derive(Default)]
pub struct Lateness {
    medians: Vec<f64>,
    p50: Vec<u64>,
    p90: Vec<u64>,
    min: Vec<u64>,
    max: Vec<u64>,
    maxall: u64,
}

impl Lateness {
    /// One repetition's samples, sorted.
    pub fn add(&mut self, v: Vec<u64>) {
        let n = v.len();
        self.medians.push(v[n / 2] as f64);
        self.p50.push(v[n / 2]);
        self.p90.push(v[n * 9 / 10]);
        self.min.push(v[0]);
        self.max.push(v[n - 1]);
        self.maxall = self.maxall.max(v[n - 1]);
    }
}

/// Prints a latency workload's line.
pub fn lateness_line(name: &str, n: u64, l: &Lateness, more: &str) {
    let more = if more.is_empty() {
        alloc::string::String::new()
    } else {
        alloc::format!(" {more}")
    };
    let us = |x: &[u64]| alloc::format!("{:.1}", median_u64(x) as f64 / 1000.0);
    let extras = alloc::format!(
        "lat_p50_us={} lat_p90_us={} lat_min_us={} lat_max_us={} lat_maxall_us={:.1}{more} gcs=0",
        us(&l.p50),
        us(&l.p90),
        us(&l.min),
        us(&l.max),
        l.maxall as f64 / 1000.0
    );
    report(name, 1, n, &l.medians, &extras);
}

fn once() -> Vec<u64> {
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let out = Arc::new(SpinLock::new(Vec::new()));
    let (w, o) = (wg.clone(), out.clone());
    go(move || {
        let mut v = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t0 = now();
            sleep(Duration::from_millis(1));
            v.push((now() - t0).saturating_sub(1_000_000));
        }
        *o.lock() = v;
        w.done();
    });
    wg.wait();
    let mut v = core::mem::take(&mut *out.lock());
    v.sort_unstable();
    v
}

pub fn run(_procs: usize) {
    let mut lat = Lateness::default();
    for _ in 0..5 {
        lat.add(once());
    }
    lateness_line("sleep_accuracy", SAMPLES as u64, &lat, "");
}
