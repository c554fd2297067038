//! Helpers shared by the SMP test kernels (`smp`, `ipi`, `apic_timer`,
//! `tlb`, `alloc_smp`): running a function on every CPU at the same moment,
//! whether the clock is deterministic (QEMU's icount), and the CPU count
//! QEMU was started with.
#![allow(dead_code)]

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::hw::{apic, ipi, percpu, smp};

/// The vector [`on_all_cpus`] uses to start the other CPUs.
pub const WORK_VECTOR: u8 = 0x70;

static WORK: AtomicUsize = AtomicUsize::new(0);
static ARRIVED: AtomicUsize = AtomicUsize::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);

fn on_work(_: &mut TrapFrame) {
    apic::eoi();
    run_share();
}

fn run_share() {
    let me = percpu::cpu_index();
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    // Start together: everyone waits for everyone (serving cross-calls, as
    // interrupts may be off here).
    while ARRIVED.load(Ordering::Acquire) < smp::ncpu() {
        ipi::service();
        core::hint::spin_loop();
    }
    // SAFETY: only `on_all_cpus` stores here, always a valid `fn(usize)`.
    let f: fn(usize) =
        unsafe { core::mem::transmute::<usize, fn(usize)>(WORK.load(Ordering::Acquire)) };
    f(me);
    DONE.fetch_or(1 << me, Ordering::AcqRel);
}

/// Runs `f(cpu index)` on every online CPU at the same moment and returns
/// when all are done. The calling goroutine stays on its CPU and runs its
/// share in goroutine context (interrupts on); the other CPUs run theirs in
/// the interrupt handler of [`WORK_VECTOR`] (interrupts off, on their
/// interrupt stack), so `f` must not block or yield.
pub fn on_all_cpus(f: fn(usize)) {
    let _pin = gmpos::testing::sched::AcquireM::new();
    trap::register(WORK_VECTOR, on_work);
    WORK.store(f as usize, Ordering::Release);
    ARRIVED.store(0, Ordering::Release);
    DONE.store(0, Ordering::Release);
    let me = percpu::cpu_index();
    for cpu in (0..smp::ncpu()).filter(|&c| c != me) {
        ipi::send(cpu, WORK_VECTOR);
    }
    run_share();
    while DONE.load(Ordering::Acquire) != smp::online_mask() {
        ipi::service();
        core::hint::spin_loop();
    }
}

/// Waits until every CPU runs the scheduler (its M allocated its g0): the
/// APs get there a little after the main goroutine starts, and tests that
/// count heap allocations must not see theirs.
pub fn wait_for_all_ms() {
    for cpu in 0..smp::ncpu() {
        while percpu::cpu(cpu).g0.load(Ordering::Acquire) == 0 {
            core::hint::spin_loop();
        }
    }
}

/// Is time deterministic (QEMU's `-icount shift=0`: the TSC counts
/// instructions)? Timing assertions are made only then.
pub fn icount() -> bool {
    gmpos::testing::hw::tsc::counts_instructions()
}

/// The number of CPUs QEMU was started with (`-smp`), from fw_cfg's
/// `FW_CFG_NB_CPUS` item; None without fw_cfg.
pub fn qemu_smp() -> Option<u16> {
    fn select(key: u16) {
        // SAFETY: fw_cfg's selector port; writing it only selects an item.
        unsafe {
            core::arch::asm!("out dx, ax", in("dx") 0x510u16, in("ax") key, options(nostack))
        };
    }
    fn byte() -> u8 {
        let b: u8;
        // SAFETY: reading fw_cfg's data port only advances its offset.
        unsafe { core::arch::asm!("in al, dx", in("dx") 0x511u16, out("al") b, options(nostack)) };
        b
    }
    select(0);
    let sig = [byte(), byte(), byte(), byte()];
    if &sig != b"QEMU" {
        return None;
    }
    select(5);
    Some(u16::from_le_bytes([byte(), byte()]))
}
