//! The per-CPU timer: the local APIC timer, periodic or one-shot.
//!
//! One-shot uses TSC-deadline mode when the CPU has it (the deadline is a
//! TSC value: no 32-bit range limit, and computed as the exact inverse of
//! `now_ns`, so it fires exactly when `now_ns()` reaches the deadline), else
//! the APIC's one-shot count, converted with the calibrated APIC timer
//! frequency and rounded up. Either way a one-shot never reaches the tick
//! handler early: if the interrupt comes before the deadline (count clamped
//! to 32 bits, calibration error), the handler re-arms for the rest and
//! returns. Both conversions saturate (`clock::convert`): a far deadline
//! (`sleep(Duration::MAX)`) never wraps into the past, which with a TSC
//! deadline would make every re-arm fire at once (an interrupt storm).
//!
//! Every CPU's timer interrupt goes to the one tick handler the scheduler
//! installs ([`set_tick_handler`]), after the EOI: the handler may rewrite
//! the interrupted context (preemption) and need not know about the APIC.
//!
//! The APIC timer frequency is, like the TSC's, taken from CPUID (leaf
//! 0x15's crystal, which clocks the APIC timer on CPUs that report it, or
//! the hypervisor's leaf 0x40000010) when that agrees with a measurement,
//! else measured: against the TSC, whose frequency is known by then (from
//! CPUID or the PIT). It is the same on every CPU (one bus clock).
use core::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use raw_cpuid::CpuId;

use super::apic::{self, LVT_MASKED, reg};
use super::percpu::{self, MAX_CPUS};
use super::trap::{self, TrapFrame};
use super::tsc::{self, Frequency, Source};
use crate::clock::{self, convert};

/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 0xef;

const LVT_PERIODIC: u32 = 1 << 17;
const LVT_TSC_DEADLINE: u32 = 2 << 17;
/// Divide configuration value for "divide by 1".
const DIVIDE_BY_1: u32 = 0b1011;
const IA32_TSC_DEADLINE: u32 = 0x6e0;

const MODE_OFF: u8 = 0;
const MODE_PERIODIC: u8 = 1;
const MODE_ONESHOT: u8 = 2;

/// One CPU's timer state (a cache line each: written by its own CPU only).
#[repr(C, align(64))]
struct CpuTimer {
    mode: AtomicU8,
    /// One-shot deadline, `clock::now_ns()` scale.
    deadline_ns: AtomicU64,
    /// Timer interrupts delivered to the tick handler.
    ticks: AtomicU64,
    /// Early one-shot interrupts that were re-armed.
    rearms: AtomicU64,
    /// Every timer interrupt taken (delivered, re-armed or stale).
    interrupts: AtomicU64,
}

static TIMERS: [CpuTimer; MAX_CPUS] = [const {
    CpuTimer {
        mode: AtomicU8::new(MODE_OFF),
        deadline_ns: AtomicU64::new(0),
        ticks: AtomicU64::new(0),
        rearms: AtomicU64::new(0),
        interrupts: AtomicU64::new(0),
    }
}; MAX_CPUS];

static APIC_HZ: spin::Once<Frequency> = spin::Once::new();
static TSC_DEADLINE: AtomicU8 = AtomicU8::new(0);
static TICK_HANDLER: AtomicUsize = AtomicUsize::new(0);

fn apic_hz() -> u64 {
    APIC_HZ.get().map_or(0, |f| f.hz)
}

/// The APIC timer frequency (counts per second at divide-by-1) and its
/// origin (after [`calibrate`]).
pub fn frequency() -> Frequency {
    *APIC_HZ
        .get()
        .expect("timer::frequency() before timer::calibrate()")
}

/// Is one-shot mode using the TSC deadline?
pub fn uses_tsc_deadline() -> bool {
    TSC_DEADLINE.load(Ordering::Relaxed) != 0
}

/// What CPUID says the APIC timer frequency is.
fn cpuid_apic_hz() -> Option<(Source, u64)> {
    let id = CpuId::new();
    if let Some(info) = id.get_tsc_info() {
        let crystal = info.nominal_frequency() as u64;
        if crystal != 0 {
            return Some((Source::Cpuid15, crystal));
        }
    }
    if let Some(hv) = id.get_hypervisor_info()
        && let Some(khz) = hv.apic_frequency()
        && khz != 0
    {
        return Some((Source::Hypervisor, khz as u64 * 1000));
    }
    None
}

