//! Boot: from the bootloader's hand-off to the kernel's `main`.
//!
//! Order matters: per-CPU state first (everything else reads it), then the
//! console (so failures can be reported), traps (so faults are reported, not
//! triple faults), the command line, memory, then the rest.
use bootloader_api::BootloaderConfig;
use bootloader_api::config::Mapping;
use spin::Once;

use core::sync::atomic::Ordering;

use crate::arch::exceptions::FaultOutcome;
use crate::arch::{TrapFrame, gdt, percpu, pic, qemu, smp, trap};
use crate::cmdline::{self, Config};
use crate::layout;
use crate::mem::{self, kstack};
use crate::sched::stack::FaultAction;
use crate::{clock, console, panic, println};

/// Powers QEMU off with `code` (the public `gmpos::exit`; the exit path is
/// `panic`'s).
pub use crate::panic::exit;

/// How the bootloader sets up the kernel's address space (see
/// `layout.rs`): physical memory, the boot stack and the kernel image at
/// fixed addresses, and its own dynamic mappings kept in a range of their own.
pub const BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut c = BootloaderConfig::new_default();
    c.mappings.physical_memory = Some(Mapping::FixedAddress(layout::PHYS_OFFSET));
    c.mappings.kernel_stack = Mapping::FixedAddress(layout::BOOT_STACK);
    c.mappings.kernel_base = Mapping::FixedAddress(layout::KERNEL_BASE);
    c.mappings.dynamic_range_start = Some(layout::DYNAMIC_START);
    c.mappings.dynamic_range_end = Some(layout::DYNAMIC_END);
    c.kernel_stack_size = layout::BOOT_STACK_SIZE;
    c
};

static CONFIG: Once<Config<'static>> = Once::new();
static mut CMDLINE: [u8; 4096] = [0; 4096];

/// The parsed kernel command line.
pub fn config() -> &'static Config<'static> {
    CONFIG
        .get()
        .expect("config read before boot parsed the command line")
}

/// The raw kernel command line.
pub fn cmdline_str() -> &'static str {
    CONFIG.get().map_or("", |_| {
        // SAFETY: CMDLINE is written once in `read_cmdline`, before CONFIG is
        // set, and never again.
        let buf = unsafe { core::slice::from_raw_parts((&raw const CMDLINE).cast::<u8>(), 4096) };
        let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        core::str::from_utf8(&buf[..n]).unwrap_or("")
    })
}

fn read_cmdline() -> &'static str {
    // SAFETY: runs once on the bootstrap CPU before anything reads CMDLINE.
    let buf = unsafe { core::slice::from_raw_parts_mut((&raw mut CMDLINE).cast::<u8>(), 4096) };
    let n = qemu::fw_cfg_file("opt/gmpos/cmdline", &mut buf[..4095]).unwrap_or(0);
    let n = buf[..n].iter().position(|&b| b == 0).unwrap_or(n);
    match core::str::from_utf8(&buf[..n]) {
        Ok(s) => s,
        Err(_) => {
            println!("cmdline: not valid UTF-8, ignored");
            ""
        }
    }
}

/// Boots the kernel and runs `main`; powers off with status 0 when it returns.
pub fn boot(boot_info: &'static mut bootloader_api::BootInfo, main: fn()) -> ! {
    boot_with_early(boot_info, main, None)
}

/// [`boot`], running `early` on the boot stack just before the scheduler
/// takes over (test kernels use it to test boot-time code).
pub fn boot_with_early(
    boot_info: &'static mut bootloader_api::BootInfo,
    main: fn(),
    early: Option<fn()>,
) -> ! {
    clock::mark_boot();
    // SAFETY: first thing on the bootstrap CPU, index 0 is its own.
    unsafe { percpu::install(0) };
    register_upcalls();
    console::init();
    pic::disable();
    // SAFETY: bootstrap CPU, once, during its bring-up.
    unsafe { gdt::init_cpu(0, true) };
    trap::init_idt();
    trap::load_idt();

    let line = read_cmdline();
    let cfg = CONFIG.call_once(|| cmdline::parse(line, |e| println!("{e}")));
    console::init_log(match cfg.log_level {
        cmdline::LogLevel::Error => log::LevelFilter::Error,
        cmdline::LogLevel::Warn => log::LevelFilter::Warn,
        cmdline::LogLevel::Info => log::LevelFilter::Info,
        cmdline::LogLevel::Debug => log::LevelFilter::Debug,
        cmdline::LogLevel::Trace => log::LevelFilter::Trace,
    });

    let rsdp = boot_info.rsdp_addr.into_option();
    mem::init(boot_info, cfg.heap_size);
    // Replace the early IST stacks with ones that have guard pages.
    for ist in 1..=percpu::IST_COUNT as u8 {
        let s = kstack::alloc(kstack::Kind::Ist, 0, gdt::IST_STACK_SIZE as u64);
        // SAFETY: no trap is running on the early stacks now; the new stack is
        // mapped and IST_STACK_SIZE bytes long.
        unsafe { gdt::set_ist_stack(0, ist, s.top) };
    }
    banner();
    // Platform bring-up: ACPI, local APIC/IOAPIC, TSC and APIC-timer
    // calibration, the other CPUs (they end up in `ap_main`).
    smp::init(
        rsdp,
        smp::ApStart {
            main: ap_main,
            alloc_stack: alloc_ap_stack,
            low_usable: mem::frame::low_usable,
            deaf: cfg.deafcpu,
        },
    );
    if let Some(f) = early {
        f();
    }
    // The scheduler takes over this CPU: `main` becomes goroutine 1 and the
    // boot stack is abandoned. When `main` returns, QEMU powers off with 0.
    crate::sched::init(cfg, smp::ncpu(), main)
}

