//! CPU exceptions: reports, the page-fault path, NMI dumps.
//!
//! Every exception is fatal (a report, then exit status 2) except:
//! - a page fault at an instruction listed in the fixup table
//!   (`probe_read`/`probe_write`), which resumes at its fixup;
//! - a page fault the registered page-fault handler resolves (a goroutine
//!   stack growing);
//! - NMI, which prints this CPU's state (the runner's timeout dump) and
//!   returns.
//!
//! What a fault means to the kernel (a goroutine stack, a kernel stack's
//! guard page), what this CPU was running, how the kernel exits, and what an
//! NMI dumps besides the registers belong to the layers above: they are
//! upcalls registered at boot ([`set_page_fault_handler`],
//! [`set_nmi_handler`], [`set_fatal_handlers`], [`set_throw_handler`]).
//!
//! A trap arriving on an IST stack that is already in use would have
//! overwritten the first trap's frame: that is detected with the per-CPU
//! nesting count and named in the report.
use core::sync::atomic::Ordering;

use super::frames::{Frame, WalkStart};
use super::gdt::IST_NAMES;
use super::percpu;
use super::report_lock::report_block;
use super::serial::emergency;
use super::trap::TrapFrame;
use crate::arch::Upcall;

/// What the registered page-fault handler made of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOutcome {
    /// Not the handler's business: the generic exception report.
    NotHandled,
    /// Resolved (a goroutine stack grew): the faulting code resumes.
    Resume,
    /// Fatal; the handler printed the first line: the frame and context
    /// follow, then the fatal exit.
    Fatal,
    /// Fatal and fully reported by the handler: the fatal exit at once.
    Reported,
}

/// The page-fault upcall: `(cr2, frame)` of a fault no fixup covers.
pub type PageFaultHandler = fn(u64, &TrapFrame) -> FaultOutcome;

// SAFETY: a function pointer type.
static PAGE_FAULT: Upcall<PageFaultHandler> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static NMI: Upcall<fn(WalkStart)> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static NMI_HEARTBEAT: Upcall<NmiHeartbeat> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static CONTEXT: Upcall<fn(WalkStart)> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static FATAL_EXIT: Upcall<fn() -> !> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static THROW: Upcall<fn(core::fmt::Arguments) -> !> = unsafe { Upcall::new() };

/// Registers the page-fault upcall (the scheduler's stack growth and the
/// kernel stacks' guard pages), called for faults no fixup covers.
pub fn set_page_fault_handler(f: PageFaultHandler) {
    PAGE_FAULT.set(f);
}

/// Registers what an NMI prints after this CPU's registers (what it runs,
/// its stack walked from the interrupted RIP and RBP; on CPU 0, the
/// scheduler's state).
pub fn set_nmi_handler(f: fn(WalkStart)) {
    NMI.set(f);
}

/// The heartbeat upcall: `(interrupted rflags, where to walk from)`;
/// returns true if the NMI was a heartbeat the upcall consumed (nothing is
/// printed then).
pub type NmiHeartbeat = fn(u64, WalkStart) -> bool;

/// Registers the scheduler watchdog's NMI heartbeat check (`watchdog=1`):
/// asked first on every NMI, so that heartbeats are not printed as dumps.
pub fn set_nmi_heartbeat_handler(f: NmiHeartbeat) {
    NMI_HEARTBEAT.set(f);
}

/// Registers the end of every fatal exception report: `context` prints what
/// this CPU was running (its stack walked from the faulting RIP and RBP),
/// `exit` stops the kernel (exit status 2).
pub fn set_fatal_handlers(context: fn(WalkStart), exit: fn() -> !) {
    CONTEXT.set(context);
    FATAL_EXIT.set(exit);
}

/// Registers the kernel's `fatal error` path (Go's `throw`: the panic
/// module's `fatal`), which `arch` uses for misuse it detects.
pub fn set_throw_handler(f: fn(core::fmt::Arguments) -> !) {
    THROW.set(f);
}

/// Stops the kernel with `fatal error: <msg>` (Go: `throw`) through the
/// registered handler; before one is registered, prints and halts.
pub fn throw(msg: core::fmt::Arguments) -> ! {
    match THROW.get() {
        Some(f) => f(msg),
        None => {
            emergency(format_args!("\nfatal error: {msg}\n"));
            super::halt_forever()
        }
    }
}

/// Where a traceback of the code that trapped begins: the exact RIP, then
/// the frame-pointer chain from its RBP.
fn walk_start(frame: &TrapFrame) -> WalkStart {
    WalkStart {
        top: Some(Frame::Pc(frame.rip)),
        fp: frame.rbp,
    }
}

fn report_context(frame: &TrapFrame) {
    if let Some(f) = CONTEXT.get() {
        f(walk_start(frame));
    }
}

fn fatal_exit() -> ! {
    match FATAL_EXIT.get() {
        Some(f) => f(),
        None => super::halt_forever(),
    }
}

/// Exception names, by vector, with their mnemonics.
pub const NAMES: [&str; 32] = [
    "Divide Error (#DE)",
    "Debug (#DB)",
    "Non-maskable Interrupt (NMI)",
    "Breakpoint (#BP)",
    "Overflow (#OF)",
    "BOUND Range Exceeded (#BR)",
    "Invalid Opcode (#UD)",
    "Device Not Available (#NM)",
    "Double Fault (#DF)",
    "Coprocessor Segment Overrun",
    "Invalid TSS (#TS)",
    "Segment Not Present (#NP)",
    "Stack-Segment Fault (#SS)",
    "General Protection (#GP)",
    "Page Fault (#PF)",
    "Reserved 15",
    "x87 Floating-Point (#MF)",
    "Alignment Check (#AC)",
    "Machine Check (#MC)",
    "SIMD Floating-Point (#XM)",
    "Virtualization (#VE)",
    "Control Protection (#CP)",
    "Reserved 22",
    "Reserved 23",
    "Reserved 24",
    "Reserved 25",
    "Reserved 26",
    "Reserved 27",
    "Hypervisor Injection (#HV)",
    "VMM Communication (#VC)",
    "Security (#SX)",
    "Reserved 31",
];

