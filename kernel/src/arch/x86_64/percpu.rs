//! Per-CPU state, reached through the GS base.
//!
//! Each CPU's `GS_BASE` MSR points at its own [`PerCpu`]. The first field is
//! the struct's own address, so `mov reg, gs:[0]` yields a normal pointer, and
//! hot fields are read with a single `gs:`-relative load (see [`cpu_index`]).
//! Everything runs in ring 0, so there is no `swapgs`: GS always holds the
//! kernel's per-CPU pointer.
//!
//! The array is static (no heap needed at boot, no `Vec` indexed by a hardware
//! APIC id on hot paths): CPU *index* i (0 = the bootstrap CPU) owns `CPUS[i]`.
use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

pub use crate::arch::MAX_CPUS;

/// Number of IST stacks in use (see `gdt.rs` for which is which).
pub const IST_COUNT: usize = 5;

/// One CPU's private state. `#[repr(C)]` because assembly reads fields at
/// fixed offsets.
#[repr(C)]
pub struct PerCpu {
    /// Address of this struct (read as `gs:[0]`).
    pub self_ptr: UnsafeCell<*const PerCpu>,
    /// CPU index: 0 for the bootstrap CPU, then in MADT order.
    pub index: u32,
    /// Local APIC id (x2APIC id when in x2APIC mode).
    pub apic_id: AtomicU32,
    /// Runtime (spin) locks held by the code running on this CPU. This is the
    /// M's `locks` count of Go (M = CPU here): while it is non-zero, the
    /// running goroutine must not be preempted or block.
    pub locks: AtomicU32,
    /// Hardware-interrupt nesting depth (timer, IPIs, devices).
    pub irq_depth: AtomicU32,
    /// Per-IST-stack nesting depth: a second trap on the same IST stack would
    /// silently overwrite the first one's frame, so it is detected and named.
    pub ist_depth: [AtomicU32; IST_COUNT + 1],
    /// The G running on this CPU: a goroutine, or the M's g0 while the
    /// scheduler runs (Go's `getg()`). Opaque here: `sched` owns the type.
    /// The context switch updates it with interrupts off, together with RSP.
    pub g: AtomicUsize,
    /// This CPU's g0 (the scheduler's G, whose stack runs `schedule`).
    pub g0: AtomicUsize,
    /// The scheduler's M for this CPU (opaque here: `sched` owns its type).
    pub m: AtomicUsize,
    /// Exceptions taken on this CPU (for tests and dumps).
    pub exceptions: AtomicU64,
    /// Last RIP seen by the NMI handler (debug dumps).
    pub nmi_rip: AtomicU64,
}

// SAFETY: the only non-Sync field is `self_ptr`, written once per CPU before
// the GS base points at it and read-only afterwards.
unsafe impl Sync for PerCpu {}

impl PerCpu {
    const fn new(index: u32) -> Self {
        PerCpu {
            self_ptr: UnsafeCell::new(core::ptr::null()),
            index,
            apic_id: AtomicU32::new(0),
            locks: AtomicU32::new(0),
            irq_depth: AtomicU32::new(0),
            ist_depth: [const { AtomicU32::new(0) }; IST_COUNT + 1],
            g: AtomicUsize::new(0),
            g0: AtomicUsize::new(0),
            m: AtomicUsize::new(0),
            exceptions: AtomicU64::new(0),
            nmi_rip: AtomicU64::new(0),
        }
    }
}

static CPUS: [PerCpu; MAX_CPUS] = {
    let mut cpus = [const { PerCpu::new(0) }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        cpus[i].index = i as u32;
        i += 1;
    }
    cpus
};

/// Number of CPUs whose per-CPU state has been installed.
static ONLINE: AtomicU32 = AtomicU32::new(0);

/// Installs CPU `index`'s per-CPU block in this CPU's GS base.
///
/// # Safety
/// Must be called once per CPU, on that CPU, before anything reads per-CPU
/// state, with an index no other CPU uses.
pub unsafe fn install(index: usize) {
    let cpu = &CPUS[index];
    // SAFETY: nobody reads self_ptr before GS points here (caller contract).
    unsafe { *cpu.self_ptr.get() = cpu as *const PerCpu };
    ::x86_64::registers::model_specific::GsBase::write(::x86_64::VirtAddr::from_ptr(cpu));
    ONLINE.fetch_add(1, Ordering::Release);
}

