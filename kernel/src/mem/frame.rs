//! The physical frame allocator: O(1) allocate and free.
//!
//! Usable memory from the bootloader's map is handed out by a bump pointer
//! over its regions; freed frames go on a LIFO free list threaded through the
//! frames themselves (their first 8 bytes, through the physical-memory
//! mapping) and are reused first. Nothing is touched at boot, so start-up
//! does not pay for walking a gigabyte of frames.
//!
//! Everything below 1 MiB is left alone: frame 0, the BIOS areas, and the
//! low page where the AP start-up trampoline is copied (bootloader 0.11
//! reports low memory as usable even though it avoids it itself).
use bootloader_api::info::{MemoryRegionKind, MemoryRegions};
use x86_64::PhysAddr;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

use crate::layout::PAGE_SIZE;
use crate::lock::IrqSpinLock;
use core::sync::atomic::{AtomicU64, Ordering};

/// Lowest physical address the allocator hands out.
pub const LOW_MEMORY_END: u64 = 0x10_0000;
const MAX_REGIONS: usize = 64;

struct Allocator {
    regions: [(u64, u64); MAX_REGIONS],
    nregions: usize,
    /// Region being bumped, and the next never-used frame in it.
    cur: usize,
    next: u64,
    /// Head of the free list (physical address; 0 = empty).
    free_head: u64,
    total: u64,
    free: u64,
    /// Usable memory below `LOW_MEMORY_END` (never handed out; the AP
    /// start-up trampoline picks its pages from here).
    low: [(u64, u64); MAX_LOW_REGIONS],
    nlow: usize,
}

const MAX_LOW_REGIONS: usize = 8;

static FRAMES: IrqSpinLock<Allocator> = IrqSpinLock::new(Allocator {
    regions: [(0, 0); MAX_REGIONS],
    nregions: 0,
    cur: 0,
    next: 0,
    free_head: 0,
    total: 0,
    free: 0,
    low: [(0, 0); MAX_LOW_REGIONS],
    nlow: 0,
});

/// Frame counts: (total usable, free now).
pub fn stats() -> (u64, u64) {
    let a = FRAMES.lock();
    (a.total, a.free)
}

/// [`stats`] for a fatal report, which may run where the allocator's lock
/// is held (on this CPU, or by a CPU that stopped): a few tries, then
/// `(0, 0)` rather than a hang.
pub fn stats_unlocked() -> (u64, u64) {
    for _ in 0..1000 {
        if let Some(a) = FRAMES.try_lock() {
            return (a.total, a.free);
        }
        core::hint::spin_loop();
    }
    (0, 0)
}

pub(super) fn init(map: &MemoryRegions) {
    let mut a = FRAMES.lock();
    for r in map.iter().filter(|r| r.kind == MemoryRegionKind::Usable) {
        if r.start < LOW_MEMORY_END && a.nlow < MAX_LOW_REGIONS {
            let n = a.nlow;
            a.low[n] = (r.start, r.end.min(LOW_MEMORY_END));
            a.nlow += 1;
        }
        let start = r.start.max(LOW_MEMORY_END).next_multiple_of(PAGE_SIZE);
        let end = r.end & !(PAGE_SIZE - 1);
        if end <= start {
            continue;
        }
        if a.nregions == MAX_REGIONS {
            log::warn!(
                "frame allocator: more than {MAX_REGIONS} usable regions, ignoring {start:#x}..{end:#x}"
            );
            continue;
        }
        let n = a.nregions;
        a.regions[n] = (start, end);
        a.nregions += 1;
        a.total += (end - start) / PAGE_SIZE;
    }
    a.free = a.total;
    a.cur = 0;
    a.next = a.regions[0].0;
}

/// Is `[start, end)` (below `LOW_MEMORY_END`) usable RAM according to the
/// bootloader's memory map? Low memory is never handed out by [`alloc`], so
/// a usable low range belongs to whoever reserves it by name (the AP
/// start-up trampoline).
pub fn low_usable(start: u64, end: u64) -> bool {
    let a = FRAMES.lock();
    a.low[..a.nlow].iter().any(|&(s, e)| s <= start && end <= e)
}

/// Allocates one 4 KiB frame (contents undefined).
pub fn alloc() -> Option<PhysFrame<Size4KiB>> {
    let mut a = FRAMES.lock();
    let pa = if a.free_head != 0 {
        let pa = a.free_head;
        // SAFETY: free frames are owned by the allocator and hold the next
        // free frame's address in their first word.
        a.free_head = unsafe { (crate::layout::phys_to_virt(pa) as *const u64).read() };
        pa
    } else {
        loop {
            if a.cur >= a.nregions {
                return None;
            }
            if a.next < a.regions[a.cur].1 {
                let pa = a.next;
                a.next += PAGE_SIZE;
                break pa;
            }
            a.cur += 1;
            if a.cur < a.nregions {
                a.next = a.regions[a.cur].0;
            }
        }
    };
    a.free -= 1;
    Some(PhysFrame::containing_address(PhysAddr::new(pa)))
}

/// Is the frame at `pa` free (on the free list, or never handed out)? A
/// walk of the free list under the allocator's lock: for tests and leak
/// checks, not for hot paths.
pub fn is_free(pa: u64) -> bool {
    let pa = pa & !(PAGE_SIZE - 1);
    let a = FRAMES.lock();
    let unbumped = (a.cur < a.nregions && pa >= a.next && pa < a.regions[a.cur].1)
        || a.regions[a.cur.saturating_add(1).min(a.nregions)..a.nregions]
            .iter()
            .any(|&(s, e)| s <= pa && pa < e);
    if unbumped {
        return true;
    }
    let mut f = a.free_head;
    while f != 0 {
        if f == pa {
            return true;
        }
        // SAFETY: free frames are owned by the allocator (we hold its lock)
        // and hold the next free frame's address in their first word.
        f = unsafe { (crate::layout::phys_to_virt(f) as *const u64).read() };
    }
    false
}

/// Returns a frame to the allocator.
///
/// # Safety
/// The frame must come from [`alloc`], be unused and not be mapped anywhere
/// any CPU could still reach it (TLBs included).
pub unsafe fn free(frame: PhysFrame<Size4KiB>) {
    let pa = frame.start_address().as_u64();
    let mut a = FRAMES.lock();
    debug_assert!(a.free < a.total, "double free of frame {pa:#x}");
    // SAFETY: the caller gave the frame back; we own it and thread the list
    // through it.
    unsafe { (crate::layout::phys_to_virt(pa) as *mut u64).write(a.free_head) };
    a.free_head = pa;
    a.free += 1;
}

/// Adapter for the `x86_64` crate's mapper (page-table frames).
pub struct KernelFrames;

/// Frames the mapper took for page tables (tables are never freed): the
/// stress run's leak check accounts for the tables new stack windows need.
static TABLE_FRAMES: AtomicU64 = AtomicU64::new(0);

/// Frames ever allocated for page tables.
pub fn table_frames() -> u64 {
    TABLE_FRAMES.load(Ordering::Relaxed)
}

// SAFETY: `alloc` returns frames that are unused and exclusively owned.
unsafe impl x86_64::structures::paging::FrameAllocator<Size4KiB> for KernelFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let f = alloc();
        if f.is_some() {
            TABLE_FRAMES.fetch_add(1, Ordering::Relaxed);
        }
        f
    }
}
