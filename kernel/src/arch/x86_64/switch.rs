//! The context switch (Go: asm_amd64.s `gogo`, `mcall`).
//!
//! A goroutine's context is its [`Gobuf`]: stack pointer, resume address and
//! the registers the System V ABI makes callee-saved (rbx, rbp, r12-r15).
//! Switches only ever happen inside a function call (`mcall`), so everything
//! else is already saved by the caller, exactly as Go's gobuf holds only
//! sp/pc/bp. (Asynchronous preemption saves the rest in its own frame before
//! it calls `mcall`.) The target is soft-float: goroutine code never touches
//! x87/SSE state, so there is none to save.
//!
//! Every switch updates the per-CPU current-G pointer (`gs:[PERCPU_G]`) and
//! RSP with interrupts off, so an interrupt never sees one without the other.
//! These functions live in `.text.nopreempt`: preemption never lands in them.
use core::arch::naked_asm;
use core::mem::offset_of;

use super::percpu::{PERCPU_G, PERCPU_G0};

/// Saved goroutine context (Go: `gobuf`). `#[repr(C)]`: the assembly below
/// uses fixed offsets, and a G starts with its Gobuf.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Gobuf {
    pub sp: u64,
    pub pc: u64,
    pub bp: u64,
    pub rbx: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

const SP: usize = offset_of!(Gobuf, sp);
const PC: usize = offset_of!(Gobuf, pc);
const BP: usize = offset_of!(Gobuf, bp);
const RBX: usize = offset_of!(Gobuf, rbx);
const R12: usize = offset_of!(Gobuf, r12);
const R13: usize = offset_of!(Gobuf, r13);
const R14: usize = offset_of!(Gobuf, r14);
const R15: usize = offset_of!(Gobuf, r15);

/// Resumes the context in `buf` as G `g` (Go: `gogo`). `buf` must be the
/// first field of the G at address `g` (the scheduler passes `&g.sched`).
///
/// # Safety
/// `buf` must hold a context saved by `mcall` or built by `prepare_stack`,
/// whose stack is mapped and not in use by any CPU; the caller's stack is
/// abandoned.
#[unsafe(naked)]
#[unsafe(link_section = ".text.nopreempt.switch")]
pub unsafe extern "C" fn gogo(buf: *const Gobuf, g: usize) -> ! {
    naked_asm!(
        "cli",
        "mov gs:[{pg}], rsi",
        "mov rsp, [rdi + {sp}]",
        "mov rbp, [rdi + {bp}]",
        "mov rbx, [rdi + {rbx}]",
        "mov r12, [rdi + {r12}]",
        "mov r13, [rdi + {r13}]",
        "mov r14, [rdi + {r14}]",
        "mov r15, [rdi + {r15}]",
        "mov rax, [rdi + {pc}]",
        // sti takes effect after the next instruction: the jump happens with
        // the new stack and G both in place.
        "sti",
        "jmp rax",
        pg = const PERCPU_G,
        sp = const SP, pc = const PC, bp = const BP, rbx = const RBX,
        r12 = const R12, r13 = const R13, r14 = const R14, r15 = const R15,
    )
}

/// The body of [`mcall`] and [`mcall_noirq`]: save the goroutine's
/// callee-saved context into its `Gobuf`, switch to g0's stack, and call
/// `f(g)`; `$sti` (or nothing) re-enables interrupts just before the call.
macro_rules! mcall_body {
    ($($sti:literal)?) => {
        naked_asm!(
            "cli",
            "mov rax, gs:[{pg}]",
            "mov rcx, [rsp]",
            "lea rdx, [rsp + 8]",
            "mov [rax + {sp}], rdx",
            "mov [rax + {pc}], rcx",
            "mov [rax + {bp}], rbp",
            "mov [rax + {rbx}], rbx",
            "mov [rax + {r12}], r12",
            "mov [rax + {r13}], r13",
            "mov [rax + {r14}], r14",
            "mov [rax + {r15}], r15",
            "mov rdx, gs:[{pg0}]",
            "mov gs:[{pg}], rdx",
            "mov rsp, [rdx + {sp}]",
            "xor ebp, ebp",
            "mov rsi, rdi",
            "mov rdi, rax",
            $($sti,)?
            "call rsi",
            "ud2",
            pg = const PERCPU_G, pg0 = const PERCPU_G0,
            sp = const SP, pc = const PC, bp = const BP, rbx = const RBX,
            r12 = const R12, r13 = const R13, r14 = const R14, r15 = const R15,
        )
    };
}

/// Saves the current goroutine's context in its Gobuf (the current G must be
/// a goroutine whose first field is its Gobuf), switches to this CPU's g0
/// stack and calls `f(gp)` there (Go: `mcall`). `f` must not return; the
/// goroutine continues after `mcall` when something `gogo`s its Gobuf.
///
/// # Safety
/// Must not be called on g0 (the caller checks). Interrupts must be enabled
/// (they are re-enabled on g0).
#[unsafe(naked)]
#[unsafe(link_section = ".text.nopreempt.switch")]
pub unsafe extern "C" fn mcall(f: unsafe extern "C" fn(usize) -> !) {
    mcall_body!("sti")
}

/// `mcall` that leaves interrupts off on g0: `f` runs with interrupts
/// disabled and must enable them itself. For parking with an
/// interrupt-safe lock held (a channel's): with interrupts on between the
/// switch and the release, an interrupt handler on this CPU taking the same
/// lock would spin on a lock its own CPU holds, forever.
///
/// # Safety
/// As for [`mcall`], except that interrupts may be off on entry (they stay
/// off).
#[unsafe(naked)]
#[unsafe(link_section = ".text.nopreempt.switch")]
pub unsafe extern "C" fn mcall_noirq(f: unsafe extern "C" fn(usize) -> !) {
    mcall_body!()
}

unsafe extern "C" {
    /// The scheduler's `goexit1` (`sched::exit::goexit1`, exported under
    /// this name): a link-time upcall, since `arch` does not import the
    /// scheduler.
    fn gmpos_goexit1() -> !;
}

/// The return address planted at the top of every goroutine stack: the
/// goroutine's entry function "returns" here (Go: `goexit`), which calls
/// the scheduler's `goexit1` (`gmpos_goexit1`). The leading `nop` makes a return
/// address of `goexit + 1` still fall inside `goexit`, as in Go.
///
/// # Safety
/// Never called directly: only returned into from a goroutine's first frame.
#[unsafe(naked)]
#[unsafe(link_section = ".text.nopreempt.switch")]
pub unsafe extern "C" fn goexit() -> ! {
    naked_asm!("nop", "call {exit}", "ud2", exit = sym gmpos_goexit1)
}

/// Builds a new goroutine's first frame on the stack whose top is `top`:
/// as if `goexit` had called `entry` (Go: `gostartcallfn`). Returns the Gobuf
/// to `gogo` to.
pub fn prepare_stack(top: u64, entry: extern "C" fn()) -> Gobuf {
    let top = top & !15;
    let sp = top - 8;
    // SAFETY: `top` is the top of a mapped goroutine stack owned by the
    // caller; the slot just below it is ours to write.
    unsafe { (sp as *mut u64).write(goexit as *const () as u64 + 1) };
    Gobuf {
        sp,
        pc: entry as *const () as u64,
        ..Gobuf::default()
    }
}
