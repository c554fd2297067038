//! Time: the TSC is the clock. `now_ns()` is nanoseconds since boot.
use core::sync::atomic::{AtomicU64, Ordering};

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// Records the TSC value at boot (time zero).
pub fn mark_boot() {
    TSC_AT_BOOT.store(crate::arch::rdtsc(), Ordering::Relaxed);
}

/// The TSC value at time zero (for TSC-deadline timers, which take absolute
/// TSC values).
pub fn tsc_at_boot() -> u64 {
    TSC_AT_BOOT.load(Ordering::Relaxed)
}

/// ns per TSC cycle as a 32.32 fixed-point number: `now_ns` runs on every
/// context switch, so it multiplies and shifts instead of dividing by the
/// frequency (a 128-bit division is a library call of ~100 instructions).
/// The truncation error is below one part in 10^9.
static NS_PER_CYCLE_FP32: AtomicU64 = AtomicU64::new(0);

/// Sets the TSC frequency once it is known (CPUID or calibration).
pub fn set_tsc_hz(hz: u64) {
    TSC_HZ.store(hz, Ordering::Relaxed);
    let fp = if hz == 0 {
        0
    } else {
        ((1_000_000_000u128 << 32) / hz as u128) as u64
    };
    NS_PER_CYCLE_FP32.store(fp, Ordering::Relaxed);
}

/// TSC frequency in Hz (0 while unknown).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Converts TSC cycles to nanoseconds.
pub fn cycles_to_ns(cycles: u64) -> u64 {
    ((cycles as u128 * NS_PER_CYCLE_FP32.load(Ordering::Relaxed) as u128) >> 32) as u64
}

/// Converts nanoseconds to TSC cycles.
pub fn ns_to_cycles(ns: u64) -> u64 {
    ((ns as u128 * tsc_hz() as u128) / 1_000_000_000) as u64
}

/// Nanoseconds since boot (0 before the TSC frequency is known).
pub fn now_ns() -> u64 {
    cycles_to_ns(crate::arch::rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed)))
}

pub mod sleep;
pub mod timer;

pub use core::time::Duration;
pub use sleep::sleep;

/// A point on the monotonic clock (Go: the monotonic part of `time.Time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(u64);

impl Instant {
    /// Now.
    pub fn now() -> Instant {
        Instant(now_ns())
    }

    /// Time since this instant.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(now_ns().saturating_sub(self.0))
    }

    /// Time from `earlier` to this instant (zero if `earlier` is later).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Nanoseconds since boot.
    pub fn as_nanos(&self) -> u64 {
        self.0
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_nanos() as u64))
    }
}

impl core::ops::Sub for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.duration_since(other)
    }
}
