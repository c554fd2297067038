//! The kernel heap: `linked_list_allocator` behind an interrupt-safe spin
//! lock, with counters. All of `alloc` goes through here, so per-CPU caches
//! can later be put in front without touching callers.
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use linked_list_allocator::Heap;

use super::paging::{self, DATA};
use crate::layout::{HEAP_START, PAGE_SIZE};
use crate::lock::IrqSpinLock;

pub struct KernelHeap {
    heap: IrqSpinLock<Heap>,
    size: AtomicU64,
    in_use: AtomicU64,
    allocs: AtomicU64,
    frees: AtomicU64,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: IrqSpinLock::new(Heap::empty()),
    size: AtomicU64::new(0),
    in_use: AtomicU64::new(0),
    allocs: AtomicU64::new(0),
    frees: AtomicU64::new(0),
};

/// Heap counters.
#[derive(Debug, Clone, Copy)]
pub struct HeapStats {
    pub size: u64,
    pub in_use: u64,
    pub allocs: u64,
    pub frees: u64,
}

pub fn stats() -> HeapStats {
    HeapStats {
        size: HEAP.size.load(Ordering::Relaxed),
        in_use: HEAP.in_use.load(Ordering::Relaxed),
        allocs: HEAP.allocs.load(Ordering::Relaxed),
        frees: HEAP.frees.load(Ordering::Relaxed),
    }
}

pub(super) fn init(size: usize) {
    let size = (size as u64).next_multiple_of(PAGE_SIZE);
    let mut va = HEAP_START;
    while va < HEAP_START + size {
        if let Err(e) = paging::map_new(va, DATA) {
            panic!(
                "out of memory: mapping a {} MiB heap failed at {:#x}: {e:?}",
                size >> 20,
                va
            );
        }
        va += PAGE_SIZE;
    }
    // SAFETY: the range was just mapped, is used by nothing else and stays
    // mapped forever.
    unsafe { HEAP.heap.lock().init(HEAP_START as *mut u8, size as usize) };
    HEAP.size.store(size, Ordering::Relaxed);
}

// SAFETY: linked_list_allocator returns properly sized and aligned blocks
// and the lock serialises all access to it.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // The guard is dropped before the out-of-memory report (which
        // reads the counters and prints goroutines).
        let got = self.heap.lock().allocate_first_fit(layout);
        match got {
            Ok(p) => {
                self.in_use
                    .fetch_add(layout.size() as u64, Ordering::Relaxed);
                self.allocs.fetch_add(1, Ordering::Relaxed);
                p.as_ptr()
            }
            // Nothing in the kernel allocates fallibly (no `try_reserve`),
            // and Rust's default handler would only say `memory allocation
            // failed`: stop here with the counters, as Go does.
            Err(()) => super::out_of_memory(format_args!(
                "cannot allocate a {}-byte heap block (heap=, align {})",
                layout.size(),
                layout.align()
            )),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc contract).
        unsafe {
            self.heap
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout)
        };
        self.in_use
            .fetch_sub(layout.size() as u64, Ordering::Relaxed);
        self.frees.fetch_add(1, Ordering::Relaxed);
    }
}
