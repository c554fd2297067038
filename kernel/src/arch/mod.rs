//! Hardware support. Everything that knows about registers, descriptor tables,
//! the APIC or I/O ports lives below `arch/`; the rest of the kernel uses the
//! interface re-exported here, and nothing else.
//!
//! `arch` sits just above the leaves (`clock`, `layout`): it imports nothing
//! from the scheduler, memory management, locks, the console or the panic
//! path. Where the hardware has to hand control up (a page fault, an NMI, a
//! fatal exception, an AP reaching Rust, the last runtime lock released, a
//! goroutine returning, an asynchronous preemption), it calls an *upcall*: a
//! function registered at boot by the layer above (`set_*_handler`), or a
//! link-time `extern "C"` symbol for the naked assembly. ARCHITECTURE.md,
//! "Upcalls", lists them.
//!
//! Only [`MAX_CPUS`] builds on the host (the scheduler's pure parts size
//! their arrays with it).
pub mod upcall;
#[cfg(target_os = "none")]
mod x86_64;

pub use upcall::Upcall;

/// Compile-time bound on the number of CPUs gmpos runs on (and so on the
/// number of Ps, Go's `GOMAXPROCS`). More CPUs in the MADT than this is
/// reported, and the kernel runs on the first `MAX_CPUS`.
pub const MAX_CPUS: usize = 64;

// Every set of CPUs (online CPUs, cross-call targets, idle Ps, the Ps a
// stop-the-world waits for) is a `u64` with bit i for CPU (or P) i.
const _: () = assert!(
    MAX_CPUS <= u64::BITS as usize,
    "CPU and P sets are u64 bitmasks of CPU indices"
);

#[cfg(target_os = "none")]
pub use self::x86_64::{
    apic, cpuinfo, debugcon, exceptions, frames, gdt, ioapic, ipi, irq, percpu, pic, preempt, qemu,
    report_lock, serial, smp, switch, timer, tlb, trap, tsc,
};

#[cfg(target_os = "none")]
pub use self::x86_64::fixup::{ProbeFault, probe_read, probe_write};
#[cfg(target_os = "none")]
pub use self::x86_64::percpu::cpu_index;
#[cfg(target_os = "none")]
pub use self::x86_64::switch::Gobuf;
#[cfg(target_os = "none")]
pub use self::x86_64::trap::TrapFrame;
#[cfg(target_os = "none")]
pub use self::x86_64::{halt_forever, rdtsc};
