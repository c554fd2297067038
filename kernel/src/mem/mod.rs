//! Memory: physical frames, the kernel page tables, the heap and kernel
//! stacks with guard pages.
//!
//! Lock order (outer first): `paging` -> `frame`; `heap` -> `paging` -> `frame`.
//! The page-fault path takes none of them (see `kstack::guard_hit`).
pub mod frame;
pub mod heap;
pub mod kstack;
pub mod paging;
pub mod sizeclass;
pub mod tlb_epoch;

use bootloader_api::BootInfo;

use crate::arch::Upcall;
use crate::layout;

/// Prints the counters of memory users above `mem` (the goroutine stacks,
/// the goroutine count) in an out-of-memory report: the scheduler's.
// SAFETY: a function pointer type.
static OOM_DETAIL: Upcall<fn()> = unsafe { Upcall::new() };

/// Registers what [`out_of_memory`] prints after the frame and heap
/// counters (the scheduler's stack counters).
pub fn set_oom_detail(f: fn()) {
    OOM_DETAIL.set(f);
}

/// Go's `throw("out of memory")`: `fatal error: runtime: out of memory`,
/// the line naming what could not be had, the frame and heap counters (and
/// the stacks', through the upcall), then the usual context; status 2.
/// Memory exhaustion is never returned to callers: like Go, a kernel that
/// cannot get a frame or a heap block for the runtime stops with a report
/// rather than limp on (or hang, or fault on a null pointer).
pub fn out_of_memory(what: core::fmt::Arguments) -> ! {
    crate::panic::fatal_with(format_args!("runtime: out of memory"), &|| {
        let (total, free) = frame::stats_unlocked();
        let h = heap::stats();
        crate::console::emergency(format_args!(
            "runtime: out of memory: {what}\nruntime: frames {free} free of {total}; heap {} of {} bytes in use, {} cached ({} allocs, {} frees)\n",
            h.in_use, h.size, h.cached, h.allocs, h.frees
        ));
        if let Some(f) = OOM_DETAIL.get() {
            f();
        }
    })
}

/// Sets up frames, paging and the heap from the bootloader's hand-off.
pub fn init(boot_info: &'static mut BootInfo, heap_size: usize) {
    let offset = boot_info
        .physical_memory_offset
        .into_option()
        .expect("bootloader did not map physical memory");
    assert_eq!(
        offset,
        layout::PHYS_OFFSET,
        "physical memory mapped at an unexpected address"
    );
    frame::init(&boot_info.memory_regions);
    paging::init();
    heap::init(heap_size);
}

/// Prints the memory counters: frames, heap (the goroutine stacks' are
/// the scheduler's: `sched::dump::print_stack_stats`).
pub fn print_stats() {
    let (total, free) = frame::stats();
    let h = heap::stats();
    crate::println!(
        "mem: frames {} free of {} ({} MiB used); heap {} KiB in use, {} KiB cached, of {} MiB ({} allocs, {} frees)",
        free,
        total,
        ((total - free) * 4096) >> 20,
        h.in_use >> 10,
        h.cached >> 10,
        h.size >> 20,
        h.allocs,
        h.frees
    );
}
