//! TLB shootdown for kernel unmaps.
//!
//! All CPUs share the kernel page tables, but each caches translations in its
//! own TLB: after a page is unmapped, another CPU may still reach the old
//! frame through a stale entry. So a frame is reused only after every online
//! CPU flushed the range and acknowledged: [`shootdown`] is a synchronous
//! cross-call (`ipi::run_on_all`), whose waiting loop keeps serving incoming
//! cross-calls, so two CPUs shooting down at once do not deadlock.
//!
//! The caller must not hold a lock another CPU may spin on with interrupts
//! off (the page-table lock is released by `paging::unmap` before it
//! returns, so `unmap` then `shootdown` is fine).
use core::sync::atomic::{AtomicU64, Ordering};

use ::x86_64::registers::control::{Cr3, Cr4, Cr4Flags};

use super::ipi;
use super::percpu::MAX_CPUS;
use crate::mem::layout::PAGE_SIZE;
use crate::mem::{frame, paging};

/// Above this many pages, flush the whole TLB instead of page by page.
const FULL_FLUSH_PAGES: u64 = 32;

#[repr(C, align(64))]
struct Counter(AtomicU64);
static FLUSHES: [Counter; MAX_CPUS] = [const { Counter(AtomicU64::new(0)) }; MAX_CPUS];
static SHOOTDOWNS: AtomicU64 = AtomicU64::new(0);

/// Flushes this CPU's TLB entries for `[start, start + len)`.
pub fn flush_local(start: u64, len: u64) {
    let first = start & !(PAGE_SIZE - 1);
    let end = start.saturating_add(len);
    let pages = end.saturating_sub(first).div_ceil(PAGE_SIZE);
    if pages > FULL_FLUSH_PAGES {
        flush_all_local();
    } else {
        for i in 0..pages {
            ::x86_64::instructions::tlb::flush(::x86_64::VirtAddr::new(first + i * PAGE_SIZE));
        }
    }
    FLUSHES[super::percpu::cpu_index()]
        .0
        .fetch_add(1, Ordering::Relaxed);
}

/// Flushes this CPU's whole TLB, global entries included.
pub fn flush_all_local() {
    let cr4 = Cr4::read();
    if cr4.contains(Cr4Flags::PAGE_GLOBAL) {
        // Toggling CR4.PGE flushes everything, global pages included.
        // SAFETY: only the global-page bit changes, and it is restored.
        unsafe {
            Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
            Cr4::write(cr4);
        }
    } else {
        let (frame, flags) = Cr3::read();
        // SAFETY: reloading the current CR3 changes no translation.
        unsafe { Cr3::write(frame, flags) };
    }
}

/// Flushes `[start, start + len)` from every online CPU's TLB (this one
/// included) and returns once all have done it.
pub fn shootdown(start: u64, len: u64) {
    SHOOTDOWNS.fetch_add(1, Ordering::Relaxed);
    ipi::run_on_all(&|| flush_local(start, len));
}

/// Unmaps `npages` kernel pages from `start`, shoots the range down on every
/// CPU, then frees the frames (never before every CPU acknowledged). Pages
/// that were not mapped are skipped. Returns the number of frames freed.
pub fn unmap_and_free(start: u64, npages: u64) -> u64 {
    const BATCH: usize = 64;
    let mut freed = 0;
    let mut page = start & !(PAGE_SIZE - 1);
    let end = page + npages * PAGE_SIZE;
    while page < end {
        let batch_start = page;
        let mut frames = [0u64; BATCH];
        let mut n = 0;
        while page < end && n < BATCH {
            if let Some(pa) = paging::unmap(page) {
                frames[n] = pa.as_u64();
                n += 1;
            }
            page += PAGE_SIZE;
        }
        shootdown(batch_start, page - batch_start);
        for &pa in &frames[..n] {
            let f = ::x86_64::structures::paging::PhysFrame::containing_address(
                ::x86_64::PhysAddr::new(pa),
            );
            // SAFETY: the frame was mapped only at the page just unmapped,
            // and every CPU flushed that page from its TLB.
            unsafe { frame::free(f) };
        }
        freed += n as u64;
    }
    freed
}

/// TLB flushes CPU `cpu` performed for shootdowns (and local flushes).
pub fn flushes(cpu: usize) -> u64 {
    FLUSHES[cpu].0.load(Ordering::Relaxed)
}

/// Shootdowns issued by all CPUs.
pub fn shootdowns() -> u64 {
    SHOOTDOWNS.load(Ordering::Relaxed)
}
