//! Platform bring-up and the other CPUs: ACPI discovery, local APIC and
//! IOAPIC, TSC and APIC-timer frequencies, IPIs, then INIT-SIPI-SIPI for
//! every application processor (AP) listed in the MADT.
//!
//! APs are started one at a time through the low-memory trampoline
//! (`trampoline.rs`): the bootstrap CPU (BSP) allocates the AP's boot stack
//! and IST stacks (all with guard pages), patches the trampoline's parameter
//! block and sends the start-up IPIs; the AP installs its per-CPU block,
//! copies the BSP's control registers, loads its own GDT/TSS and the IDT,
//! enables its local APIC and timer, and reports in; then the next AP
//! starts. CPU indices are dense: an AP that does not report in within
//! [`AP_TIMEOUT_MS`] is named, put back into INIT (so it cannot run the
//! trampoline later with a reused index) and its index goes to the next AP.
//!
//! Start-up timing follows the Intel MP specification (B.4): INIT, 10 ms,
//! start-up IPI, 200 us, a second start-up IPI, 200 us. The INITs go to all
//! APs at once, so the 10 ms are paid once.
//!
//! Vectors: 0x30.. ISA IRQs (`ioapic`), 0xef timer, 0xf0 wake-up,
//! 0xf1 cross-call, 0xfe APIC error, 0xff spurious.
//!
//! Under QEMU 10 (TCG):
//! - with `-icount shift=0` (the virtual CPUs run round-robin on one host
//!   thread, time counts instructions) AP start-up works at -smp 2 and 4,
//!   with QEMU's default CPU model and with `-cpu max` (the
//!   `smp_icount` test). The one limit found: TCG aborts with "Bad icount
//!   read" when an x2APIC timer register (an MSR) is accessed under icount,
//!   because RDMSR/WRMSR are not treated as I/O there; gmpos detects icount
//!   (`tsc::counts_instructions`) and keeps to xAPIC MMIO then.
//! - every `pause` leaves the translated code (and, multi-threaded, retakes
//!   QEMU's global lock), so waits that pause on every poll are slow when
//!   several CPUs spin; see `ipi::POLLS_PER_PAUSE` and `tsc::pace`.
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ::x86_64::registers::control::{Cr0, Cr4, Efer};

use super::acpi::{self, CpuEntry};
use super::serial::arch_println;
use super::trampoline::{self, STAGE_NAMES, Trampoline};
use super::{apic, cpuinfo, gdt, ioapic, ipi, percpu, timer, trap, tsc};
use crate::arch::Upcall;

/// Each AP's boot stack (the stack `ap_main` runs on), with a guard page.
pub const AP_STACK_SIZE: u64 = 64 * 1024;
/// How long an AP gets, from its first start-up IPI, to report in.
pub const AP_TIMEOUT_MS: u64 = 1000;
/// Where the trampoline goes if that memory is usable (the usual place).
const TRAMPOLINE_BASE: u64 = 0x8000;
/// CR4 bit of 5-level paging.
const CR4_LA57: u64 = 1 << 12;
/// TSC agreement check: samples per CPU.
const WARP_CHECK_ITERATIONS: u32 = 2000;

static ONLINE_MASK: AtomicU64 = AtomicU64::new(1);
static NCPU: AtomicUsize = AtomicUsize::new(1);
static NCPU_FOUND: AtomicUsize = AtomicUsize::new(1);

/// The BSP's CR0, CR4 and EFER, which every AP copies (caching on, NX,
/// write protection, whatever the bootloader enabled).
static BSP_CR0: AtomicU64 = AtomicU64::new(0);
static BSP_CR4: AtomicU64 = AtomicU64::new(0);
static BSP_EFER: AtomicU64 = AtomicU64::new(0);

/// CPUs online (the BSP and every AP that reported in). CPU indices are
/// `0..ncpu()`.
pub fn ncpu() -> usize {
    NCPU.load(Ordering::Acquire)
}

