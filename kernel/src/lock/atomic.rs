//! The atomics shim: `core::sync::atomic` in the kernel and in host unit
//! tests, `loom::sync::atomic` when built with `--cfg loom`.
//!
//! The lock-free scheduler parts (the per-P run queue above all) and the
//! `sync` primitives' state words (the Mutex above all) import their
//! atomics from here and nowhere else, so that loom sees every atomic access
//! and can explore all interleavings and weak-memory outcomes of the protocol
//! (Go: `runtime/internal/atomic`, whose `LoadAcq`/`StoreRel`/`CasRel` map to
//! `Acquire`/`Release` orderings here).
//!
//! Loom's atomics have no `const fn new`, so a type holding them can only have
//! a `const` constructor outside loom. The convention in the scheduler is a
//! `const fn new()` under `cfg(not(loom))` and a plain `fn new()` under
//! `cfg(loom)`, with the same body.

#[cfg(loom)]
pub use loom::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

#[cfg(not(loom))]
pub use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

/// Busy-wait hint for spin loops (Go: `procyield`).
///
/// On hardware this is `pause`, which tells the CPU we are spinning (saves
/// power, frees the sibling hyperthread, avoids a memory-order mis-speculation
/// penalty on exit). Under loom a spinning thread must yield instead, or the
/// model checker would explore the spin forever without letting the thread it
/// waits for make progress.
#[inline(always)]
pub fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