/// The APIC timer's count rate measured against the TSC (whose frequency
/// is known by now): median of five 10 ms windows.
fn measure_apic_hz() -> u64 {
    let mut rates = [0u64; 5];
    apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_1);
    for r in rates.iter_mut() {
        *r = measure_by_count();
    }
    apic::write(reg::LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    apic::write(reg::TIMER_INITIAL, 0);
    rates.sort_unstable();
    rates[2]
}

/// Reads the current count at both ends of 10 ms of TSC time. Each end is
/// the midpoint of two TSC reads around the APIC read (slow under
/// emulation), the tightest of a few tries (the host may deschedule the
/// virtual CPU in between). (Under QEMU's icount this read must be MMIO:
/// see `tsc::counts_instructions`.)
fn measure_by_count() -> u64 {
    let sample = || {
        let mut best = (u64::MAX, 0u64, 0u32);
        for _ in 0..8 {
            let a = tsc::rdtsc_ordered();
            let count = apic::read(reg::TIMER_CURRENT);
            let b = tsc::rdtsc_ordered();
            if b - a < best.0 {
                best = (b - a, a + (b - a) / 2, count);
            }
        }
        (best.1, best.2)
    };
    apic::write(reg::LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    apic::write(reg::TIMER_INITIAL, u32::MAX);
    let (t0, c0) = sample();
    tsc::delay_us(10_000);
    let (t1, c1) = sample();
    ((c0 - c1) as u128 * clock::tsc_hz() as u128 / (t1 - t0).max(1) as u128) as u64
}

/// Determines the APIC timer frequency and registers the timer vector
/// (bootstrap CPU, once, after `tsc::init`).
pub fn calibrate() -> Frequency {
    *APIC_HZ.call_once(|| {
        trap::register(TIMER_VECTOR, on_timer);
        let f = super::cpuinfo::features();
        TSC_DEADLINE.store(f.tsc_deadline as u8, Ordering::Relaxed);
        let mut f = tsc::choose(cpuid_apic_hz(), measure_apic_hz());
        if f.source == Source::Pit {
            f.source = Source::Tsc;
        }
        f
    })
}

/// Puts this CPU's timer in a known state: divide by 1, masked, stopped.
pub fn init_this_cpu() {
    apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_1);
    apic::write(reg::LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    apic::write(reg::TIMER_INITIAL, 0);
    TIMERS[percpu::cpu_index()]
        .mode
        .store(MODE_OFF, Ordering::Relaxed);
}

/// Installs the function every timer interrupt on every CPU calls (after
/// the EOI, with interrupts off, on the interrupt stack).
pub fn set_tick_handler(handler: fn(&mut TrapFrame)) {
    TICK_HANDLER.store(handler as usize, Ordering::Release);
}

/// The installed tick handler, if any (to restore it after replacing it).
pub fn tick_handler() -> Option<fn(&mut TrapFrame)> {
    let h = TICK_HANDLER.load(Ordering::Acquire);
    // SAFETY: only `set_tick_handler` stores a non-zero value, always a
    // valid `fn(&mut TrapFrame)`.
    (h != 0).then(|| unsafe { core::mem::transmute::<usize, fn(&mut TrapFrame)>(h) })
}

/// Removes the tick handler (timer interrupts are then only counted).
pub fn clear_tick_handler() {
    TICK_HANDLER.store(0, Ordering::Release);
}

/// Timer interrupts CPU `cpu` has delivered to the tick handler.
pub fn ticks(cpu: usize) -> u64 {
    TIMERS[cpu].ticks.load(Ordering::Relaxed)
}

/// Early one-shot interrupts CPU `cpu` re-armed (APIC count mode).
pub fn rearms(cpu: usize) -> u64 {
    TIMERS[cpu].rearms.load(Ordering::Relaxed)
}

/// Every timer interrupt CPU `cpu` took: delivered, re-armed early ones and
/// stale ones (an interrupt storm shows here whatever its cause).
pub fn interrupts(cpu: usize) -> u64 {
    TIMERS[cpu].interrupts.load(Ordering::Relaxed)
}

/// Makes this CPU's timer interrupt `hz` times per second until [`stop`] or
/// [`set_oneshot_ns`].
pub fn set_periodic_hz(hz: u32) {
    assert!(hz > 0, "timer: 0 Hz");
    let count = (apic_hz() / hz as u64).clamp(1, u32::MAX as u64) as u32;
    super::irq::without(|| {
        let t = &TIMERS[percpu::cpu_index()];
        disarm();
        t.mode.store(MODE_PERIODIC, Ordering::Relaxed);
        apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_1);
        apic::write(reg::LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR as u32);
        apic::write(reg::TIMER_INITIAL, count);
    });
}

