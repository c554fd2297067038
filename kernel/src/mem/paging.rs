//! The kernel page tables: map and unmap 4 KiB pages in the address space all
//! CPUs share, on the bootloader's physical-memory mapping (`OffsetPageTable`).
//!
//! Unmapping here flushes only this CPU's TLB; before reusing the frame of a
//! page any other CPU may have cached, unmap through `mem::tlb_epoch::unmap` (a
//! shootdown, or the TLB epoch's limbo).
use core::sync::atomic::AtomicU64;
use x86_64::structures::paging::mapper::{MapToError, Translate};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
};

use x86_64::{PhysAddr, VirtAddr};

use super::frame::{self, KernelFrames};
use crate::layout::PHYS_OFFSET;
use crate::lock::IrqSpinLock;

static MAPPER: IrqSpinLock<Option<OffsetPageTable<'static>>> = IrqSpinLock::new(None);

/// Flags for kernel data: present, writable, never executable.
pub const DATA: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::NO_EXECUTE);

/// Why a mapping failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    OutOfMemory,
    AlreadyMapped,
}

pub(super) fn init() {
    // NX must be on before any NO_EXECUTE entry is used (the bootloader sets
    // it too; APs set it in their trampoline).
    // SAFETY: enabling NXE only makes the NX bit meaningful; no mapping
    // relies on it being off.
    unsafe {
        x86_64::registers::control::Efer::update(|e| {
            *e |= x86_64::registers::control::EferFlags::NO_EXECUTE_ENABLE
        })
    };
    let (l4, _) = x86_64::registers::control::Cr3::read();
    let l4_virt = (PHYS_OFFSET + l4.start_address().as_u64()) as *mut PageTable;
    // SAFETY: CR3 holds the active level-4 table, all physical memory is
    // mapped at PHYS_OFFSET, and from now on only MAPPER touches the tables.
    let table = unsafe { OffsetPageTable::new(&mut *l4_virt, VirtAddr::new(PHYS_OFFSET)) };
    *MAPPER.lock() = Some(table);
}

/// Maps `page` to `frame` with `flags` (intermediate tables are allocated).
pub fn map(page: u64, frame: PhysAddr, flags: PageTableFlags) -> Result<(), MapError> {
    let mut guard = MAPPER.lock();
    let m = guard.as_mut().expect("paging not initialised");
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(page));
    let frame = PhysFrame::containing_address(frame);
    let parent = PageTableFlags::PRESENT | PageTableFlags::WRITABLE;
    // SAFETY: callers map fresh frames at addresses in kernel regions they
    // own; nothing else aliases them.
    match unsafe { m.map_to_with_table_flags(page, frame, flags, parent, &mut KernelFrames) } {
        Ok(flush) => {
            flush.flush();
            Ok(())
        }
        Err(MapToError::FrameAllocationFailed) => Err(MapError::OutOfMemory),
        Err(_) => Err(MapError::AlreadyMapped),
    }
}

/// Allocates a frame and maps it at `page`.
pub fn map_new(page: u64, flags: PageTableFlags) -> Result<PhysAddr, MapError> {
    let f = frame::alloc().ok_or(MapError::OutOfMemory)?;
    match map(page, f.start_address(), flags) {
        Ok(()) => Ok(f.start_address()),
        Err(e) => {
            // SAFETY: the frame was never mapped.
            unsafe { frame::free(f) };
            Err(e)
        }
    }
}

/// Unmaps `page` and flushes it from this CPU's TLB; returns the frame.
/// Other CPUs may still cache the translation: see `arch::tlb::shootdown`.
pub fn unmap(page: u64) -> Option<PhysAddr> {
    let mut guard = MAPPER.lock();
    let m = guard.as_mut().expect("paging not initialised");
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(page));
    let (frame, flush) = m.unmap(page).ok()?;
    flush.flush();
    Some(frame.start_address())
}

/// The physical address `va` maps to, if mapped.
pub fn translate(va: u64) -> Option<PhysAddr> {
    let guard = MAPPER.lock();
    guard
        .as_ref()
        .expect("paging not initialised")
        .translate_addr(VirtAddr::new(va))
}

/// The level-1 page-table entry for `va`, found without the page-table lock,
/// if every upper-level table exists. For the goroutine-stack fault path,
/// which must not take any lock the faulting code may hold: it writes
/// entries (atomically) in tables created beforehand with
/// [`ensure_tables`]. Tables are never freed, so the reference stays valid.
pub fn pte(va: u64) -> Option<&'static AtomicU64> {
    pte_run(va).map(|run| &run[0])
}

