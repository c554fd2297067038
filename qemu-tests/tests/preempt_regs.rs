//! Register integrity across asynchronous preemption: goroutines written in
//! assembly load distinct values into all 15 general registers and set flags
//! the ABI does not fix (DF=1, CF, ZF, SF, OF, PF, AF, AC), then loop
//! checking them. Any corruption names the register or flag.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use gmpos::testing::sched::counters;
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=2
        args=slice=200us
        timeout=300
    ",
}

/// Set by the test to end the loops.
#[unsafe(no_mangle)]
static GMPOS_REGS_STOP: AtomicU64 = AtomicU64::new(0);
/// 0 = fine, else 1 + index into NAMES of the first corrupted register.
#[unsafe(no_mangle)]
static GMPOS_REGS_FAIL: AtomicU64 = AtomicU64::new(0);
/// Loop iterations done (all goroutines).
#[unsafe(no_mangle)]
static GMPOS_REGS_ITERS: AtomicU64 = AtomicU64::new(0);

const NAMES: [&str; 16] = [
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rbp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rflags (DF/CF/ZF/SF/OF/PF/AF/AC)",
];

/// The flags the loop runs with: CF, bit 1, PF, AF, ZF, SF, IF, DF, OF, AC.
const FLAGS: u64 = 0x4_0ED7;

/// Loads known values into every register and the flags, then checks them
/// until told to stop. Preserves the callee-saved registers and leaves with
/// DF clear, as the ABI requires.
#[unsafe(naked)]
extern "C" fn register_loop() {
    core::arch::naked_asm!(
        "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
        "push {flags}",
        "mov rax, 0x11111111", "mov rbx, 0x22222222", "mov rcx, 0x33333333", "mov rdx, 0x44444444",
        "mov rsi, 0x55555555", "mov rdi, 0x66666666", "mov rbp, 0x77777777", "mov r8, 0x18181818",
        "mov r9, 0x19191919", "mov r10, 0x1a1a1a1a", "mov r11, 0x1b1b1b1b", "mov r12, 0x1c1c1c1c",
        "mov r13, 0x1d1d1d1d", "mov r14, 0x1e1e1e1e", "mov r15, 0x1f1f1f1f",
        "popfq",
        "2:",
        "pushfq",
        "cmp qword ptr [rsp], {flags}", "jne 20f",
        "cmp rax, 0x11111111", "jne 5f",
        "cmp rbx, 0x22222222", "jne 6f",
        "cmp rcx, 0x33333333", "jne 7f",
        "cmp rdx, 0x44444444", "jne 8f",
        "cmp rsi, 0x55555555", "jne 9f",
        "cmp rdi, 0x66666666", "jne 10f",
        "cmp rbp, 0x77777777", "jne 11f",
        "cmp r8, 0x18181818", "jne 12f",
        "cmp r9, 0x19191919", "jne 13f",
        "cmp r10, 0x1a1a1a1a", "jne 14f",
        "cmp r11, 0x1b1b1b1b", "jne 15f",
        "cmp r12, 0x1c1c1c1c", "jne 16f",
        "cmp r13, 0x1d1d1d1d", "jne 17f",
        "cmp r14, 0x1e1e1e1e", "jne 18f",
        "cmp r15, 0x1f1f1f1f", "jne 19f",
        "lock inc qword ptr [rip + GMPOS_REGS_ITERS]",
        "cmp qword ptr [rip + GMPOS_REGS_STOP], 0",
        "jne 30f",
        "popfq",
        "jmp 2b",
        "5: mov qword ptr [rip + GMPOS_REGS_FAIL], 1", "jmp 30f",
        "6: mov qword ptr [rip + GMPOS_REGS_FAIL], 2", "jmp 30f",
        "7: mov qword ptr [rip + GMPOS_REGS_FAIL], 3", "jmp 30f",
        "8: mov qword ptr [rip + GMPOS_REGS_FAIL], 4", "jmp 30f",
        "9: mov qword ptr [rip + GMPOS_REGS_FAIL], 5", "jmp 30f",
        "10: mov qword ptr [rip + GMPOS_REGS_FAIL], 6", "jmp 30f",
        "11: mov qword ptr [rip + GMPOS_REGS_FAIL], 7", "jmp 30f",
        "12: mov qword ptr [rip + GMPOS_REGS_FAIL], 8", "jmp 30f",
        "13: mov qword ptr [rip + GMPOS_REGS_FAIL], 9", "jmp 30f",
        "14: mov qword ptr [rip + GMPOS_REGS_FAIL], 10", "jmp 30f",
        "15: mov qword ptr [rip + GMPOS_REGS_FAIL], 11", "jmp 30f",
        "16: mov qword ptr [rip + GMPOS_REGS_FAIL], 12", "jmp 30f",
        "17: mov qword ptr [rip + GMPOS_REGS_FAIL], 13", "jmp 30f",
        "18: mov qword ptr [rip + GMPOS_REGS_FAIL], 14", "jmp 30f",
        "19: mov qword ptr [rip + GMPOS_REGS_FAIL], 15", "jmp 30f",
        "20: mov qword ptr [rip + GMPOS_REGS_FAIL], 16", "jmp 30f",
        "30:",
        "popfq",
        "cld",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
        "ret",
        flags = const FLAGS,
    )
}

#[gmpos::test]
fn registers_survive_2000_async_preemptions() {
    let (a0, _, _) = counters();
    let wg = Arc::new(WaitGroup::new());
    wg.add(4);
    for _ in 0..4 {
        let w = wg.clone();
        go(move || {
            register_loop();
            w.done();
        });
    }
    let t0 = gmpos::testing::hw::now_ns();
    while counters().0 - a0 < 2000 && GMPOS_REGS_FAIL.load(Ordering::Relaxed) == 0 {
        gmpos::sleep(Duration::from_millis(10));
        assert!(
            gmpos::testing::hw::now_ns() - t0 < 120_000_000_000,
            "not 2000 preemptions in 120 s"
        );
    }
    GMPOS_REGS_STOP.store(1, Ordering::Relaxed);
    wg.wait();
    let (a1, c1, r1) = counters();
    let fail = GMPOS_REGS_FAIL.load(Ordering::Relaxed);
    gmpos::test_note!(
        "4 register-checking goroutines: {} async preemptions ({} cooperative, {} refused), {} checks",
        a1 - a0,
        c1,
        r1,
        GMPOS_REGS_ITERS.load(Ordering::Relaxed)
    );
    assert_eq!(
        fail,
        0,
        "corrupted by preemption: {}",
        NAMES[(fail.max(1) - 1) as usize]
    );
    assert!(a1 - a0 >= 2000);
}