/// Makes this CPU's timer interrupt once, at `deadline_ns` on the
/// `clock::now_ns()` scale (never before it). A deadline already passed
/// interrupts at once. Replaces any earlier setting.
pub fn set_oneshot_ns(deadline_ns: u64) {
    super::irq::without(|| {
        let t = &TIMERS[percpu::cpu_index()];
        disarm();
        t.deadline_ns.store(deadline_ns, Ordering::Relaxed);
        t.mode.store(MODE_ONESHOT, Ordering::Relaxed);
        arm_oneshot(deadline_ns);
    });
}

/// Stops this CPU's timer.
pub fn stop() {
    super::irq::without(|| {
        disarm();
        TIMERS[percpu::cpu_index()]
            .mode
            .store(MODE_OFF, Ordering::Relaxed);
    });
}

/// Masks and stops the APIC timer (both count and deadline modes).
fn disarm() {
    apic::write(reg::LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    apic::write(reg::TIMER_INITIAL, 0);
    if uses_tsc_deadline() {
        // SAFETY: the CPU has the TSC-deadline MSR (CPUID); 0 disarms it.
        unsafe { ::x86_64::registers::model_specific::Msr::new(IA32_TSC_DEADLINE).write(0) };
    }
}

fn arm_oneshot(deadline_ns: u64) {
    if uses_tsc_deadline() {
        let tsc = convert::tsc_deadline(
            clock::tsc_at_boot(),
            deadline_ns,
            clock::ns_per_cycle_fp32(),
        );
        apic::write(reg::LVT_TIMER, LVT_TSC_DEADLINE | TIMER_VECTOR as u32);
        // SAFETY: the fence orders the LVT write before the MSR write (the
        // SDM requires the mode to be set first); writing the deadline MSR
        // arms the timer, which is what the caller asks for.
        unsafe {
            core::arch::asm!("mfence", options(nostack, preserves_flags));
            ::x86_64::registers::model_specific::Msr::new(IA32_TSC_DEADLINE).write(tsc);
        }
    } else {
        let delta = deadline_ns.saturating_sub(clock::now_ns());
        let count = convert::apic_count(delta, apic_hz());
        apic::write(reg::LVT_TIMER, TIMER_VECTOR as u32);
        apic::write(reg::TIMER_INITIAL, count);
    }
}

fn on_timer(frame: &mut TrapFrame) {
    let t = &TIMERS[percpu::cpu_index()];
    t.interrupts.fetch_add(1, Ordering::Relaxed);
    match t.mode.load(Ordering::Relaxed) {
        MODE_PERIODIC => {}
        MODE_ONESHOT => {
            let deadline = t.deadline_ns.load(Ordering::Relaxed);
            if clock::now_ns() < deadline {
                t.rearms.fetch_add(1, Ordering::Relaxed);
                arm_oneshot(deadline);
                apic::eoi();
                return;
            }
            t.mode.store(MODE_OFF, Ordering::Relaxed);
        }
        _ => {
            // Raised before the timer was stopped or reprogrammed: stale.
            apic::eoi();
            return;
        }
    }
    t.ticks.fetch_add(1, Ordering::Relaxed);
    apic::eoi();
    // The tick is a TLB-epoch flush point: a CPU running one goroutine for
    // a long time passes one at least every busy tick (1 ms).
    super::tlb::flush_point();
    let h = TICK_HANDLER.load(Ordering::Acquire);
    if h != 0 {
        // SAFETY: only `set_tick_handler` stores here, always a valid
        // `fn(&mut TrapFrame)`.
        let h: fn(&mut TrapFrame) = unsafe { core::mem::transmute::<usize, fn(&mut TrapFrame)>(h) };
        h(frame);
    }
}
