//! The local APIC, one interface over both access methods:
//! - x2APIC (registers are MSRs `0x800 + offset/16`, 32-bit APIC ids, one
//!   64-bit ICR write per IPI) when CPUID offers it,
//! - xAPIC (4 KiB of MMIO at the MADT's address, read and written with
//!   `volatile`, 8-bit APIC ids, the ICR split in two halves) otherwise.
//!
//! The mode is chosen once on the bootstrap CPU and every CPU enables the same
//! one. Register numbers below are the xAPIC MMIO offsets; the x2APIC MSR is
//! derived from them.
//!
//! Vectors owned here: the spurious vector (never acknowledged) and the
//! error vector. Other vectors: see `ipi.rs` and `timer.rs`.
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ::x86_64::registers::model_specific::Msr;
use volatile::VolatilePtr;

use super::trap::{self, SPURIOUS_VECTOR, TrapFrame};
use crate::layout::phys_to_virt;

/// Local APIC error interrupt.
pub const ERROR_VECTOR: u8 = 0xfe;

/// Register offsets (xAPIC MMIO layout).
pub mod reg {
    pub const ID: u32 = 0x20;
    pub const VERSION: u32 = 0x30;
    pub const TPR: u32 = 0x80;
    pub const EOI: u32 = 0xb0;
    pub const SVR: u32 = 0xf0;
    pub const ESR: u32 = 0x280;
    pub const ICR: u32 = 0x300;
    pub const ICR_HIGH: u32 = 0x310;
    pub const LVT_TIMER: u32 = 0x320;
    pub const LVT_LINT0: u32 = 0x350;
    pub const LVT_LINT1: u32 = 0x360;
    pub const LVT_ERROR: u32 = 0x370;
    pub const TIMER_INITIAL: u32 = 0x380;
    pub const TIMER_CURRENT: u32 = 0x390;
    pub const TIMER_DIVIDE: u32 = 0x3e0;
}

/// LVT mask bit.
pub const LVT_MASKED: u32 = 1 << 16;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_EXTD: u64 = 1 << 10;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const X2APIC_MSR_BASE: u32 = 0x800;

/// ICR fields.
mod icr {
    pub const FIXED: u32 = 0 << 8;
    pub const NMI: u32 = 4 << 8;
    pub const INIT: u32 = 5 << 8;
    pub const STARTUP: u32 = 6 << 8;
    pub const DELIVERY_PENDING: u32 = 1 << 12;
    pub const ASSERT: u32 = 1 << 14;
    pub const LEVEL: u32 = 1 << 15;
    pub const ALL_BUT_SELF: u32 = 3 << 18;
}

static X2APIC: AtomicBool = AtomicBool::new(false);
/// Virtual address of the xAPIC registers (through the physical mapping).
static MMIO: AtomicU64 = AtomicU64::new(0);
/// Local APIC errors seen (ESR values OR-ed), for reports and tests.
static ERRORS: AtomicU64 = AtomicU64::new(0);

/// Chooses x2APIC or xAPIC for every CPU (bootstrap CPU, once, before any
/// other function here). `phys` is the MADT's local APIC address.
pub fn select_mode(x2apic: bool, phys: u64) {
    X2APIC.store(x2apic, Ordering::Relaxed);
    MMIO.store(phys_to_virt(phys) as u64, Ordering::Relaxed);
}

/// Is the local APIC driven through x2APIC MSRs?
#[inline]
pub fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

fn mmio(offset: u32) -> VolatilePtr<'static, u32> {
    let p = (MMIO.load(Ordering::Relaxed) + offset as u64) as *mut u32;
    // SAFETY: the xAPIC register page is mapped (the physical mapping covers
    // the first 4 GiB; MTRRs make the APIC range uncacheable) and every
    // offset used here is a 16-byte aligned register inside it.
    unsafe { VolatilePtr::new(NonNull::new_unchecked(p)) }
}

/// Reads a local APIC register of this CPU.
#[inline]
pub fn read(offset: u32) -> u32 {
    if is_x2apic() {
        // SAFETY: x2APIC mode is on for this CPU; the MSR is the register.
        unsafe { Msr::new(X2APIC_MSR_BASE + (offset >> 4)).read() as u32 }
    } else {
        mmio(offset).read()
    }
}

/// Writes a local APIC register of this CPU.
#[inline]
pub fn write(offset: u32, value: u32) {
    if is_x2apic() {
        // SAFETY: x2APIC mode is on for this CPU; writing the register is
        // what the caller asks for.
        unsafe { Msr::new(X2APIC_MSR_BASE + (offset >> 4)).write(value as u64) }
    } else {
        mmio(offset).write(value)
    }
}

/// This CPU's local APIC id (32 bits in x2APIC mode, 8 in xAPIC mode).
pub fn id() -> u32 {
    let v = read(reg::ID);
    if is_x2apic() { v } else { v >> 24 }
}

/// The APIC id from CPUID (usable before the local APIC is set up): the
/// x2APIC id from leaf 0xb when present, else the 8-bit initial id.
pub fn cpuid_apic_id() -> u32 {
    let id = raw_cpuid::CpuId::new();
    if let Some(mut topo) = id.get_extended_topology_info()
        && let Some(level) = topo.next()
    {
        return level.x2apic_id();
    }
    id.get_feature_info()
        .map_or(0, |f| f.initial_local_apic_id() as u32)
}

