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
use crate::clock;

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
        Some((src, hz)) if measured_hz == 0 || ppm(hz, measured_hz) <= AGREE_PPM => Frequency {
            hz,
            source: src,
            measured_hz,
            rejected: None,
        },
        other => Frequency {
            hz: measured_hz,
            source: Source::Pit,
            measured_hz,
            rejected: other,
        },
    }
}

/// What CPUID says the TSC frequency is, if anything.
fn cpuid_tsc_hz() -> Option<(Source, u64)> {
    let id = CpuId::new();
    if let Some(hz) = id.get_tsc_info().and_then(|info| info.tsc_frequency()) {
        return Some((Source::Cpuid15, hz));
    }
    if let Some(f) = id.get_processor_frequency_info()
        && f.processor_base_frequency() != 0
    {
        return Some((
            Source::Cpuid16,
            f.processor_base_frequency() as u64 * 1_000_000,
        ));
    }
    if let Some(khz) = id.get_hypervisor_info().and_then(|hv| hv.tsc_frequency())
        && khz != 0
    {
        return Some((Source::Hypervisor, khz as u64 * 1000));
    }
    None
}

/// The TSC measured against the PIT (0 when there is no PIT): median of
/// five 10 ms periods of a PIT square wave, each timed from one rising edge
/// of its output to the next.
///
/// Polling the output is slow under emulation (microseconds per port read
/// under TCG, and every read leaves the translated code under icount), so
/// a first period is timed with relaxed polling to get an estimate; then
/// each edge is approached by TSC time and polled tightly only from shortly
/// before it. Both ends of a period are found the same way, so the polling
/// delay cancels out. Under icount the result is exact (1 GHz). Under TCG
/// the host may deschedule the virtual CPU at any point: a period that does
/// not look like one (against the estimate) is thrown away and the estimate
/// taken again, and the median absorbs smaller disturbances.
fn measure_tsc_hz() -> u64 {
    const PERIOD_US: u64 = 10_000;
    let w = pit::SquareWave::start(PERIOD_US);
    let rising_edge = |tight: bool| -> Result<u64, pit::NoPit> {
        w.wait(false, tight)?;
        w.wait(true, tight)?;
        Ok(rdtsc_ordered())
    };
    let run = || -> Result<u64, pit::NoPit> {
        // A coarse estimate of the period, from two consecutive edges.
        let coarse = || -> Result<(u64, u64), pit::NoPit> {
            let first = rising_edge(false)?;
            let second = rising_edge(false)?;
            Ok((second - first, second))
        };
        let (mut estimate, mut edge) = coarse()?;
        let mut rates = [0u64; 5];
        let mut n = 0;
        let mut prev: Option<u64> = None;
        for _ in 0..40 {
            if n == rates.len() {
                break;
            }
            // Shortly before the next edge (1/32 of a period), the output
            // is low; poll tightly from there.
            let target = edge + estimate - estimate / 32;
            while rdtsc() < target {
                pace();
            }
            let late = rdtsc() - target > estimate / 64;
            if late || w.high() {
                // Descheduled by the host, or the estimate is off (the host
                // stalled us during it): estimate again.
                (estimate, edge) = coarse()?;
                prev = None;
                continue;
            }
            w.wait(true, true)?;
            let now = rdtsc_ordered();
            // One period since the last edge, or we lost track (a stall
            // while polling): then start over.
            if prev.is_some_and(|p| (now - p).abs_diff(estimate) > estimate / 16) {
                (estimate, edge) = coarse()?;
                prev = None;
                continue;
            }
            if let Some(p) = prev {
                rates[n] =
                    ((now - p) as u128 * pit::PIT_HZ as u128 / w.period_ticks() as u128) as u64;
                n += 1;
            }
            prev = Some(now);
            edge = now;
        }
        let rates = &mut rates[..n];
        rates.sort_unstable();
        Ok(rates
            .get(n / 2)
            .copied()
            .unwrap_or(estimate * pit::PIT_HZ / w.period_ticks()))
    };
    run().unwrap_or(0)
}