fn ist_of(vector: u64) -> usize {
    match vector {
        8 => 1,
        2 => 2,
        18 => 3,
        14 => 4,
        _ => 0,
    }
}

/// Handles exception `frame.vector` (0..32, not NMI).
pub fn handle(frame: &mut TrapFrame) {
    let cpu = percpu::this();
    cpu.exceptions.fetch_add(1, Ordering::Relaxed);
    let ist = ist_of(frame.vector);
    if ist != 0 && cpu.ist_depth[ist].fetch_add(1, Ordering::Relaxed) != 0 {
        // Fatal: the report lock is held until the kernel exits.
        core::mem::forget(report_block());
        emergency(format_args!(
            "\nfatal error: nested {} on cpu {} while the {} IST stack was in use: the first trap's frame was overwritten\n",
            NAMES[frame.vector as usize], cpu.index, IST_NAMES[ist]
        ));
        report(frame);
        fatal_exit();
    }
    if frame.vector == 14 && page_fault(frame) {
        cpu.ist_depth[ist].fetch_sub(1, Ordering::Relaxed);
        return;
    }
    core::mem::forget(report_block());
    emergency(format_args!(
        "\nexception: {}",
        NAMES[frame.vector as usize]
    ));
    report(frame);
    fatal_exit();
}

/// The page-fault path. Returns true when the fault was handled and the
/// faulting code may resume.
fn page_fault(frame: &mut TrapFrame) -> bool {
    let cr2 = ::x86_64::registers::control::Cr2::read_raw();
    if let Some(fixup) = super::fixup::lookup(frame.rip) {
        frame.rip = fixup;
        return true;
    }
    // A goroutine stack growing, a kernel stack's guard page: the kernel's
    // business, not the hardware's.
    match PAGE_FAULT
        .get()
        .map_or(FaultOutcome::NotHandled, |f| f(cr2, frame))
    {
        FaultOutcome::NotHandled => {}
        FaultOutcome::Resume => return true,
        FaultOutcome::Fatal => {
            core::mem::forget(report_block());
            report(frame);
            fatal_exit();
        }
        FaultOutcome::Reported => fatal_exit(),
    }
    false
}

fn report(frame: &TrapFrame) {
    let cpu = percpu::this();
    let ec = frame.error_code;
    emergency(format_args!(
        " on cpu {} (vector {}, error code {:#x})\n",
        cpu.index, frame.vector, ec
    ));
    if frame.vector == 14 {
        let cr2 = ::x86_64::registers::control::Cr2::read_raw();
        emergency(format_args!(
            "  page fault at address {:#018x}: {} {} in {} mode{}{}\n",
            cr2,
            if ec & 1 != 0 {
                "protection violation"
            } else {
                "page not present"
            },
            if ec & 0x10 != 0 {
                "on instruction fetch"
            } else if ec & 2 != 0 {
                "on write"
            } else {
                "on read"
            },
            if ec & 4 != 0 { "user" } else { "kernel" },
            if ec & 8 != 0 {
                ", reserved bit set"
            } else {
                ""
            },
            if cr2 < 4096 {
                " (null pointer dereference)"
            } else {
                ""
            },
        ));
    }
    emergency(format_args!(
        "  rip={:#018x} rsp={:#018x} rflags={:#010x} cs={:#x} ss={:#x}\n",
        frame.rip, frame.rsp, frame.rflags, frame.cs, frame.ss
    ));
    emergency(format_args!(
        "  rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x} rbp={:#x}\n",
        frame.rax, frame.rbx, frame.rcx, frame.rdx, frame.rsi, frame.rdi, frame.rbp
    ));
    emergency(format_args!(
        "  r8={:#x} r9={:#x} r10={:#x} r11={:#x} r12={:#x} r13={:#x} r14={:#x} r15={:#x}\n",
        frame.r8, frame.r9, frame.r10, frame.r11, frame.r12, frame.r13, frame.r14, frame.r15
    ));
    report_context(frame);
}

/// NMI: print where this CPU is (the runner sends one on a test timeout),
/// as one block between `NMI: cpu N ...` and `NMI: cpu N end` that no other
/// CPU's lines interleave (the report lock).
pub fn nmi(frame: &mut TrapFrame) {
    let cpu = percpu::this();
    cpu.nmi_rip.store(frame.rip, Ordering::Relaxed);
    if let Some(f) = NMI_HEARTBEAT.get()
        && f(frame.rflags, walk_start(frame))
    {
        return;
    }
    let block = report_block();
    emergency(format_args!(
        "NMI: cpu {} rip={:#018x} rsp={:#018x} rflags={:#x} irq_depth={} locks={}\n",
        cpu.index,
        frame.rip,
        frame.rsp,
        frame.rflags,
        cpu.irq_depth.load(Ordering::Relaxed),
        cpu.locks.load(Ordering::Relaxed)
    ));
    if let Some(f) = NMI.get() {
        f(walk_start(frame));
    }
    emergency(format_args!("NMI: cpu {} end\n", cpu.index));
    drop(block);
}
