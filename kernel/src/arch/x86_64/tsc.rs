//! The TSC as the clock: its frequency, and whether all CPUs' TSCs agree.
//!
//! The frequency comes from CPUID when the CPU states it and the statement
//! survives a check against the PIT (leaf 0x15's crystal ratio, leaf 0x16's
//! base frequency, or the hypervisor's leaf 0x40000010): a virtual CPU may
//! report its host's nominal numbers while its TSC runs at another rate.
//! Otherwise the PIT measurement is used. Under TCG no CPUID leaf states it
//! (and the TSC is the host's, or the instruction count under icount), so
//! the PIT decides.
//!
//! gmpos uses the TSC even when the CPU does not advertise an invariant TSC
//! (TCG's default CPU does not); the banner says so.
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use raw_cpuid::CpuId;

use super::{pit, rdtsc};
use crate::time;

/// Where a frequency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// CPUID leaf 0x15 (TSC/crystal ratio and crystal frequency).
    Cpuid15,
    /// CPUID leaf 0x16 (processor base frequency).
    Cpuid16,
    /// The hypervisor's timing leaf 0x40000010.
    Hypervisor,
    /// Measured against the PIT.
    Pit,
    /// Measured against the TSC (the APIC timer).
    Tsc,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Cpuid15 => "from CPUID leaf 0x15",
            Source::Cpuid16 => "from CPUID leaf 0x16",
            Source::Hypervisor => "from the hypervisor's CPUID leaf 0x40000010",
            Source::Pit => "calibrated against the PIT",
            Source::Tsc => "calibrated against the TSC",
        }
    }
}

/// A frequency and how it was obtained.
#[derive(Debug, Clone, Copy)]
pub struct Frequency {
    pub hz: u64,
    pub source: Source,
    /// The measurement (0 when there is no PIT).
    pub measured_hz: u64,
    /// A CPUID statement that disagreed with the PIT (ignored), if any.
    pub rejected: Option<(Source, u64)>,
}

/// How close a CPUID statement must be to the PIT measurement to be used.
const AGREE_PPM: u64 = 10_000;

static TSC_HZ_SOURCE: spin::Once<Frequency> = spin::Once::new();
static INVARIANT: AtomicBool = AtomicBool::new(false);
static MAX_WARP: AtomicU64 = AtomicU64::new(0);
static WARPS: AtomicU64 = AtomicU64::new(0);

/// Relative difference in parts per million.
pub fn ppm(a: u64, b: u64) -> u64 {
    if b == 0 {
        return u64::MAX;
    }
    (a.abs_diff(b) as u128 * 1_000_000 / b as u128) as u64
}

/// Picks between a CPUID statement and a measurement (the result's source
/// is `Pit` when the measurement wins).
pub fn choose(stated: Option<(Source, u64)>, measured_hz: u64) -> Frequency {
    match stated {
        Some((src, hz)) if measured_hz == 0 || ppm(hz, measured_hz) <= AGREE_PPM => {
            Frequency { hz, source: src, measured_hz, rejected: None }
        }
        other => Frequency { hz: measured_hz, source: Source::Pit, measured_hz, rejected: other },
    }
}

/// What CPUID says the TSC frequency is, if anything.
fn cpuid_tsc_hz() -> Option<(Source, u64)> {
    let id = CpuId::new();
    if let Some(info) = id.get_tsc_info() {
        if let Some(hz) = info.tsc_frequency() {
            return Some((Source::Cpuid15, hz));
        }
    }
    if let Some(f) = id.get_processor_frequency_info() {
        let mhz = f.processor_base_frequency() as u64;
        if mhz != 0 {
            return Some((Source::Cpuid16, mhz * 1_000_000));
        }
    }
    if let Some(hv) = id.get_hypervisor_info() {
        if let Some(khz) = hv.tsc_frequency() {
            if khz != 0 {
                return Some((Source::Hypervisor, khz as u64 * 1000));
            }
        }
    }
    None
}

/// Median of five 10 ms PIT windows of the TSC (0 when there is no PIT):
/// under emulation a window can be stretched or shrunk when the host
/// deschedules the virtual CPU at one of its ends.
fn measure_tsc_hz() -> u64 {
    let mut rates = [0u64; 5];
    for r in rates.iter_mut() {
        match pit::window(10_000, rdtsc) {
            Ok((t0, t1, ns)) => *r = ((t1 - t0) as u128 * 1_000_000_000 / ns as u128) as u64,
            Err(pit::NoPit) => return 0,
        }
    }
    rates.sort_unstable();
    rates[2]
}

/// Determines the TSC frequency and sets the clock's (`time::set_tsc_hz`).
/// Bootstrap CPU, once, before the APs start.
pub fn init() -> Frequency {
    *TSC_HZ_SOURCE.call_once(|| {
        let f = choose(cpuid_tsc_hz(), measure_tsc_hz());
        let f = if f.hz == 0 {
            // No PIT and no CPUID: a guess that keeps the clock running.
            Frequency { hz: 1_000_000_000, ..f }
        } else {
            f
        };
        time::set_tsc_hz(f.hz);
        INVARIANT.store(super::cpuinfo::features().invariant_tsc, Ordering::Relaxed);
        f
    })
}