/// Signals end of interrupt to this CPU's local APIC. Every handler of a
/// local APIC or IOAPIC vector calls it once (not for the spurious vector).
#[inline]
pub fn eoi() {
    write(reg::EOI, 0);
}

/// Enables this CPU's local APIC in the selected mode: software enable with
/// the spurious vector, all priorities accepted, LINT0 masked (the 8259s are
/// masked; gmpos uses the IOAPIC), LINT1 as NMI (QEMU's `nmi` monitor command,
/// which the runner uses for its timeout dump, arrives through LINT1), error
/// interrupts on [`ERROR_VECTOR`], the timer masked.
pub fn enable_this_cpu() {
    let base_msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU with an APIC.
    let mut base = unsafe { base_msr.read() };
    base |= APIC_BASE_ENABLE;
    if is_x2apic() {
        // xAPIC -> x2APIC is a legal transition (enabled, then EXTD).
        // SAFETY: as above; the APIC was enabled first, as the SDM requires.
        unsafe {
            let mut m = Msr::new(IA32_APIC_BASE);
            m.write(base);
            m.write(base | APIC_BASE_EXTD);
        }
    } else {
        // SAFETY: as above; sets only the global enable bit.
        unsafe { Msr::new(IA32_APIC_BASE).write(base) };
    }
    write(reg::TPR, 0);
    write(reg::LVT_TIMER, LVT_MASKED);
    write(reg::LVT_LINT0, LVT_MASKED);
    write(reg::LVT_LINT1, icr::NMI);
    write(reg::LVT_ERROR, ERROR_VECTOR as u32);
    // Clear stale errors (the ESR latches on a write).
    write(reg::ESR, 0);
    write(reg::ESR, 0);
    write(reg::SVR, 0x100 | SPURIOUS_VECTOR as u32);
    // Acknowledge anything left in service by the firmware.
    eoi();
}

/// Registers the error handler (once, on the bootstrap CPU).
pub fn register_handlers() {
    trap::register(ERROR_VECTOR, on_error);
}

fn on_error(_: &mut TrapFrame) {
    write(reg::ESR, 0);
    let esr = read(reg::ESR);
    if ERRORS.fetch_or(esr as u64, Ordering::Relaxed) & esr as u64 != esr as u64 {
        super::serial::emergency(format_args!(
            "apic: local APIC error {esr:#x} on cpu {}\n",
            super::percpu::cpu_index()
        ));
    }
    eoi();
}

/// Local APIC error bits seen so far on any CPU (0: none).
pub fn errors() -> u64 {
    ERRORS.load(Ordering::Relaxed)
}

/// Writes the ICR: `low` is the command, `dest` the destination APIC id.
fn send(dest: u32, low: u32) {
    if is_x2apic() {
        // x2APIC MSR writes are not serializing: make earlier stores visible
        // before the target can run its handler (Linux's weak_wrmsr_fence).
        // SAFETY: fences have no other effect; the ICR write sends the IPI
        // the caller asked for.
        unsafe {
            core::arch::asm!("mfence", "lfence", options(nostack, preserves_flags));
            Msr::new(X2APIC_MSR_BASE + (reg::ICR >> 4)).write(((dest as u64) << 32) | low as u64);
        }
    } else {
        // The two halves must not be split by an interrupt handler that
        // sends an IPI of its own.
        super::irq::without(|| {
            wait_icr_idle();
            write(reg::ICR_HIGH, dest << 24);
            write(reg::ICR, low);
        });
    }
}

fn wait_icr_idle() {
    if is_x2apic() {
        return;
    }
    while read(reg::ICR) & icr::DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
}

/// Sends a fixed interrupt with `vector` to the CPU with APIC id `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    send(dest, icr::FIXED | icr::ASSERT | vector as u32);
}

/// Sends a fixed interrupt with `vector` to every CPU except this one.
pub fn send_ipi_all_but_self(vector: u8) {
    send(
        0,
        icr::FIXED | icr::ASSERT | icr::ALL_BUT_SELF | vector as u32,
    );
}

/// Sends an NMI to the CPU with APIC id `dest`.
pub fn send_nmi(dest: u32) {
    send(dest, icr::NMI | icr::ASSERT);
}

/// INIT (assert) to `dest`: the CPU resets and waits for a start-up IPI.
pub fn send_init(dest: u32) {
    send(dest, icr::INIT | icr::ASSERT | icr::LEVEL);
    wait_icr_idle();
}

/// INIT level de-assert, which the MP specification sends after INIT on
/// xAPIC systems (x2APIC has no de-assert).
pub fn send_init_deassert(dest: u32) {
    if !is_x2apic() {
        send(dest, icr::INIT | icr::LEVEL);
        wait_icr_idle();
    }
}

/// Start-up IPI: `dest` starts in real mode at `page << 12`.
pub fn send_startup(dest: u32, page: u8) {
    send(dest, icr::STARTUP | icr::ASSERT | page as u32);
    wait_icr_idle();
}
