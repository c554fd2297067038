//! Memory: physical frames, the kernel page tables, the heap and kernel
//! stacks with guard pages.
//!
//! Lock order (outer first): `paging` -> `frame`; `heap` -> `paging` -> `frame`.
//! The page-fault path takes none of them (see `kstack::guard_hit`).
pub mod frame;
pub mod heap;
pub mod kstack;
pub mod paging;
pub mod tlb_epoch;

use bootloader_api::BootInfo;

use crate::layout;

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
        "mem: frames {} free of {} ({} MiB used); heap {} KiB in use of {} MiB ({} allocs, {} frees)",
        free,
        total,
        ((total - free) * 4096) >> 20,
        h.in_use >> 10,
        h.size >> 20,
        h.allocs,
        h.frees
    );
}