/// The TSC frequency and its origin (after [`init`]).
pub fn frequency() -> Frequency {
    *TSC_HZ_SOURCE.get().expect("tsc::frequency() before tsc::init()")
}

/// Does the CPU advertise an invariant TSC (constant rate in all states)?
pub fn invariant() -> bool {
    INVARIANT.load(Ordering::Relaxed)
}

/// Reads the TSC after all earlier instructions (rdtsc alone may be
/// executed early).
#[inline]
pub fn rdtsc_ordered() -> u64 {
    // SAFETY: lfence and rdtsc have no side effects.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// Busy-waits `ns` nanoseconds of TSC time.
pub fn delay_ns(ns: u64) {
    let start = rdtsc();
    let cycles = time::ns_to_cycles(ns).max(1);
    while rdtsc().wrapping_sub(start) < cycles {
        pace();
    }
}

/// One step of a busy-wait that only waits for time to pass: a `pause`,
/// then a few hundred plain instructions. QEMU's TCG leaves its execution
/// loop on every `pause` (and under icount switches to the next CPU), so a
/// loop of nothing but `pause` and `rdtsc` advances emulated time very
/// slowly; on hardware the pacing costs nothing.
#[inline]
pub fn pace() {
    core::hint::spin_loop();
    for i in 0..64u32 {
        core::hint::black_box(i);
    }
}

/// Busy-waits `us` microseconds of TSC time.
pub fn delay_us(us: u64) {
    delay_ns(us * 1000);
}

static COUNTS_INSTRUCTIONS: spin::Once<bool> = spin::Once::new();

/// Does the TSC count instructions, as under QEMU's `-icount shift=0`?
/// Only QEMU's TCG can do that (CPUID: a hypervisor whose vendor is
/// "TCGTCGTCGTCG", or none given), and there a loop of n
/// iterations then takes exactly n times its instruction count in TSC
/// ticks, the same (nearly) every time; with a real clock (hardware, KVM,
/// plain TCG) the counts vary and are no exact multiple. Decided once, on the
/// bootstrap CPU at boot (alone, interrupts off, so nothing else adds
/// instructions); later calls return the cached answer.
///
/// gmpos needs to know because QEMU's TCG aborts ("Bad icount read") when
/// an x2APIC timer register, an MSR, is accessed under icount (RDMSR and
/// WRMSR are not treated as I/O there), so under icount the local APIC is
/// driven through xAPIC MMIO instead. Tests use it to know when timing is
/// deterministic.
pub fn counts_instructions() -> bool {
    *COUNTS_INSTRUCTIONS.call_once(|| {
        let id = CpuId::new();
        let tcg = id.get_feature_info().is_some_and(|f| f.has_hypervisor())
            && id.get_hypervisor_info().is_none_or(|h| {
                matches!(h.identify(), raw_cpuid::Hypervisor::QEMU | raw_cpuid::Hypervisor::Unknown(0, 0, 0))
            });
        if !tcg {
            return false;
        }
        fn timed(iterations: u64) -> u64 {
            let t0 = rdtsc();
            let mut x = 0u64;
            for i in 0..iterations {
                x = core::hint::black_box(x.wrapping_add(i));
            }
            core::hint::black_box(x);
            rdtsc().wrapping_sub(t0)
        }
        // Warm up (the first run can differ by an instruction or two).
        timed(1000);
        timed(3000);
        let mut short = [0u64; 5];
        let mut long = [0u64; 5];
        for i in 0..5 {
            short[i] = timed(1000);
            long[i] = timed(3000);
        }
        // QEMU occasionally counts a few instructions more in one run (when
        // it retranslates a block), so the most common value must win, 3 of
        // 5 at least: with a real clock no two runs agree to the tick.
        let (Some(s), Some(l)) = (mode_of_3(&short), mode_of_3(&long)) else {
            return false;
        };
        // 2000 more iterations: a whole number (2..=20) of instructions each.
        let extra = l.wrapping_sub(s);
        extra.is_multiple_of(2000) && (2..=20).contains(&(extra / 2000))
    })
}

/// The value at least 3 of the 5 entries share, if any.
fn mode_of_3(v: &[u64; 5]) -> Option<u64> {
    v.iter().copied().find(|&x| v.iter().filter(|&&y| y == x).count() >= 3)
}

/// The last TSC value published by any CPU in the warp check.
static LAST: AtomicU64 = AtomicU64::new(0);

/// One CPU's part of the TSC agreement check: repeatedly read the TSC and
/// publish it; a value lower than one already published by another CPU
/// (read after it, since the compare-exchange orders the two) is a warp.
/// Run concurrently on all CPUs (see `smp`); `iterations` bounds the time.
pub fn warp_check(iterations: u32) {
    for _ in 0..iterations {
        let prev = LAST.load(Ordering::Acquire);
        let now = rdtsc_ordered();
        if now < prev {
            WARPS.fetch_add(1, Ordering::Relaxed);
            MAX_WARP.fetch_max(prev - now, Ordering::Relaxed);
            continue;
        }
        let _ = LAST.compare_exchange(prev, now, Ordering::AcqRel, Ordering::Relaxed);
        core::hint::spin_loop();
    }
}

/// (warps seen, largest warp in cycles) from [`warp_check`].
pub fn warp_result() -> (u64, u64) {
    (WARPS.load(Ordering::Relaxed), MAX_WARP.load(Ordering::Relaxed))
}
