//! Runnable latency: how long a goroutine waited between becoming
//! runnable (spawned, readied, preempted, yielded) and running (Go:
//! `/sched/latencies:seconds`, recorded in `casgstatus` from
//! `gp.trackingStamp`).
//!
//! Go samples every 8th goroutine (`gTrackingPeriod`) for a histogram;
//! the stress run wants the true maximum, so gmpos stamps every
//! transition, but only while tracking is on ([`set_tracking`]): off, the
//! cost in `casgstatus` is one relaxed load and a predicted branch, so the
//! benchmarks do not pay for it.
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::g::{G, Status};
use crate::clock;

static TRACKING: AtomicBool = AtomicBool::new(false);
/// When tracking last went on: older stamps (left on a goroutine that was
/// runnable when tracking went off) are not measured.
static SINCE_NS: AtomicU64 = AtomicU64::new(0);
/// The largest latency seen since the last [`reset`], in ns.
static MAX_NS: AtomicU64 = AtomicU64::new(0);
/// Latencies recorded since the last [`reset`].
static SAMPLES: AtomicU64 = AtomicU64::new(0);

/// Turns tracking on or off. A goroutine made runnable while it was off
/// carries no stamp (0), or an old one, and is not measured when it runs.
pub fn set_tracking(on: bool) {
    if on {
        SINCE_NS.store(clock::now_ns(), Ordering::Relaxed);
    }
    TRACKING.store(on, Ordering::Relaxed);
}

/// Forgets the maximum and the sample count.
pub fn reset() {
    MAX_NS.store(0, Ordering::Relaxed);
    SAMPLES.store(0, Ordering::Relaxed);
}

/// (largest latency in ns, latencies recorded) since the last [`reset`].
pub fn max() -> (u64, u64) {
    (
        MAX_NS.load(Ordering::Relaxed),
        SAMPLES.load(Ordering::Relaxed),
    )
}

/// Called by `casgstatus` after every successful transition.
#[inline]
pub(super) fn on_transition(g: &G, from: Status, to: Status) {
    if !TRACKING.load(Ordering::Relaxed) {
        return;
    }
    record(g, from, to);
}

#[cold]
fn record(g: &G, from: Status, to: Status) {
    match (from, to) {
        // Go: `gp.trackingStamp = nanotime()` on entering _Grunnable.
        (_, Status::Runnable) => g.runnable_since.store(clock::now_ns(), Ordering::Relaxed),
        (Status::Runnable, Status::Running) => {
            let since = g.runnable_since.swap(0, Ordering::Relaxed);
            if since != 0 && since >= SINCE_NS.load(Ordering::Relaxed) {
                let waited = clock::now_ns().saturating_sub(since);
                MAX_NS.fetch_max(waited, Ordering::Relaxed);
                SAMPLES.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {}
    }
}
