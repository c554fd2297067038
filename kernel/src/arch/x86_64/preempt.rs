//! Asynchronous preemption, the hardware half (Go: `preempt_amd64.s` and the
//! signal handler's `pushCall`).
//!
//! The timer interrupt runs on the per-CPU interrupt stack, so its return
//! frame never overlaps the goroutine's stack. To preempt, it rewrites that
//! frame ([`inject`]): below the goroutine's RSP it writes the interrupted
//! RIP and then the interrupted RFLAGS (so RSP drops by 16), points RIP at
//! [`async_preempt`] and clears IF in the saved RFLAGS, then `iretq`s. The
//! goroutine thus "calls" `async_preempt`, which saves all 15 general
//! registers and the original RFLAGS in an [`AsyncPreemptFrame`] on the
//! goroutine's own stack, realigns RSP to 16 bytes, clears DF, and calls
//! `async_preempt2` (the scheduler: `mcall(gopreempt_m)`). When the goroutine
//! is scheduled again, `async_preempt2` returns, every register is restored,
//! and `popfq; ret` resumes the interrupted instruction with its exact
//! RFLAGS (IF, DF, AC and the arithmetic flags).
//!
//! No FPU/SSE state is saved: the `x86_64-unknown-none` target is soft-float,
//! so kernel and goroutine code never touch x87/SSE registers. The red zone
//! is disabled by the target too, which is what makes writing just below the
//! interrupted RSP safe (code may not keep live data there).
use core::arch::naked_asm;

use super::trap::TrapFrame;

/// The registers `async_preempt` saves, lowest address first (Go: the
/// frame asyncPreempt builds).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AsyncPreemptFrame {
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
    /// The interrupted RFLAGS (restored by `popfq`).
    pub rflags: u64,
    /// The interrupted RIP (the `ret` target).
    pub rip: u64,
}

const IF: u64 = 1 << 9;

/// Stack the call chain after the register-save frame may use:
/// `call async_preempt2` (a return address) and whatever `async_preempt2`
/// and `async_preempt_park` push before the tail call into `mcall` (which
/// only reads its return address and then switches to g0). Measured from
/// the disassembly at opt-level 1 (tests) and 3 (release): 16 bytes, the
/// return address and one frame-pointer push (both functions pop it and
/// tail-call); the `preempt_stack_room` test measures the whole injection's
/// depth. The rest is margin for a build that does not tail-call (a return
/// address, a saved RBP and some spills per level), as Go adds `8*PtrSize`
/// to its measured frames.
const PREEMPT_CALL_CHAIN_STACK: u64 = 128;

/// Go: `asyncPreemptStack`: the bytes an injected call to [`async_preempt`]
/// needs below the interrupted RSP: the [`AsyncPreemptFrame`] (RIP and
/// RFLAGS written by [`inject`], then the 15 pushes), up to 15 bytes of
/// realignment to 16 (rounded to 16: RSP stays 8-aligned), then the call
/// chain. The preemption check refuses (leaves the request pending) when
/// the interrupted RSP is not at least this far above the lowest usable
/// address of the goroutine's stack, so the frames never reach the guard
/// page (a false "stack overflow").
pub const ASYNC_PREEMPT_STACK: u64 =
    core::mem::size_of::<AsyncPreemptFrame>() as u64 + 16 + PREEMPT_CALL_CHAIN_STACK;

const _: () = assert!(ASYNC_PREEMPT_STACK.is_multiple_of(8));

/// Go: `asyncPreempt`. Entered (with interrupts off) as if called from the
/// interrupted instruction, with the interrupted RFLAGS pushed on top of the
/// return address.
///
/// # Safety
/// Only reached through [`inject`].
#[unsafe(naked)]
#[unsafe(link_section = ".text.nopreempt.async_preempt")]
pub unsafe extern "C" fn async_preempt() {
    naked_asm!(
        "push rax",
        "push rbx",
        "push rcx",
        "push rdx",
        "push rsi",
        "push rdi",
        "push rbp",
        "push r8",
        "push r9",
        "push r10",
        "push r11",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        // rbx (callee-saved, already saved above) keeps the exact frame
        // address across the call; the interrupted RSP had any alignment.
        "mov rbx, rsp",
        "and rsp, -16",
        "cld",
        "mov rdi, rbx",
        "call {preempt2}",
        "mov rsp, rbx",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop r11",
        "pop r10",
        "pop r9",
        "pop r8",
        "pop rbp",
        "pop rdi",
        "pop rsi",
        "pop rdx",
        "pop rcx",
        "pop rbx",
        "pop rax",
        "popfq",
        "ret",
        preempt2 = sym async_preempt2,
    )
}

unsafe extern "C" {
    /// The scheduler's hand-off of a preempted goroutine
    /// (`sched::preempt::async_preempt_park`, exported under this name): a
    /// link-time upcall, since `arch` does not import the scheduler. It gets
    /// the register-save frame: a traceback of the preempted goroutine starts
    /// at the RIP saved there (`async_preempt` has no frame of its own).
    fn gmpos_async_preempt_park(frame: *mut AsyncPreemptFrame);
}

/// Go: `asyncPreempt2`: hands the goroutine to the scheduler.
#[unsafe(link_section = ".text.nopreempt.async_preempt")]
extern "C" fn async_preempt2(frame: *mut AsyncPreemptFrame) {
    // SAFETY: called on the preempted goroutine's stack at an async safe
    // point, which is what the scheduler's hand-off expects; `frame` is the
    // register-save frame `async_preempt` just pushed, and it returns when
    // the goroutine is resumed.
    unsafe { gmpos_async_preempt_park(frame) };
}

/// Go: `pushCall(asyncPreempt)`: rewrites the interrupt's return frame so
/// the interrupted goroutine "calls" `async_preempt`.
///
/// # Safety
/// `frame` must be the return frame of an interrupt taken in goroutine code
/// (kernel CS, interrupts were on) whose RSP is at least
/// [`ASYNC_PREEMPT_STACK`] above the goroutine's guard page. The room need
/// not be mapped: the stack grows on demand (see `is_async_safe_point`).
pub unsafe fn inject(frame: &mut TrapFrame) {
    let sp = frame.rsp - 16;
    // SAFETY: just below the interrupted RSP on the goroutine's own stack;
    // the red zone is disabled, so nothing live is there. A fault here grows
    // the stack like any other access.
    unsafe {
        ((sp + 8) as *mut u64).write(frame.rip);
        (sp as *mut u64).write(frame.rflags);
    }
    frame.rsp = sp;
    frame.rip = async_preempt as *const () as u64;
    frame.rflags &= !IF;
}

/// Is `rip` in the no-preempt text (the scheduler's switch code, trap entry,
/// `async_preempt`)? `linker.ld` gathers `.text.nopreempt*` between these.
pub fn in_nopreempt_text(rip: u64) -> bool {
    unsafe extern "C" {
        static __nopreempt_start: u8;
        static __nopreempt_end: u8;
    }
    let start = &raw const __nopreempt_start as u64;
    let end = &raw const __nopreempt_end as u64;
    (start..end).contains(&rip)
}

/// Did the interrupted context have interrupts enabled?
pub fn interrupts_were_on(frame: &TrapFrame) -> bool {
    frame.rflags & IF != 0
}