/// The TSC measured against the PIT's count rather than its edges: robust
/// where the edge timing is not, when the host stalls the virtual CPU for
/// longer than a period (seen under TCG with a loaded host). Samples of
/// (TSC, position in a 55 ms PIT period) are taken about every 5 ms; each
/// pair gives a rate (the PIT position wraps, so a stall of a whole period
/// makes a pair wrong, and such pairs fall outside 1% of the median pair),
/// and the agreeing pairs together give the rate over their whole span
/// (the PIT tick, 838 ns, limits that to tens of ppm).
fn measure_tsc_hz_by_count() -> u64 {
    const SAMPLES: usize = 12;
    let w = pit::SquareWave::start(pit::MAX_PERIOD_US);
    let period = w.period_ticks();
    // The tightest of a few (TSC, phase) readings.
    let sample = || {
        let mut best = (u64::MAX, 0, 0);
        for _ in 0..4 {
            let a = rdtsc_ordered();
            let phase = w.phase();
            let b = rdtsc_ordered();
            if b - a < best.0 {
                best = (b - a, a + (b - a) / 2, phase);
            }
        }
        (best.1, best.2)
    };
    let mut samples = [(0u64, 0u64); SAMPLES];
    samples[0] = sample();
    for i in 1..SAMPLES {
        // About a tenth of the period after the previous sample.
        let mut spins = 0u64;
        loop {
            let s = sample();
            if (s.1 + period - samples[i - 1].1) % period >= period / 10 {
                samples[i] = s;
                break;
            }
            spins += 1;
            if spins > 10_000_000 {
                return 0; // The PIT does not count: no PIT.
            }
            pace();
        }
    }
    let mut pairs = [(0u64, 0u64, 0u64); SAMPLES - 1];
    for i in 1..SAMPLES {
        let (t0, p0) = samples[i - 1];
        let (t1, p1) = samples[i];
        let ticks = (p1 + period - p0) % period;
        let cycles = t1 - t0;
        pairs[i - 1] = (cycles * PIT_HZ_TICK_SCALE / ticks.max(1), cycles, ticks);
    }
    let mut rates = pairs.map(|p| p.0);
    rates.sort_unstable();
    let median = rates[rates.len() / 2];
    let (cycles, ticks) = pairs
        .iter()
        .filter(|p| ppm(p.0, median) <= 10_000)
        .fold((0u64, 0u64), |(c, t), p| (c + p.1, t + p.2));
    (cycles as u128 * pit::PIT_HZ as u128 / ticks.max(1) as u128) as u64
}

/// Fixed-point scale of the per-pair rates in `measure_tsc_hz_by_count`.
const PIT_HZ_TICK_SCALE: u64 = 1 << 16;

/// Determines the TSC frequency and sets the clock's (`clock::set_tsc_hz`).
/// Bootstrap CPU, once, before the APs start.
pub fn init() -> Frequency {
    *TSC_HZ_SOURCE.call_once(|| {
        // The edge timing is exact under icount and precise otherwise, but
        // a host that stalls the virtual CPU for whole periods can fool
        // it; the count-based measurement cannot be fooled that way, so it
        // decides between the two.
        let (edges, counts) = (measure_tsc_hz(), measure_tsc_hz_by_count());
        let measured = if ppm(edges, counts) <= 5_000 {
            edges
        } else {
            counts
        };
        let f = choose(cpuid_tsc_hz(), measured);
        let f = if f.hz == 0 {
            // No PIT and no CPUID: a guess that keeps the clock running.
            Frequency {
                hz: 1_000_000_000,
                ..f
            }
        } else {
            f
        };
        clock::set_tsc_hz(f.hz);
        INVARIANT.store(super::cpuinfo::features().invariant_tsc, Ordering::Relaxed);
        f
    })
}

/// The TSC frequency and its origin (after [`init`]).
pub fn frequency() -> Frequency {
    *TSC_HZ_SOURCE
        .get()
        .expect("tsc::frequency() before tsc::init()")
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
    let cycles = clock::ns_to_cycles(ns).max(1);
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
/// gmpos needs to know because QEMU 10's TCG aborts ("Bad icount read")
/// when an x2APIC timer register, an MSR that reads the virtual clock, is
/// accessed under icount (its RDMSR/WRMSR are not treated as I/O, unlike
/// port and MMIO accesses), so under icount the local APIC is driven
/// through xAPIC MMIO instead. Tests use it to know when timing is
/// deterministic. QEMU sometimes counts a few extra instructions in one run
/// (seen: 18018 instead of 18009), hence the vote below.
pub fn counts_instructions() -> bool {
    *COUNTS_INSTRUCTIONS.call_once(|| {
        let id = CpuId::new();
        let tcg = id.get_feature_info().is_some_and(|f| f.has_hypervisor())
            && id.get_hypervisor_info().is_none_or(|h| {
                matches!(
                    h.identify(),
                    raw_cpuid::Hypervisor::QEMU | raw_cpuid::Hypervisor::Unknown(0, 0, 0)
                )
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
    v.iter()
        .copied()
        .find(|&x| v.iter().filter(|&&y| y == x).count() >= 3)
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
    (
        WARPS.load(Ordering::Relaxed),
        MAX_WARP.load(Ordering::Relaxed),
    )
}