/// Enabled CPUs listed in the MADT (may exceed `ncpu()`: CPUs that did not
/// start, or beyond `MAX_CPUS`).
pub fn ncpu_found() -> usize {
    NCPU_FOUND.load(Ordering::Relaxed)
}

/// Bit i set = CPU index i is online.
pub fn online_mask() -> u64 {
    ONLINE_MASK.load(Ordering::Acquire)
}

/// CPU `cpu`'s local APIC id.
pub fn apic_id(cpu: usize) -> u32 {
    percpu::cpu(cpu).apic_id.load(Ordering::Relaxed)
}

/// What a kernel stack allocated for an AP is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// The AP's boot stack ([`AP_STACK_SIZE`] bytes): `main` runs on it.
    ApBoot,
    /// One of its IST stacks (`gdt::IST_STACK_SIZE` bytes).
    Ist,
}

/// What [`init`] needs from the kernel to start the APs: `arch` does not
/// allocate memory and does not know the scheduler.
#[derive(Clone, Copy)]
pub struct ApStart {
    /// Where every AP ends up once its GDT, TSS, IDT and local APIC are set
    /// up, with its CPU index, on its boot stack, interrupts on (an upcall:
    /// `init::ap_main`).
    pub main: fn(usize) -> !,
    /// Maps a kernel stack (with a guard page) of `kind` and `size` bytes
    /// for CPU `index`; returns its top.
    pub alloc_stack: fn(kind: StackKind, index: usize, size: u64) -> u64,
    /// Is the physical range `[start, end)` below 1 MiB usable RAM that no
    /// allocator hands out (for the trampoline)?
    pub low_usable: fn(start: u64, end: u64) -> bool,
    /// Fault injection (the `deafcpu=` test hook): the AP with this APIC id
    /// is sent no INIT or start-up IPI, as a CPU that ignores INIT-SIPI
    /// would behave, so the time-out path runs.
    pub deaf: Option<u32>,
}

/// APIC ids of the CPUs that did not report in (the first few).
static MISSING: [AtomicU64; 8] = [const { AtomicU64::new(u64::MAX) }; 8];
static NMISSING: AtomicUsize = AtomicUsize::new(0);

/// APIC ids of the enabled CPUs that did not come up (up to 8 recorded;
/// [`nmissing`] counts them all), in start-up order.
pub fn missing() -> impl Iterator<Item = u32> {
    MISSING
        .iter()
        .map(|m| m.load(Ordering::Relaxed))
        .take_while(|&m| m != u64::MAX)
        .map(|m| m as u32)
}

/// How many enabled CPUs did not come up.
pub fn nmissing() -> usize {
    NMISSING.load(Ordering::Relaxed)
}

/// `ApStart::main`, for `ap_entry`.
// SAFETY: a function pointer type.
static AP_MAIN: Upcall<fn(usize) -> !> = unsafe { Upcall::new() };

