//! ACPI: what the machine is made of, from the MADT.
//!
//! The `acpi` crate walks the RSDP -> XSDT/RSDT -> MADT chain and iterates the
//! MADT's entries; this module keeps what gmpos needs in a fixed-size
//! [`Platform`] (no heap: the tables are read once at boot, and CPU bring-up
//! must not depend on allocator state):
//! - every *enabled* local APIC and local x2APIC entry (the CPUs),
//! - the IOAPICs and their GSI ranges,
//! - the ISA interrupt source overrides (e.g. the PIT's IRQ 0 -> GSI 2),
//! - the local APIC's physical address (with the 64-bit override if any).
//!
//! Physical memory is reached through the bootloader's mapping at
//! `PHYS_OFFSET`, which covers at least the first 4 GiB (tables and MMIO
//! included), so the handler never maps or unmaps anything.
use core::ptr::NonNull;

use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use spin::Once;

use super::percpu::MAX_CPUS;
use crate::layout::phys_to_virt;

/// The IOAPICs gmpos can drive (PCs have one or two).
pub const MAX_IOAPICS: usize = 8;
/// ISA IRQs (interrupt source overrides are only defined for these).
pub const ISA_IRQS: usize = 16;
/// Where the local APIC lives when the firmware does not say otherwise.
pub const DEFAULT_LAPIC_ADDR: u64 = 0xfee0_0000;
/// Where the first IOAPIC lives on PCs without a MADT.
pub const DEFAULT_IOAPIC_ADDR: u64 = 0xfec0_0000;

/// A CPU listed in the MADT.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuEntry {
    /// Local APIC id (x2APIC id for x2APIC entries).
    pub apic_id: u32,
}

/// An IOAPIC listed in the MADT.
#[derive(Debug, Clone, Copy, Default)]
pub struct IoApicEntry {
    pub id: u8,
    pub addr: u64,
    pub gsi_base: u32,
}

/// How an ISA IRQ reaches the IOAPIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsaRoute {
    /// Global system interrupt (IOAPIC input, counting across IOAPICs).
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

/// What the MADT says, kept in fixed-size arrays.
pub struct Platform {
    /// Enabled CPUs in MADT order, at most `MAX_CPUS` (the bootstrap CPU is
    /// among them, wherever the MADT lists it).
    pub cpus: [CpuEntry; MAX_CPUS],
    pub ncpus: usize,
    /// Enabled CPUs in the MADT, including those beyond `MAX_CPUS`.
    pub ncpus_found: usize,
    /// The bootstrap CPU came after the first `MAX_CPUS` in MADT order and
    /// replaced the last kept entry (it is never dropped: it is running).
    pub bsp_was_dropped: bool,
    pub ioapics: [IoApicEntry; MAX_IOAPICS],
    pub nioapics: usize,
    /// ISA IRQ -> route, with the MADT's overrides applied.
    pub isa: [IsaRoute; ISA_IRQS],
    /// Number of interrupt source overrides in the MADT.
    pub noverrides: usize,
    pub lapic_addr: u64,
    /// The MADT says the PC's dual 8259 PICs are present (they are masked).
    pub has_8259: bool,
    /// False when there was no usable MADT and these are the PC defaults.
    pub from_madt: bool,
}

impl Platform {
    const fn defaults() -> Self {
        let mut isa = [IsaRoute {
            gsi: 0,
            active_low: false,
            level_triggered: false,
        }; ISA_IRQS];
        let mut i = 0;
        while i < ISA_IRQS {
            isa[i].gsi = i as u32;
            i += 1;
        }
        Platform {
            cpus: [CpuEntry { apic_id: 0 }; MAX_CPUS],
            ncpus: 0,
            ncpus_found: 0,
            bsp_was_dropped: false,
            ioapics: [IoApicEntry {
                id: 0,
                addr: 0,
                gsi_base: 0,
            }; MAX_IOAPICS],
            nioapics: 0,
            isa,
            noverrides: 0,
            lapic_addr: DEFAULT_LAPIC_ADDR,
            has_8259: true,
            from_madt: false,
        }
    }

    /// The enabled CPUs gmpos runs on.
    pub fn cpus(&self) -> &[CpuEntry] {
        &self.cpus[..self.ncpus]
    }

    /// The IOAPICs.
    pub fn ioapics(&self) -> &[IoApicEntry] {
        &self.ioapics[..self.nioapics]
    }
}

static PLATFORM: Once<Platform> = Once::new();

/// The platform description (after [`discover`]).
pub fn platform() -> &'static Platform {
    PLATFORM
        .get()
        .expect("acpi::platform() before acpi::discover()")
}

/// Maps physical memory for the `acpi` crate: everything it reads (RSDP,
/// XSDT, MADT...) is below 4 GiB, where the bootloader's physical-memory
/// mapping already is.
#[derive(Clone, Copy, Debug)]
struct PhysMap;

