//! The `UnsafeCell` shim: loom's checked cell under `--cfg loom`, a thin
//! wrapper of `core::cell::UnsafeCell` with the same API otherwise.
//!
//! Data handed between goroutines without an atomic of its own (a channel's
//! buffered values, the value a sender copies into a parked receiver's
//! slot, a sudog's `success`) lives in these cells, so that the channel's
//! loom models check that every read happens after the write it reads
//! (loom tracks each access: `with` reads, `with_mut` writes), not only
//! that the atomics agree.

#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// `core::cell::UnsafeCell` with loom's access API (`with`, `with_mut`).
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub const fn new(v: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(v))
    }

    /// Reads through the pointer (the caller excludes concurrent writes).
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Writes through the pointer (the caller excludes concurrent access).
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
