//! Upcalls: a lower layer calling a function of a layer above it, which it
//! must not import (the page-fault handler growing a goroutine stack, the
//! last runtime lock honouring a pending preemption...). The layer above
//! registers the function once at boot; the lower layer calls it if it is
//! there. ARCHITECTURE.md, "Upcalls", lists every one.
use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A slot for one registered function pointer of type `F`: one atomic word,
/// so it may be read from any context (interrupt handlers, NMI, the fault
/// path) without a lock.
pub struct Upcall<F: Copy> {
    f: AtomicUsize,
    _f: PhantomData<F>,
}

impl<F: Copy> Upcall<F> {
    /// An empty slot.
    ///
    /// # Safety
    /// `F` must be a function pointer type (`fn(..) -> ..`): the slot stores
    /// it as a `usize` and reads it back as an `F`.
    pub const unsafe fn new() -> Self {
        assert!(core::mem::size_of::<F>() == core::mem::size_of::<usize>());
        Upcall {
            f: AtomicUsize::new(0),
            _f: PhantomData,
        }
    }

    /// Registers `f` (replacing whatever was there).
    pub fn set(&self, f: F) {
        // SAFETY: `F` is a function pointer (`new`'s contract), the size of
        // a usize (asserted in `new`), never 0.
        let v = unsafe { core::mem::transmute_copy::<F, usize>(&f) };
        self.f.store(v, Ordering::Release);
    }

    /// The registered function, if any.
    #[inline]
    pub fn get(&self) -> Option<F> {
        let v = self.f.load(Ordering::Acquire);
        // SAFETY: only `set` stores a non-zero value, always an `F`.
        (v != 0).then(|| unsafe { core::mem::transmute_copy::<usize, F>(&v) })
    }
}
