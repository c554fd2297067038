//! The IOAPIC(s): device interrupts (GSIs) to a chosen CPU and vector.
//!
//! Legacy ISA IRQs are looked up through the MADT's interrupt source
//! overrides (QEMU, like most PCs, wires the PIT's IRQ 0 to GSI 2), with the
//! polarity and trigger mode the override gives. Every input is masked at
//! boot; [`route_isa`] programs and unmasks one.
//!
//! Handlers of routed vectors (registered with `trap::register`) must call
//! `apic::eoi()`.
use core::ptr::NonNull;

use volatile::VolatilePtr;

use super::acpi::{self, IoApicEntry, IsaRoute};
use super::{irq, percpu};
use crate::layout::phys_to_virt;

/// First vector used for ISA IRQs routed by default (`ISA_VECTOR_BASE + irq`);
/// above the range the masked 8259s were remapped to.
pub const ISA_VECTOR_BASE: u8 = 0x30;

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDTBL: u32 = 0x10;
const RTE_MASKED: u64 = 1 << 16;
const RTE_LEVEL: u64 = 1 << 15;
const RTE_ACTIVE_LOW: u64 = 1 << 13;

/// IOREGSEL/IOWIN is a two-step access: one lock for all IOAPICs, held
/// through [`locked`]. A plain `spin::Mutex` with interrupts off rather than
/// a runtime lock (`lock::IrqSpinLock`), which sits above `arch`: with interrupts
/// off nothing can preempt or interrupt the holder, which is what an
/// `IrqSpinLock` would guarantee, and no caller parks or blocks under it.
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// Runs `f` holding [`LOCK`] with interrupts off on this CPU.
fn locked<R>(f: impl FnOnce() -> R) -> R {
    irq::without(|| {
        let _g = LOCK.lock();
        f()
    })
}

fn reg(base: u64, offset: u64) -> VolatilePtr<'static, u32> {
    // SAFETY: IOAPIC registers are MMIO below 4 GiB, inside the physical
    // mapping; IOREGSEL and IOWIN are 32-bit registers at these offsets.
    unsafe {
        VolatilePtr::new(NonNull::new_unchecked(
            (phys_to_virt(base) as u64 + offset) as *mut u32,
        ))
    }
}

fn read(io: &IoApicEntry, index: u32) -> u32 {
    reg(io.addr, IOREGSEL).write(index);
    reg(io.addr, IOWIN).read()
}

fn write(io: &IoApicEntry, index: u32, value: u32) {
    reg(io.addr, IOREGSEL).write(index);
    reg(io.addr, IOWIN).write(value);
}

/// Number of inputs (redirection entries) of an IOAPIC.
pub fn inputs(io: &IoApicEntry) -> u32 {
    locked(|| ((read(io, REG_VERSION) >> 16) & 0xff) + 1)
}

/// Masks every input of every IOAPIC (bootstrap CPU, once).
pub fn init() {
    for io in acpi::platform().ioapics() {
        let n = inputs(io);
        locked(|| {
            for i in 0..n {
                write(io, REG_REDTBL + 2 * i, RTE_MASKED as u32);
                write(io, REG_REDTBL + 2 * i + 1, 0);
            }
        });
    }
}

/// Why a route could not be programmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// No IOAPIC has this GSI.
    NoSuchGsi(u32),
    /// The CPU index is not online.
    NoSuchCpu(usize),
    /// The CPU's APIC id does not fit the IOAPIC's 8-bit destination.
    DestinationTooWide(u32),
}

fn find(gsi: u32) -> Option<(&'static IoApicEntry, u32)> {
    acpi::platform().ioapics().iter().find_map(|io| {
        let n = inputs(io);
        (gsi >= io.gsi_base && gsi < io.gsi_base + n).then(|| (io, gsi - io.gsi_base))
    })
}

/// How ISA IRQ `irq` reaches the IOAPIC (overrides applied).
pub fn isa_route(irq: u8) -> IsaRoute {
    acpi::platform().isa[irq as usize & 15]
}

/// Routes GSI `gsi` to `vector` on CPU `cpu` (index) with the given
/// polarity and trigger mode, and unmasks it.
pub fn route_gsi(gsi: u32, route: IsaRoute, vector: u8, cpu: usize) -> Result<(), RouteError> {
    if cpu >= super::smp::ncpu() {
        return Err(RouteError::NoSuchCpu(cpu));
    }
    let dest = percpu::cpu(cpu)
        .apic_id
        .load(core::sync::atomic::Ordering::Relaxed);
    if dest > 0xff {
        return Err(RouteError::DestinationTooWide(dest));
    }
    let (io, pin) = find(gsi).ok_or(RouteError::NoSuchGsi(gsi))?;
    let mut low = vector as u64; // fixed delivery, physical destination
    if route.active_low {
        low |= RTE_ACTIVE_LOW;
    }
    if route.level_triggered {
        low |= RTE_LEVEL;
    }
    locked(|| {
        // Mask while the entry is half written.
        write(io, REG_REDTBL + 2 * pin, RTE_MASKED as u32);
        write(io, REG_REDTBL + 2 * pin + 1, dest << 24);
        write(io, REG_REDTBL + 2 * pin, low as u32);
    });
    Ok(())
}

/// Routes ISA IRQ `irq` (honouring the MADT's overrides) to `vector` on CPU
/// `cpu` and unmasks it. Returns the GSI used.
pub fn route_isa(irq: u8, vector: u8, cpu: usize) -> Result<u32, RouteError> {
    let r = isa_route(irq);
    route_gsi(r.gsi, r, vector, cpu)?;
    Ok(r.gsi)
}

fn set_mask(gsi: u32, masked: bool) -> Result<(), RouteError> {
    let (io, pin) = find(gsi).ok_or(RouteError::NoSuchGsi(gsi))?;
    locked(|| {
        let low = read(io, REG_REDTBL + 2 * pin) as u64;
        let low = if masked {
            low | RTE_MASKED
        } else {
            low & !RTE_MASKED
        };
        write(io, REG_REDTBL + 2 * pin, low as u32);
    });
    Ok(())
}

/// Masks GSI `gsi`.
pub fn mask(gsi: u32) -> Result<(), RouteError> {
    set_mask(gsi, true)
}

/// Unmasks GSI `gsi` (keeps its route).
pub fn unmask(gsi: u32) -> Result<(), RouteError> {
    set_mask(gsi, false)
}

/// Masks ISA IRQ `irq`.
pub fn mask_isa(irq: u8) -> Result<(), RouteError> {
    mask(isa_route(irq).gsi)
}

/// Unmasks ISA IRQ `irq`.
pub fn unmask_isa(irq: u8) -> Result<(), RouteError> {
    unmask(isa_route(irq).gsi)
}
