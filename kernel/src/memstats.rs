//! Go's `runtime.ReadMemStats`: one snapshot of the memory and goroutine
//! counters the kernel keeps anyway.
//!
//! The counters are read one after another without stopping the world
//! (Go's `ReadMemStats` stops it; here a stop is costly and the counters
//! are each exact on their own): fields read while other CPUs allocate
//! may disagree with each other by the allocations in between.
use core::sync::atomic::Ordering;

use crate::mem::{frame, heap};
use crate::sched::schedt::SCHED;
use crate::sched::{p, stack};

/// Go: `runtime.MemStats`, with the figures a kernel without a GC has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemStats {
    /// Usable physical frames (4 KiB pages) in the machine (Go: `Sys`, in
    /// frames).
    pub frames_total: u64,
    /// Frames free now; `frames_total - frames_free` is every page the
    /// kernel uses: heap, stacks, page tables.
    pub frames_free: u64,
    /// Heap bytes in live allocations, small objects counted at their
    /// size class (Go: `HeapAlloc`).
    pub heap_in_use: u64,
    /// Heap bytes of free small objects kept in the per-CPU and central
    /// free lists for reuse (Go: the free part of `HeapInuse`).
    pub heap_cached: u64,
    /// Bytes of the heap (fixed at boot: `heap=`) (Go: `HeapSys`).
    pub heap_size: u64,
    /// Bytes of goroutine stack mapped now (Go: `StackInuse`).
    pub stack_mapped: u64,
    /// Live user goroutines (Go: `runtime.NumGoroutine`).
    pub goroutines: u64,
    /// Goroutine records ever allocated: live plus free for reuse (they
    /// are never released).
    pub goroutines_allocated: u64,
    /// Timers pending on every P's timer heap (sleeps, tickers).
    pub timers: u64,
}

/// Go: `runtime.ReadMemStats`. Returns the counters now (see the module
/// documentation about consistency). Safe to call from any goroutine; it
/// takes short spin locks (the frame allocator's, each P's timer heap's),
/// so not from an interrupt handler that may have interrupted them.
pub fn read_mem_stats() -> MemStats {
    let (frames_total, frames_free) = frame::stats();
    let h = heap::stats();
    // Every P that can exist on this machine, not only the first
    // `gomaxprocs`: a concurrent `set_gomaxprocs` moves timers between Ps.
    let timers = (0..SCHED.ncpu.load(Ordering::Relaxed) as usize)
        .map(|i| p::p(i).timers.pending() as u64)
        .sum();
    MemStats {
        frames_total,
        frames_free,
        heap_in_use: h.in_use,
        heap_cached: h.cached,
        heap_size: h.size,
        stack_mapped: stack::STATS.mapped.load(Ordering::Relaxed),
        goroutines: crate::sched::num_goroutine(),
        goroutines_allocated: SCHED.nallocated.load(Ordering::Relaxed),
        timers,
    }
}
