//! Goroutine stacks. Every goroutine stack lives in its own virtual window in
//! the goroutine-stack region; the lowest page of the window is the guard page
//! and is never mapped. A G keeps its window for life (Go's `gfput` keeps the
//! stack), so windows are handed out once and reused with their G.
//!
//! For now every stack is mapped at a fixed size (`FIXED_STACK`) at the top of
//! its window; running into the unmapped part below is reported as a stack
//! overflow naming the goroutine.
use core::sync::atomic::{AtomicU64, Ordering};

use crate::mem::layout::{GSTACK_BASE, PAGE_SIZE};
use crate::mem::paging::{self, DATA};

/// Bytes mapped for each goroutine stack.
pub const FIXED_STACK: u64 = 16 * 1024;

static NEXT_WINDOW: AtomicU64 = AtomicU64::new(0);
static WINDOW_SIZE: AtomicU64 = AtomicU64::new(0);
static MAPPED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Sets the window size (the stack limit, `maxstack=`). Called once at boot.
pub fn init(window: u64) {
    WINDOW_SIZE.store(window.max(FIXED_STACK + PAGE_SIZE), Ordering::Relaxed);
}

/// Bytes of goroutine stack mapped now.
pub fn mapped_bytes() -> u64 {
    MAPPED_BYTES.load(Ordering::Relaxed)
}

/// A new stack: (lo, hi) of its mapped part. Fatal on out of memory.
pub fn alloc() -> (u64, u64) {
    let window = WINDOW_SIZE.load(Ordering::Relaxed);
    let idx = NEXT_WINDOW.fetch_add(1, Ordering::Relaxed);
    let hi = GSTACK_BASE + (idx + 1) * window;
    let lo = hi - FIXED_STACK;
    let mut va = lo;
    while va < hi {
        if paging::map_new(va, DATA).is_err() {
            crate::panic::fatal(format_args!("out of memory: cannot map a goroutine stack"));
        }
        va += PAGE_SIZE;
    }
    MAPPED_BYTES.fetch_add(FIXED_STACK, Ordering::Relaxed);
    (lo, hi)
}

/// The window containing `addr`, if it is in the goroutine-stack region:
/// (window base, window top).
pub fn window_of(addr: u64) -> Option<(u64, u64)> {
    let window = WINDOW_SIZE.load(Ordering::Relaxed);
    if addr < GSTACK_BASE || window == 0 {
        return None;
    }
    let idx = (addr - GSTACK_BASE) / window;
    if idx >= NEXT_WINDOW.load(Ordering::Relaxed) {
        return None;
    }
    Some((GSTACK_BASE + idx * window, GSTACK_BASE + (idx + 1) * window))
}