/// Brings up the platform and every CPU; prints the SMP part of the banner,
/// ending with `smp: N of M CPUs online`. Bootstrap CPU, once, after memory
/// and the heap. Returns with interrupts enabled on the BSP (so it serves
/// cross-calls and TLB shootdowns from the other CPUs).
pub fn init(rsdp: Option<u64>, ap: ApStart) {
    AP_MAIN.set(ap.main);
    let features = cpuinfo::features();
    let bsp_apic = apic::cpuid_apic_id();
    let (platform, err) = acpi::discover(rsdp, bsp_apic);
    if let Some(e) = &err {
        arch_println!("acpi: no usable MADT ({e:?}): PC defaults, this CPU only");
    }
    NCPU_FOUND.store(platform.ncpus_found, Ordering::Relaxed);
    if platform.ncpus_found > percpu::MAX_CPUS {
        arch_println!(
            "smp: the MADT lists {} CPUs, more than MAX_CPUS = {}: gmpos runs on {} of them{}",
            platform.ncpus_found,
            percpu::MAX_CPUS,
            percpu::MAX_CPUS,
            if platform.bsp_was_dropped {
                " (the bootstrap CPU replaces the last one listed)"
            } else {
                ""
            }
        );
    }

    // Local APIC and IOAPIC. x2APIC whenever the CPU has it, except under
    // QEMU's icount, where TCG cannot access x2APIC timer registers (see
    // `tsc::counts_instructions`).
    let icount = tsc::counts_instructions();
    let x2apic = features.x2apic && !icount;
    apic::select_mode(x2apic, platform.lapic_addr);
    apic::register_handlers();
    apic::enable_this_cpu();
    let bsp_id = apic::id();
    percpu::this().apic_id.store(bsp_id, Ordering::Relaxed);
    ioapic::init();
    ipi::init();

    // Clocks.
    let tsc_f = tsc::init();
    let apic_f = timer::calibrate();
    timer::init_this_cpu();

    // The other CPUs.
    BSP_CR0.store(Cr0::read_raw(), Ordering::Relaxed);
    // CR4.LA57 cannot change in long mode and the trampoline builds 4-level
    // tables; bootloader 0.11 never enables it.
    let cr4 = Cr4::read_raw();
    assert!(
        cr4 & CR4_LA57 == 0,
        "5-level paging is not supported by the AP trampoline"
    );
    BSP_CR4.store(cr4, Ordering::Relaxed);
    BSP_EFER.store(Efer::read_raw(), Ordering::Relaxed);
    let mut failed = [(0u32, 0u64); 8];
    let mut nfailed = 0;
    let aps = platform.cpus().iter().filter(|c| c.apic_id != bsp_id);
    if platform.ncpus > 1 {
        match trampoline_base(ap.low_usable) {
            Some(base) => {
                start_aps(base, aps, ap.alloc_stack, ap.deaf, &mut |id, stage| {
                    if nfailed < failed.len() {
                        failed[nfailed] = (id, stage);
                        MISSING[nfailed].store(id as u64, Ordering::Relaxed);
                    }
                    nfailed += 1;
                    NMISSING.store(nfailed, Ordering::Relaxed);
                });
            }
            None => arch_println!(
                "smp: no usable {} KiB below 1 MiB for the AP trampoline: running on the bootstrap CPU only",
                trampoline::PAGES * 4
            ),
        }
    }

    // Do the TSCs agree? (On TCG and bare metal with an invariant TSC they
    // do; on KVM hosts with unsynchronised TSCs they may not.)
    if ncpu() > 1 {
        ipi::run_on_all(&|| tsc::warp_check(WARP_CHECK_ITERATIONS));
    }

    // Banner.
    let p = platform;
    arch_println!(
        "acpi: {}: {} CPU(s) listed, {} IOAPIC(s), {} interrupt source override(s), local APIC at {:#x}",
        if p.from_madt { "MADT" } else { "no MADT" },
        p.ncpus_found,
        p.nioapics,
        p.noverrides,
        p.lapic_addr
    );
    for io in p.ioapics() {
        arch_println!(
            "ioapic: id {} at {:#x}, GSIs {}..={}; COM1 (IRQ 4) -> GSI {}",
            io.id,
            io.addr,
            io.gsi_base,
            io.gsi_base + ioapic::inputs(io) - 1,
            ioapic::isa_route(4).gsi
        );
    }
    arch_println!(
        "apic: {}; TSC-deadline: {}",
        if apic::is_x2apic() {
            "x2APIC (MSR access)"
        } else if features.x2apic {
            "xAPIC (MMIO access; x2APIC available but not used: QEMU's icount cannot run its timer)"
        } else {
            "xAPIC (MMIO access)"
        },
        if timer::uses_tsc_deadline() {
            "yes (one-shot timers use it)"
        } else {
            "no (one-shot timers count)"
        }
    );
    print_frequency("tsc", tsc_f);
    print_frequency("apic timer", apic_f);
    let (warps, max_warp) = tsc::warp_result();
    arch_println!(
        "tsc: invariant TSC advertised: {}{}; {}",
        if tsc::invariant() { "yes" } else { "no" },
        if tsc::invariant() {
            ""
        } else {
            " (gmpos uses the TSC anyway)"
        },
        if ncpu() == 1 {
            "one CPU, nothing to compare".into()
        } else if warps == 0 {
            alloc::format!(
                "the CPUs' TSCs agree (no warp in {} samples per CPU)",
                WARP_CHECK_ITERATIONS
            )
        } else {
            alloc::format!(
                "WARNING: the CPUs' TSCs disagree ({warps} warps, up to {max_warp} cycles): now_ns() can go back across CPUs"
            )
        }
    );
    for cpu in 0..ncpu() {
        arch_println!(
            "cpu {cpu}: apic id {}{}",
            apic_id(cpu),
            if cpu == 0 { " (bootstrap)" } else { "" }
        );
    }
    for &(id, stage) in &failed[..nfailed.min(failed.len())] {
        arch_println!(
            "smp: the CPU with APIC id {id} did not report in within {AP_TIMEOUT_MS} ms (it got to: {}); continuing without it",
            STAGE_NAMES[stage as usize % STAGE_NAMES.len()]
        );
    }
    if nfailed > failed.len() {
        arch_println!(
            "smp: ... and {} more CPUs did not report in",
            nfailed - failed.len()
        );
    }

    arch_println!("smp: {} of {} CPUs online", ncpu(), ncpu_found());
    super::irq::enable();
}

