//! x86_64: descriptor tables, traps, per-CPU state, QEMU devices.
pub mod acpi;
pub mod apic;
pub mod cpuinfo;
pub mod debugcon;
pub mod exceptions;
pub mod fixup;
pub mod frames;
pub mod gdt;
pub mod ioapic;
pub mod ipi;
pub mod irq;
pub mod percpu;
pub mod pic;
pub mod pit;
pub mod preempt;
pub mod qemu;
pub mod report_lock;
pub mod serial;
pub mod smp;
pub mod switch;
pub mod timer;
pub mod tlb;
pub mod trampoline;
pub mod trap;
pub mod tsc;

/// Halts the CPU forever with interrupts off (the end of a fatal path).
pub fn halt_forever() -> ! {
    loop {
        irq::disable();
        ::x86_64::instructions::hlt();
    }
}

/// Reads the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no side effects; CR4.TSD is clear in ring 0 anyway.
    unsafe { core::arch::x86_64::_rdtsc() }
}
