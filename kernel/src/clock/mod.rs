//! The clock: the TSC, scaled to nanoseconds since boot. A leaf: it imports
//! nothing from the crate (it reads the TSC itself), so every layer, `arch`
//! included, may read the time.
//!
//! On the host only [`convert`] (the pure unit conversions) and the clock
//! state build, for the unit tests.
use core::sync::atomic::{AtomicU64, Ordering};

pub mod convert;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// Reads the time-stamp counter.
#[cfg(target_os = "none")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects; CR4.TSD is clear in ring 0 anyway.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Records the TSC value at boot (time zero).
#[cfg(target_os = "none")]
pub fn mark_boot() {
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
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

/// Nanoseconds since boot (Go: `nanotime`; 0 before the TSC frequency is
/// known).
#[cfg(target_os = "none")]
pub fn now_ns() -> u64 {
    cycles_to_ns(rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed)))
}