fn print_frequency(name: &str, f: tsc::Frequency) {
    let rejected = match f.rejected {
        Some((src, hz)) => alloc::format!(
            "; ignored {}: {}.{:03} MHz (off by {} ppm)",
            src.describe().trim_start_matches("from "),
            mhz(hz).0,
            mhz(hz).1,
            tsc::ppm(hz, f.measured_hz)
        ),
        None => alloc::string::String::new(),
    };
    let measured = matches!(f.source, tsc::Source::Pit | tsc::Source::Tsc);
    let check = if !measured && f.measured_hz != 0 {
        alloc::format!(
            " (the measurement is {} ppm off)",
            tsc::ppm(f.hz, f.measured_hz)
        )
    } else {
        alloc::string::String::new()
    };
    arch_println!(
        "{name}: {}.{:03} MHz, {}{check}{rejected}",
        mhz(f.hz).0,
        mhz(f.hz).1,
        f.source.describe()
    );
}

/// `hz` in MHz, rounded to kHz: (whole MHz, thousandths).
fn mhz(hz: u64) -> (u64, u64) {
    let khz = (hz + 500) / 1000;
    (khz / 1000, khz % 1000)
}

/// The trampoline's base: 0x8000 if usable, else the first usable page
/// range below 1 MiB (skipping page 0).
fn trampoline_base(low_usable: fn(u64, u64) -> bool) -> Option<u64> {
    let len = trampoline::PAGES * 4096;
    core::iter::once(TRAMPOLINE_BASE)
        .chain((0x1000..0xa0000).step_by(4096))
        .find(|&b| b + len <= 0xa0000 && low_usable(b, b + len))
}

/// Stacks of CPU index i, allocated the first time index i is tried (an
/// index that failed is retried by the next AP with the same stacks).
static BOOT_STACKS: [AtomicU64; percpu::MAX_CPUS] = [const { AtomicU64::new(0) }; percpu::MAX_CPUS];

fn boot_stack_for(index: usize, alloc: fn(StackKind, usize, u64) -> u64) -> u64 {
    let top = BOOT_STACKS[index].load(Ordering::Relaxed);
    if top != 0 {
        return top;
    }
    let top = alloc(StackKind::ApBoot, index, AP_STACK_SIZE);
    for ist in 1..=percpu::IST_COUNT as u8 {
        let st = alloc(StackKind::Ist, index, gdt::IST_STACK_SIZE as u64);
        // SAFETY: CPU `index` is not running, so no trap uses its IST
        // stacks; the stack is mapped and IST_STACK_SIZE bytes long.
        unsafe { gdt::set_ist_stack(index, ist, st) };
    }
    BOOT_STACKS[index].store(top, Ordering::Relaxed);
    top
}

