//! Trap entry: the IDT, 256 naked entry stubs and the Rust dispatcher.
//!
//! Every vector has a 16-byte stub that pushes a dummy error code (when the
//! CPU does not push one) and the vector number, then jumps to
//! `gmpos_trap_common`, which saves all 15 general registers into a
//! [`TrapFrame`] and calls [`trap_dispatch`]. Handlers get `&mut TrapFrame`
//! and may rewrite it (the exception fixups change `rip`; preemption will
//! rewrite the return frame). Hand-written stubs rather than
//! `extern "x86-interrupt"` because the scheduler needs the full register
//! frame and exact control of the return path.
//!
//! Stacks: #DF, NMI, #MC and #PF run on their own IST stacks; every hardware
//! interrupt (vector >= 32) runs on the per-CPU interrupt IST stack.
use core::sync::atomic::{AtomicUsize, Ordering};

use super::gdt::{
    IST_DOUBLE_FAULT, IST_IRQ, IST_MACHINE_CHECK, IST_NMI, IST_PAGE_FAULT, kernel_cs,
};
use super::percpu;

/// The register state saved at a trap, lowest address first.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    // Pushed by the CPU:
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Vectors for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30.
core::arch::global_asm!(
    r#"
    .pushsection .text.nopreempt.trap, "ax"
    .balign 16
    .global gmpos_trap_stubs
gmpos_trap_stubs:
    .irp hi, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .irp lo, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 16
    .if \hi < 2
    .if ((0x60227D00 >> (\hi * 16 + \lo)) & 1) == 0
    push 0
    .endif
    .else
    push 0
    .endif
    push (\hi * 16 + \lo)
    jmp gmpos_trap_common
    .endr
    .endr

gmpos_trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call {dispatch}
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq
    .popsection
    "#,
    dispatch = sym trap_dispatch,
);

unsafe extern "C" {
    static gmpos_trap_stubs: u8;
}

/// A handler for a hardware interrupt vector.
pub type IrqHandler = fn(&mut TrapFrame);

static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];

/// Registers the handler for interrupt vector `vector` (>= 32).
pub fn register(vector: u8, handler: IrqHandler) {
    assert!(vector >= 32, "vector {vector} is an exception");
    HANDLERS[vector as usize].store(handler as usize, Ordering::Release);
}

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static mut IDT: Idt = Idt([Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    type_attr: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
}; 256]);

fn ist_for(vector: usize) -> u8 {
    match vector {
        8 => IST_DOUBLE_FAULT,
        2 => IST_NMI,
        18 => IST_MACHINE_CHECK,
        14 => IST_PAGE_FAULT,
        32.. => IST_IRQ,
        _ => 0,
    }
}

/// Builds the IDT (shared by all CPUs; each CPU's TSS supplies its own IST
/// stacks). Called once on the bootstrap CPU.
pub fn init_idt() {
    let base = &raw const gmpos_trap_stubs as u64;
    let cs = kernel_cs().0;
    for v in 0..256 {
        let addr = base + 16 * v as u64;
        let gate = Gate {
            offset_low: addr as u16,
            selector: cs,
            ist: ist_for(v),
            // Present, DPL 0, 64-bit interrupt gate (IF cleared on entry).
            type_attr: 0x8e,
            offset_mid: (addr >> 16) as u16,
            offset_high: (addr >> 32) as u32,
            reserved: 0,
        };
        // SAFETY: the IDT is written only here, once, before any CPU loads it.
        unsafe { (&raw mut IDT).cast::<Gate>().add(v).write(gate) };
    }
}

/// Loads the IDT on this CPU.
pub fn load_idt() {
    let ptr = ::x86_64::structures::DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: ::x86_64::VirtAddr::new(&raw const IDT as u64),
    };
    // SAFETY: the IDT is static, fully initialised by init_idt, and its stubs
    // are valid entry points.
    unsafe { ::x86_64::instructions::tables::lidt(&ptr) };
}

/// The Rust side of every trap.
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let v = frame.vector as usize;
    match v {
        2 => super::exceptions::nmi(frame),
        0..32 => super::exceptions::handle(frame),
        _ => {
            // An interrupt may end a halt: the CPU leaves the TLB epoch's
            // idle state (flushing if needed) before the handler touches
            // anything (it may read a goroutine's stack).
            super::tlb::leave_idle();
            let cpu = percpu::this();
            cpu.irq_depth.fetch_add(1, Ordering::Relaxed);
            let h = HANDLERS[v].load(Ordering::Acquire);
            if h == 0 {
                if v != SPURIOUS_VECTOR as usize {
                    super::serial::emergency(format_args!(
                        "gmpos: unexpected interrupt vector {v} on cpu {}\n",
                        cpu.index
                    ));
                }
            } else {
                // SAFETY: only `register` stores into HANDLERS, always a valid
                // `IrqHandler` function pointer.
                let h: IrqHandler = unsafe { core::mem::transmute::<usize, IrqHandler>(h) };
                h(frame);
            }
            cpu.irq_depth.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The local APIC's spurious-interrupt vector (never acknowledged).
pub const SPURIOUS_VECTOR: u8 = 0xff;
