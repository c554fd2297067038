//! Kernel stacks with guard pages: IST stacks, g0 (scheduler) stacks, AP
//! boot stacks. Each stack gets its own 1 MiB slot in the kernel-stack
//! region and sits at the top of it; everything below it in the slot stays
//! unmapped, so running off the end faults and the fault is named.
//!
//! `guard_hit` runs in the page-fault handler and takes no lock: the slot
//! table is a static array of atomics.
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::paging::{self, DATA};
use crate::layout::{BOOT_STACK, KSTACK_BASE, PAGE_SIZE};

const SLOT_SIZE: u64 = 1 << 20;
const MAX_SLOTS: usize = 1024;

/// What a kernel stack is for (names the stack in overflow reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Ist = 1,
    G0 = 2,
    ApBoot = 3,
    Other = 4,
}

const KIND_NAMES: [&str; 5] = [
    "?",
    "IST stack",
    "g0 (scheduler) stack",
    "AP boot stack",
    "kernel stack",
];

/// slot -> (kind << 24 | cpu << 8 | detail) ; 0 = free.
static SLOT_OWNER: [AtomicU32; MAX_SLOTS] = [const { AtomicU32::new(0) }; MAX_SLOTS];
static SLOT_SIZE_BYTES: [AtomicU64; MAX_SLOTS] = [const { AtomicU64::new(0) }; MAX_SLOTS];
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// A mapped kernel stack.
#[derive(Debug, Clone, Copy)]
pub struct KernelStack {
    pub bottom: u64,
    pub top: u64,
}

/// The stack whose guard area a faulting address hit.
pub struct GuardHit {
    pub name: &'static str,
    pub cpu: u32,
}

/// Allocates and maps a `size`-byte stack for `cpu`. Stacks are never freed
/// (CPUs never go away).
pub fn alloc(kind: Kind, cpu: usize, size: u64) -> KernelStack {
    let size = size.next_multiple_of(PAGE_SIZE);
    assert!(
        size <= SLOT_SIZE - PAGE_SIZE,
        "kernel stack of {size} bytes too large"
    );
    let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) as usize;
    assert!(slot < MAX_SLOTS, "out of kernel stack slots");
    let top = KSTACK_BASE + (slot as u64 + 1) * SLOT_SIZE;
    let bottom = top - size;
    let mut va = bottom;
    while va < top {
        if paging::map_new(va, DATA).is_err() {
            super::out_of_memory(format_args!("cannot map a kernel stack for cpu {cpu}"));
        }
        va += PAGE_SIZE;
    }
    SLOT_SIZE_BYTES[slot].store(size, Ordering::Relaxed);
    SLOT_OWNER[slot].store(
        ((kind as u32) << 24) | ((cpu as u32) << 8),
        Ordering::Release,
    );
    KernelStack { bottom, top }
}

/// If `addr` is in the guard area below a kernel stack (or the boot stack's
/// guard page), names that stack.
pub fn guard_hit(addr: u64) -> Option<GuardHit> {
    if (BOOT_STACK..BOOT_STACK + PAGE_SIZE).contains(&addr) {
        return Some(GuardHit {
            name: "boot stack",
            cpu: 0,
        });
    }
    if addr < KSTACK_BASE {
        return None;
    }
    let slot = ((addr - KSTACK_BASE) / SLOT_SIZE) as usize;
    if slot >= MAX_SLOTS {
        return None;
    }
    let owner = SLOT_OWNER[slot].load(Ordering::Acquire);
    if owner == 0 {
        return None;
    }
    let top = KSTACK_BASE + (slot as u64 + 1) * SLOT_SIZE;
    let bottom = top - SLOT_SIZE_BYTES[slot].load(Ordering::Relaxed);
    if addr >= bottom {
        return None;
    }
    Some(GuardHit {
        name: KIND_NAMES[(owner >> 24) as usize],
        cpu: (owner >> 8) & 0xffff,
    })
}