fn start_aps<'a>(
    base: u64,
    aps: impl Iterator<Item = &'a CpuEntry> + Clone,
    alloc: fn(StackKind, usize, u64) -> u64,
    deaf: Option<u32>,
    on_fail: &mut dyn FnMut(u32, u64),
) {
    // Every AP's stacks for the indices it may get are mapped before the
    // trampoline copies the kernel's level-4 table (see Trampoline::install).
    let n = aps.clone().count().min(percpu::MAX_CPUS - 1);
    for index in 1..=n {
        boot_stack_for(index, alloc);
    }
    // SAFETY: the pages are usable low memory (checked by the caller) that
    // the frame allocator never hands out; only this code uses them.
    let t = unsafe { Trampoline::install(base) };

    let addressable = |c: &CpuEntry| apic::is_x2apic() || c.apic_id <= 0xff;
    for c in aps.clone().filter(|c| !addressable(c)) {
        arch_println!(
            "smp: APIC id {} needs x2APIC, which this CPU lacks: not started",
            c.apic_id
        );
    }
    // MP spec: INIT, then 10 ms before the start-up IPIs (all APs at once).
    let hears = |c: &CpuEntry| deaf != Some(c.apic_id);
    for c in aps.clone().filter(|c| addressable(c) && hears(c)) {
        apic::send_init(c.apic_id);
        apic::send_init_deassert(c.apic_id);
    }
    tsc::delay_us(10_000);

    let mut index = 1;
    for c in aps.filter(|c| addressable(c)) {
        if index >= percpu::MAX_CPUS {
            break;
        }
        t.prepare(
            index,
            boot_stack_for(index, alloc),
            percpu::cpu(index) as *const percpu::PerCpu as u64,
        );
        let start = crate::clock::now_ns();
        if hears(c) {
            apic::send_startup(c.apic_id, t.vector());
            tsc::delay_us(200);
            apic::send_startup(c.apic_id, t.vector());
            tsc::delay_us(200);
        }
        let deadline = start + AP_TIMEOUT_MS * 1_000_000;
        while online_mask() & (1 << index) == 0 && crate::clock::now_ns() < deadline {
            core::hint::spin_loop();
        }
        if online_mask() & (1 << index) != 0 {
            index += 1;
        } else {
            let stage = t.stage();
            // Park it: an AP that wakes up late must not run the
            // trampoline with the index the next AP gets.
            if hears(c) {
                apic::send_init(c.apic_id);
                apic::send_init_deassert(c.apic_id);
            }
            on_fail(c.apic_id, stage);
        }
    }
}

/// Rust entry of every AP (from `gmpos_ap_entry64`, on its boot stack, on
/// the kernel's page tables, interrupts off).
pub(super) extern "C" fn ap_entry(index: u64) -> ! {
    let index = index as usize;
    // SAFETY: first thing on this AP: the BSP gave it this index, which no
    // other CPU uses.
    unsafe { percpu::install(index) };
    // SAFETY: the BSP's control registers are valid for this CPU (same
    // model, same page tables): this turns caching on (INIT left CD/NW set)
    // and enables what the BSP has (write protection, global pages...).
    unsafe {
        Efer::write_raw(BSP_EFER.load(Ordering::Relaxed));
        Cr4::write_raw(BSP_CR4.load(Ordering::Relaxed));
        Cr0::write_raw(BSP_CR0.load(Ordering::Relaxed));
    }
    // SAFETY: this CPU, once, during its bring-up; the BSP set its IST stacks.
    unsafe { gdt::init_cpu(index, false) };
    trap::load_idt();
    apic::enable_this_cpu();
    percpu::this().apic_id.store(apic::id(), Ordering::Relaxed);
    timer::init_this_cpu();
    NCPU.fetch_add(1, Ordering::AcqRel);
    ONLINE_MASK.fetch_or(1 << index, Ordering::AcqRel);
    // Serve IPIs (cross-calls, TLB shootdowns, wake-ups) from now on.
    super::irq::enable();
    match AP_MAIN.get() {
        Some(main) => main(index),
        // `init` sets it before any AP starts.
        None => unreachable!("AP {index} started without ApStart::main"),
    }
}
