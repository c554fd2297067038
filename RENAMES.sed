# Path renames of the restr-arch branch (arch fence, lower-layer DAG).
# Apply with: sed -E -i -f RENAMES.sed <files>
# Clock: the TSC clock is the leaf module `clock` (time keeps Instant/sleep,
# and re-exports now_ns/ns_to_cycles/cycles_to_ns for compatibility).
s/crate::time::(now_ns|mark_boot|tsc_at_boot|set_tsc_hz|tsc_hz|ns_per_cycle_fp32|cycles_to_ns|ns_to_cycles)\b/crate::clock::\1/g
s/crate::time::convert\b/crate::clock::convert/g
s/use super::convert;/use crate::clock::convert;/g
# Address-space constants: the leaf module `layout`.
s/crate::mem::layout\b/crate::layout/g
s/crate::mem::phys_to_virt\b/crate::layout::phys_to_virt/g
s/gmpos::mem::layout\b/gmpos::layout/g
# Interrupts: only arch names the instructions (arch::irq).
s/::x86_64::instructions::interrupts::without_interrupts\(/crate::arch::irq::without(/g
s/::x86_64::instructions::interrupts::enable_and_hlt\(\)/crate::arch::irq::enable_and_hlt()/g
s/::x86_64::instructions::interrupts::disable\(\)/crate::arch::irq::disable()/g
s/::x86_64::instructions::interrupts::enable\(\)/crate::arch::irq::enable()/g
s/::x86_64::instructions::interrupts::are_enabled\(\)/crate::arch::irq::enabled()/g
s/crate::arch::interrupts_enabled\(\)/crate::arch::irq::enabled()/g
s/\barch::interrupts_enabled\(\)/arch::irq::enabled()/g
# Runtime locks: the top-level module `lock` (was sync/spinlock.rs, sync/atomic.rs).
s/crate::sync::spinlock::/crate::lock::/g
s/crate::sync::atomic\b/crate::lock::atomic/g
s/crate::sync::\{IrqSpinLock, SpinLock\}/crate::lock::{IrqSpinLock, SpinLock}/g
s/crate::sync::(IrqSpinLock|SpinLock)\b/crate::lock::\1/g
s/gmpos::sync::(IrqSpinLock|SpinLock)\b/gmpos::lock::\1/g
s/^use super::SpinLock;/use crate::lock::SpinLock;/
s/^pub const MAX_PROCS: usize = 64;/pub const MAX_PROCS: usize = crate::arch::MAX_CPUS;/
# TLB: the limbo, lazy unmaps and recycling moved to mem::tlb_epoch; the
# shootdown, flush points and generations stay in arch::tlb.
s/\btlb::(reclaim|limbo_frames|force_epoch|frame_in_limbo|frame_recyclable|scheduler_flush_point|regain|unmap|unmap_and_free|Recycle|LIMBO_CAP|Unmapped)\b/tlb_epoch::\1/g
s/^use crate::arch::\{MAX_CPUS, percpu, tlb\};/use crate::arch::{MAX_CPUS, percpu, tlb};\nuse crate::mem::tlb_epoch;/
s/crate::init::(exit|fatal_exit)\b/crate::panic::\1/g
s/the TLB epoch's limbo \(`arch::tlb`, /the TLB epoch's limbo (`mem::tlb_epoch`, /
# Not expressible here (do by hand), then `cargo fmt` (import order):
#  - sched/proc.rs: `#[unsafe(export_name = "gmpos_goexit1")]` on `goexit1`
#    (arch/x86_64/switch.rs calls it by that symbol).
#  - sched/preempt.rs: `#[unsafe(export_name = "gmpos_async_preempt_park")]`
#    and `pub extern "C" fn async_preempt_park()` (keeps its link_section;
#    arch/x86_64/preempt.rs calls it by that symbol).