/// Wires the upcalls: the lower layers (`arch`, `lock`, `panic`) hand
/// control up to the scheduler and the test harness through functions
/// registered here, since they must not import what sits above them (see
/// ARCHITECTURE.md, "Upcalls"). Runs before anything can take a lock or
/// trap.
fn register_upcalls() {
    use crate::arch::exceptions;
    crate::lock::set_last_release_handler(crate::sched::preempt::on_last_lock_released);
    exceptions::set_page_fault_handler(page_fault);
    exceptions::set_nmi_handler(crate::sched::dump::nmi_report);
    exceptions::set_fatal_handlers(panic::report_fatal_context, panic::fatal_exit);
    exceptions::set_throw_handler(panic::fatal);
    panic::set_goroutine_reporter(crate::sched::dump::print_running);
    mem::set_oom_detail(crate::sched::stack::print_oom_counters);
    // The test harness's hooks are registered by `testing::boot`, which
    // sits above `init`.
}

/// The page-fault upcall (`arch::exceptions::set_page_fault_handler`): a
/// goroutine touching its stack below the mapped part grows it; a kernel
/// stack's guard page is a named overflow.
fn page_fault(cr2: u64, frame: &TrapFrame) -> FaultOutcome {
    let cpu = percpu::this();
    let g = cpu.g.load(Ordering::Relaxed);
    if g != 0 && g != cpu.g0.load(Ordering::Relaxed) {
        // SAFETY: the current G is live while it runs on this CPU.
        let g = unsafe { &*(g as *const crate::sched::G) };
        match crate::sched::stack::handle_fault(g, cr2, frame) {
            FaultAction::Grown => return FaultOutcome::Resume,
            FaultAction::Fatal => return FaultOutcome::Reported,
            FaultAction::NotStack => {}
        }
    }
    if let Some(stack) = kstack::guard_hit(cr2) {
        console::emergency(format_args!(
            "\nfatal error: kernel stack overflow: {} (cpu {}) hit its guard page at {:#x}\n",
            stack.name, stack.cpu, cr2
        ));
        return FaultOutcome::Fatal;
    }
    FaultOutcome::NotHandled
}

/// `arch::smp`'s stack allocator for the APs: kernel stacks with guard
/// pages.
fn alloc_ap_stack(kind: smp::StackKind, index: usize, size: u64) -> u64 {
    let kind = match kind {
        smp::StackKind::ApBoot => kstack::Kind::ApBoot,
        smp::StackKind::Ist => kstack::Kind::Ist,
    };
    kstack::alloc(kind, index, size).top
}

/// Where every application processor ends up once its GDT, TSS, IDT and local
/// APIC are set up (`arch::smp`'s `ApStart::main` upcall, on the AP, with
/// its CPU index).
pub fn ap_main(index: usize) -> ! {
    // Wait for the bootstrap CPU to set up the scheduler (Ps,
    // gomaxprocs), then become M `index`.
    crate::sched::ap_start(index)
}

fn banner() {
    let mut buf = [0u8; 48];
    let (total, free) = mem::frame::stats();
    let heap = mem::heap::stats();
    println!(
        "gmpos {} (Go's GMP scheduler on bare metal)",
        crate::VERSION
    );
    println!("cpu: {}", crate::arch::cpuinfo::model(&mut buf));
    println!(
        "memory: {} MiB usable, {} MiB free; heap {} MiB",
        (total * 4096) >> 20,
        (free * 4096) >> 20,
        heap.size >> 20
    );
    println!("cmdline: {}", cmdline_str());
    // The history knobs that are not at their default (`sched/knobs.rs`).
    let knobs = config().knobs();
    if !knobs.non_default().is_empty() {
        println!("knobs: {}", knobs.non_default());
    }
}