impl AcpiHandler for PhysMap {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let va = phys_to_virt(physical_address as u64) as *mut T;
        // SAFETY: all physical memory below 4 GiB (and all RAM) is mapped at
        // PHYS_OFFSET for the kernel's lifetime, so `va` is valid for `size`
        // bytes and never needs unmapping; it is not null (upper half).
        unsafe {
            PhysicalMapping::new(
                physical_address,
                NonNull::new_unchecked(va),
                size,
                size,
                *self,
            )
        }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// Why the MADT could not be used (printed with `{:?}` in the boot report,
/// which the dead-code lint does not count as a read).
#[derive(Debug)]
#[allow(dead_code)]
pub enum DiscoverError {
    NoRsdp,
    Acpi(acpi::AcpiError),
}

/// Reads the MADT (from `rsdp`, the RSDP's physical address given by the
/// bootloader) once, on the bootstrap CPU. `bsp_apic_id` keeps the bootstrap
/// CPU in the list when the MADT has more than `MAX_CPUS` CPUs. Without a
/// usable MADT the platform is a PC's defaults with only the bootstrap CPU;
/// the error says why.
pub fn discover(rsdp: Option<u64>, bsp_apic_id: u32) -> (&'static Platform, Option<DiscoverError>) {
    let mut err = None;
    let p = PLATFORM.call_once(|| {
        let mut p = Platform::defaults();
        match read_madt(rsdp, bsp_apic_id, &mut p) {
            Ok(()) => p.from_madt = true,
            Err(e) => {
                err = Some(e);
                p = Platform::defaults();
                p.cpus[0] = CpuEntry {
                    apic_id: bsp_apic_id,
                };
                p.ncpus = 1;
                p.ncpus_found = 1;
                p.ioapics[0] = IoApicEntry {
                    id: 0,
                    addr: DEFAULT_IOAPIC_ADDR,
                    gsi_base: 0,
                };
                p.nioapics = 1;
                // A PC's PIT is wired to IOAPIC input 2.
                p.isa[0].gsi = 2;
            }
        }
        p
    });
    (p, err)
}

fn read_madt(rsdp: Option<u64>, bsp_apic_id: u32, p: &mut Platform) -> Result<(), DiscoverError> {
    let rsdp = rsdp.ok_or(DiscoverError::NoRsdp)?;
    // SAFETY: the bootloader found this RSDP (it validates the signature and
    // checksum again); all it points to is readable through PhysMap.
    let tables =
        unsafe { AcpiTables::from_rsdp(PhysMap, rsdp as usize) }.map_err(DiscoverError::Acpi)?;
    let madt = tables.find_table::<Madt>().map_err(DiscoverError::Acpi)?;
    let madt = madt.get();
    p.lapic_addr = madt.local_apic_address as u64;
    p.has_8259 = madt.supports_8259();
    let mut bsp_listed = false;
    for entry in madt.entries() {
        match entry {
            MadtEntry::LocalApic(e) => {
                let flags = e.flags;
                if flags & 1 != 0 {
                    add_cpu(
                        p,
                        CpuEntry {
                            apic_id: e.apic_id as u32,
                        },
                    );
                    bsp_listed |= e.apic_id as u32 == bsp_apic_id;
                }
            }
            MadtEntry::LocalX2Apic(e) => {
                let (flags, id) = (e.flags, e.x2apic_id);
                if flags & 1 != 0 {
                    add_cpu(p, CpuEntry { apic_id: id });
                    bsp_listed |= id == bsp_apic_id;
                }
            }
            MadtEntry::IoApic(e) => {
                if p.nioapics < MAX_IOAPICS {
                    p.ioapics[p.nioapics] = IoApicEntry {
                        id: e.io_apic_id,
                        addr: e.io_apic_address as u64,
                        gsi_base: e.global_system_interrupt_base,
                    };
                    p.nioapics += 1;
                } else {
                    log::warn!(
                        "acpi: more than {MAX_IOAPICS} IOAPICs; ignoring IOAPIC {}",
                        e.io_apic_id
                    );
                }
            }
            MadtEntry::InterruptSourceOverride(e) => {
                let (bus, irq, gsi, flags) = (e.bus, e.irq, e.global_system_interrupt, e.flags);
                if bus == 0 && (irq as usize) < ISA_IRQS {
                    // MPS INTI flags: polarity in bits 0-1 (3 = active low),
                    // trigger mode in bits 2-3 (3 = level); 0 means "as the
                    // bus says", and ISA is edge-triggered, active high.
                    p.isa[irq as usize] = IsaRoute {
                        gsi,
                        active_low: flags & 3 == 3,
                        level_triggered: (flags >> 2) & 3 == 3,
                    };
                    p.noverrides += 1;
                }
            }
            MadtEntry::LocalApicAddressOverride(e) => p.lapic_addr = e.local_apic_address,
            _ => {}
        }
    }
    if !bsp_listed {
        log::warn!("acpi: the bootstrap CPU (APIC id {bsp_apic_id}) is not in the MADT; adding it");
        add_cpu(
            p,
            CpuEntry {
                apic_id: bsp_apic_id,
            },
        );
    }
    // Keep the bootstrap CPU when the list was cut at MAX_CPUS.
    if p.ncpus_found > p.ncpus && !p.cpus().iter().any(|c| c.apic_id == bsp_apic_id) {
        p.cpus[MAX_CPUS - 1] = CpuEntry {
            apic_id: bsp_apic_id,
        };
        p.bsp_was_dropped = true;
    }
    Ok(())
}

fn add_cpu(p: &mut Platform, cpu: CpuEntry) {
    // Firmware may list a CPU twice (local APIC and local x2APIC entries).
    if p.cpus().iter().any(|c| c.apic_id == cpu.apic_id) {
        return;
    }
    p.ncpus_found += 1;
    if p.ncpus < MAX_CPUS {
        p.cpus[p.ncpus] = cpu;
        p.ncpus += 1;
    }
}