/// This CPU's per-CPU block.
#[inline(always)]
pub fn this() -> &'static PerCpu {
    let p: *const PerCpu;
    // SAFETY: GS base points at a `PerCpu` whose first field is its own
    // address (installed by `install` before any caller runs).
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags, pure));
        &*p
    }
}

/// This CPU's index, in one `gs:`-relative load.
#[inline(always)]
pub fn cpu_index() -> usize {
    let i: u32;
    // SAFETY: as in `this`; `index` sits at a fixed offset in `PerCpu`.
    unsafe {
        core::arch::asm!("mov {:e}, gs:[{off}]", out(reg) i, off = const offset_of!(PerCpu, index),
            options(nostack, readonly, preserves_flags, pure));
    }
    i as usize
}

/// Offset of [`PerCpu::g`] (read by the context switch as `gs:[PERCPU_G]`).
pub const PERCPU_G: usize = offset_of!(PerCpu, g);
/// Offset of [`PerCpu::g0`].
pub const PERCPU_G0: usize = offset_of!(PerCpu, g0);

/// The current G pointer in one `gs:`-relative load (Go: `getg()`).
#[inline(always)]
pub fn current_g() -> usize {
    let g: usize;
    // SAFETY: as in `this`; `g` sits at a fixed offset in `PerCpu`.
    unsafe {
        core::arch::asm!("mov {}, gs:[{off}]", out(reg) g, off = const PERCPU_G,
            options(nostack, readonly, preserves_flags));
    }
    g
}

/// Offset of [`PerCpu::locks`].
pub const PERCPU_LOCKS: usize = offset_of!(PerCpu, locks);

/// This CPU's `locks` count, in one `gs:`-relative load (a goroutine
/// migrating between reading `this()` and the field would read another
/// CPU's count).
#[inline(always)]
pub fn locks() -> u32 {
    let v: u32;
    // SAFETY: a single load of this CPU's own counter.
    unsafe {
        core::arch::asm!("mov {v:e}, gs:[{off}]", off = const PERCPU_LOCKS, v = out(reg) v,
            options(nostack, readonly, preserves_flags));
    }
    v
}

/// Offset of [`PerCpu::irq_depth`].
pub const PERCPU_IRQ_DEPTH: usize = offset_of!(PerCpu, irq_depth);

/// This CPU's hardware-interrupt nesting depth, in one `gs:`-relative load
/// (for the same reason as [`locks`]).
#[inline(always)]
pub fn irq_depth() -> u32 {
    let v: u32;
    // SAFETY: a single load of this CPU's own counter.
    unsafe {
        core::arch::asm!("mov {v:e}, gs:[{off}]", off = const PERCPU_IRQ_DEPTH, v = out(reg) v,
            options(nostack, readonly, preserves_flags));
    }
    v
}

/// `locks += 1` on the CPU this runs on, in one `gs:`-relative instruction.
/// (Reading `this()` and then incrementing would be two steps: a goroutine
/// preempted in between would bump the count of the CPU it left.)
#[inline(always)]
pub fn locks_inc() {
    // SAFETY: a single read-modify-write of this CPU's own counter; no other
    // CPU writes it, and an interrupt cannot split one instruction.
    unsafe {
        core::arch::asm!("add dword ptr gs:[{off}], 1", off = const PERCPU_LOCKS, options(nostack));
    }
}

/// `locks -= 1` on this CPU in one instruction; returns the new count.
#[inline(always)]
pub fn locks_dec() -> u32 {
    let mut v: u32 = u32::MAX; // -1
    // SAFETY: as in `locks_inc`; xadd returns the old value.
    unsafe {
        core::arch::asm!("xadd dword ptr gs:[{off}], {v:e}", off = const PERCPU_LOCKS, v = inout(reg) v, options(nostack));
    }
    v.wrapping_sub(1)
}

/// CPU `index`'s per-CPU block (for cross-CPU reads: dumps, IPIs).
pub fn cpu(index: usize) -> &'static PerCpu {
    &CPUS[index]
}

/// Number of CPUs that installed their per-CPU state.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire) as usize
}