/// Like [`pte`], for `va` and the pages after it in the same level-1 table
/// (up to the next 2 MiB boundary): entry i is the page `va + i * 4 KiB`.
/// One walk for a run of pages.
pub fn pte_run(va: u64) -> Option<&'static [AtomicU64]> {
    let (l4, _) = x86_64::registers::control::Cr3::read();
    let mut table = l4.start_address().as_u64();
    for level in (1..=3).rev() {
        let idx = (va >> (12 + 9 * level)) & 0x1ff;
        // SAFETY: `table` is a live page-table page (reached from CR3) mapped
        // at PHYS_OFFSET; entries are naturally aligned u64s, read atomically.
        let e = unsafe { &*((PHYS_OFFSET + table + idx * 8) as *const AtomicU64) }
            .load(core::sync::atomic::Ordering::Acquire);
        if e & 1 == 0 || (level < 3 && e & (1 << 7) != 0) {
            return None;
        }
        table = e & 0x000f_ffff_ffff_f000;
    }
    let idx = ((va >> 12) & 0x1ff) as usize;
    // SAFETY: as above, for the level-1 table: its 512 entries from `idx`
    // on; the table is never freed, and the entries are only accessed
    // atomically.
    Some(unsafe {
        core::slice::from_raw_parts(
            (PHYS_OFFSET + table + idx as u64 * 8) as *const AtomicU64,
            512 - idx,
        )
    })
}

/// Creates the page tables covering `[start, end)` without mapping anything
/// there (each 2 MiB chunk gets its level-1 table).
///
/// The check and the creation happen under the page-table lock, and that
/// is what makes [`pte`]'s lock-free walk safe: the `x86_64` crate
/// publishes a new table's parent entry *before* it zeroes the table
/// (`create_next_table`). A walker that saw the entry then would read the
/// recycled frame's old contents as entries, and a PTE written into the
/// table before the zeroing would be lost (the race `scale_skynet` found:
/// a new goroutine's top stack page not present). Every table creator holds
/// the lock; so once `ensure_tables` returns, the tables of the range are
/// whole, and a lock-free walker of a range it owns only ever sees whole
/// tables. (Checked without the lock, a CPU could see another CPU's table
/// entry mid-creation, skip creating it, and write its PTE into it.)
pub fn ensure_tables(start: u64, end: u64) -> Result<(), MapError> {
    let mut scratch = [None; 4];
    let mut nscratch = 0;
    let mut result = Ok(());
    {
        let mut guard = MAPPER.lock();
        let m = guard.as_mut().expect("paging not initialised");
        let mut chunk = start & !((2 << 20) - 1);
        while chunk < end {
            let probe = chunk.max(start);
            if pte(probe).is_none() {
                // Map a scratch frame and unmap it again: the tables stay.
                let Some(f) = frame::alloc() else {
                    result = Err(MapError::OutOfMemory);
                    break;
                };
                let page = Page::<Size4KiB>::containing_address(VirtAddr::new(probe));
                let parent = PageTableFlags::PRESENT | PageTableFlags::WRITABLE;
                // SAFETY: `probe` is in a range the caller owns and has not
                // mapped; the frame is fresh and mapped only for this moment.
                match unsafe { m.map_to_with_table_flags(page, f, DATA, parent, &mut KernelFrames) }
                {
                    Ok(flush) => flush.flush(),
                    Err(e) => {
                        // SAFETY: the frame was never mapped.
                        unsafe { frame::free(f) };
                        result = Err(match e {
                            MapToError::FrameAllocationFailed => MapError::OutOfMemory,
                            _ => MapError::AlreadyMapped,
                        });
                        break;
                    }
                }
                if let Ok((f, flush)) = m.unmap(page) {
                    flush.flush();
                    if nscratch < scratch.len() {
                        scratch[nscratch] = Some(f);
                        nscratch += 1;
                    } else {
                        // SAFETY: as below.
                        unsafe { frame::free(f) };
                    }
                }
            }
            chunk += 2 << 20;
        }
    }
    for f in scratch.into_iter().flatten() {
        // SAFETY: the frame was mapped only for this moment, on this CPU,
        // and never accessed: no other TLB can hold it.
        unsafe { frame::free(f) };
    }
    result
}
