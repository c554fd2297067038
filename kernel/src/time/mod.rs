//! Time: the TSC is the clock. `now_ns()` is nanoseconds since boot.
//!
//! On the host only [`convert`] (the pure unit conversions) and the clock
//! state build, for the unit tests.
use core::sync::atomic::{AtomicU64, Ordering};

pub mod convert;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// Records the TSC value at boot (time zero).
#[cfg(target_os = "none")]
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
    NS_PER_CYCLE_FP32.store(convert::ns_per_cycle_fp32(hz), Ordering::Relaxed);
}

/// The `now_ns` scale factor: ns per TSC cycle, 32.32 fixed point (0 while
/// the frequency is unknown). TSC deadlines are computed with it (see
/// `convert::tsc_deadline`).
pub fn ns_per_cycle_fp32() -> u64 {
    NS_PER_CYCLE_FP32.load(Ordering::Relaxed)
}

/// TSC frequency in Hz (0 while unknown).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Converts TSC cycles to nanoseconds (rounded down, saturated).
pub fn cycles_to_ns(cycles: u64) -> u64 {
    convert::cycles_to_ns(cycles, ns_per_cycle_fp32())
}

/// Converts nanoseconds to TSC cycles (rounded down, saturated).
pub fn ns_to_cycles(ns: u64) -> u64 {
    convert::ns_to_ticks(ns, tsc_hz())
}

/// Nanoseconds since boot (0 before the TSC frequency is known).
#[cfg(target_os = "none")]
pub fn now_ns() -> u64 {
    cycles_to_ns(crate::arch::rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed)))
}

#[cfg(target_os = "none")]
pub mod sleep;

pub use core::time::Duration;
#[cfg(target_os = "none")]
pub use sleep::sleep;

/// A point on the monotonic clock (Go: the monotonic part of `time.Time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(u64);

impl Instant {
    /// Now.
    #[cfg(target_os = "none")]
    pub fn now() -> Instant {
        Instant(now_ns())
    }

    /// Time since this instant.
    #[cfg(target_os = "none")]
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
    /// Saturates: `Instant::now() + Duration::MAX` is the last instant, not
    /// a wrapped early one.
    fn add(self, d: Duration) -> Instant {
        Instant(convert::deadline_after(self.0, convert::duration_ns(d)))
    }
}

impl core::ops::Sub for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.duration_since(other)
    }
}
