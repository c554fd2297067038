//! Sudogs (Go: `type sudog` in runtime2.go) and their per-P cache (Go:
//! `acquireSudog`/`releaseSudog` in proc.go, `p.sudogcache`,
//! `sched.sudogcache`).
//!
//! A sudog is one goroutine waiting in one channel queue: a goroutine
//! blocked in a send or a receive has one, a goroutine blocked in a
//! `select` has one per case, queued on every channel at once. It points
//! at the waiter's value slot on the waiter's stack (`elem`), so that the
//! other side copies the value straight in or out (Go's `sendDirect` and
//! `recvDirect`).
//!
//! Blocking must not cost a heap allocation: sudogs come from a cache in
//! each P (only the P's own M touches it, with preemption off, like the
//! free-G cache), refilled from and spilled to a central list in batches of
//! half the cache; only when both are empty is one allocated, and none is
//! ever freed (Go's central list is unbounded too). The struct and the
//! cache logic are pure (host-tested; the channel's loom models allocate
//! their sudogs on the heap instead).
use core::ptr::{self, NonNull};

use crate::lock::atomic::AtomicBool;
use crate::lock::cell::UnsafeCell;

/// Go: `sudog`. `W` names the waiter: a `NonNull<G>` in the kernel, a
/// thread handle in the loom models.
///
/// All fields except `success` are written by the waiter before it is
/// queued and by the channel code under the lock of the channel whose
/// queue holds it; `success` and `elem`'s contents are handed from the
/// waker to the woken waiter, which reads them after it wakes (the cells
/// let loom check that hand-off).
pub struct Sudog<W> {
    /// Go: `sudog.g`: who to ready.
    pub g: W,
    /// Go: `sudog.next`/`prev`: links in one channel's `sendq` or `recvq`.
    pub next: *mut Sudog<W>,
    pub prev: *mut Sudog<W>,
    /// Go: `sudog.elem`: the waiter's value slot (the value to send, or
    /// where to receive into), null once the value has moved.
    pub elem: *mut u8,
    /// Go: `sudog.isSelect`.
    pub is_select: bool,
    /// Go: `sudog.success`: true if woken by a completed operation, false
    /// if by `close`.
    pub success: UnsafeCell<bool>,
    /// For a select's sudogs: its shared wake record (Go: `gp.selectDone`
    /// and `gp.param`); null otherwise.
    pub wake: *const SelectWake<W>,
    /// Go: `sudog.waitlink`: the next sudog of the same select (Go's
    /// `gp.waiting`, in lock order).
    pub waitlink: *mut Sudog<W>,
    /// Go: `sudog.c`: the channel it waits on (its lock's address).
    pub c: usize,
}

impl<W> Sudog<W> {
    pub fn new(g: W) -> Self {
        Sudog {
            g,
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            elem: ptr::null_mut(),
            is_select: false,
            success: UnsafeCell::new(false),
            wake: ptr::null(),
            waitlink: ptr::null_mut(),
            c: 0,
        }
    }

    /// Makes a recycled sudog fresh for waiter `g`.
    pub fn reset(&mut self, g: W) {
        self.g = g;
        self.next = ptr::null_mut();
        self.prev = ptr::null_mut();
        self.elem = ptr::null_mut();
        self.is_select = false;
        self.success.with_mut(|p| {
            // SAFETY: the sudog is owned by the caller (off every queue).
            unsafe { *p = false }
        });
        self.wake = ptr::null();
        self.waitlink = ptr::null_mut();
        self.c = 0;
    }
}

/// One select's wake record, on the selecting goroutine's stack while it
/// is parked (Go keeps both fields in the G).
pub struct SelectWake<W> {
    /// Go: `gp.selectDone`: the first waker to CAS it false -> true owns
    /// the select; every other channel skips the select's sudogs.
    pub done: AtomicBool,
    /// Go: `gp.param`: the sudog that won, written by its waker.
    pub param: UnsafeCell<*mut Sudog<W>>,
}

impl<W> SelectWake<W> {
    pub fn new() -> Self {
        SelectWake {
            done: AtomicBool::new(false),
            param: UnsafeCell::new(ptr::null_mut()),
        }
    }
}

/// Go: `len(p.sudogbuf)`.
pub const SUDOG_CACHE: usize = 128;

/// Go: `p.sudogcache` over `p.sudogbuf`: a P's stack of free sudogs.
pub struct SudogCache<S> {
    buf: [*mut S; SUDOG_CACHE],
    n: usize,
}

impl<S> SudogCache<S> {
    pub const fn new() -> Self {
        SudogCache {
            buf: [ptr::null_mut(); SUDOG_CACHE],
            n: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn is_full(&self) -> bool {
        self.n == SUDOG_CACHE
    }

    pub fn pop(&mut self) -> Option<NonNull<S>> {
        if self.n == 0 {
            return None;
        }
        self.n -= 1;
        NonNull::new(self.buf[self.n])
    }

    /// Pushes `s`; the caller spills first when full.
    pub fn push(&mut self, s: NonNull<S>) {
        assert!(self.n < SUDOG_CACHE, "sudog cache overflow");
        self.buf[self.n] = s.as_ptr();
        self.n += 1;
    }
}

/// Go: `sched.sudogcache`: the central free list, linked through `next`.
pub struct SudogCentral<W> {
    head: *mut Sudog<W>,
    len: usize,
}

// SAFETY: the list owns the free sudogs it links; it is only used under
// its lock.
unsafe impl<W> Send for SudogCentral<W> {}

impl<W> SudogCentral<W> {
    pub const fn new() -> Self {
        SudogCentral {
            head: ptr::null_mut(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Go: `acquireSudog`'s refill: moves sudogs to `cache` until it is half
    /// full or this list is empty.
    pub fn refill(&mut self, cache: &mut SudogCache<Sudog<W>>) {
        while cache.len() < SUDOG_CACHE / 2 {
            let Some(s) = NonNull::new(self.head) else {
                break;
            };
            // SAFETY: listed sudogs are free and owned by this list.
            self.head = unsafe { (*s.as_ptr()).next };
            self.len -= 1;
            cache.push(s);
        }
    }

    /// Adds one free sudog.
    pub fn push(&mut self, s: NonNull<Sudog<W>>) {
        // SAFETY: `s` is free; it becomes the list's.
        unsafe { (*s.as_ptr()).next = self.head };
        self.head = s.as_ptr();
        self.len += 1;
    }

    /// Go: `releaseSudog`'s spill: moves the top half of a full `cache`
    /// here.
    pub fn spill(&mut self, cache: &mut SudogCache<Sudog<W>>) {
        while cache.len() > SUDOG_CACHE / 2 {
            let s = cache.pop().expect("non-empty cache");
            self.push(s);
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::super::g::G;
    use super::super::m::{AcquireM, getm};
    use super::{Sudog, SudogCentral};
    use crate::lock::SpinLock;

    /// A kernel sudog: its waiter is a G.
    pub type KSudog = Sudog<NonNull<G>>;

    /// Go: `sched.sudoglock` and `sched.sudogcache`. Taken under channel
    /// locks (interrupts off), never in interrupt handlers; a leaf apart
    /// from the heap nothing under it touches.
    static CENTRAL: SpinLock<SudogCentral<NonNull<G>>> = SpinLock::new(SudogCentral::new());

    /// Sudogs ever allocated (none is freed): tests check that blocking
    /// reuses them.
    static ALLOCATED: AtomicU64 = AtomicU64::new(0);

    /// Sudogs ever allocated.
    pub fn allocated() -> u64 {
        ALLOCATED.load(Ordering::Relaxed)
    }

    /// Go: `acquireSudog`: a fresh sudog for `g`, from this P's cache.
    pub fn acquire_sudog(g: NonNull<G>) -> NonNull<KSudog> {
        let _m = AcquireM::new();
        let s = match getm().p() {
            Some(pp) => {
                // SAFETY: only this P's M touches its cache, with preemption
                // off (the AcquireM above); interrupt handlers never do.
                let cache = unsafe { &mut *pp.sudogcache.get() };
                if cache.is_empty() {
                    CENTRAL.lock().refill(cache);
                }
                cache.pop()
            }
            None => None,
        };
        let mut s = s.unwrap_or_else(|| {
            ALLOCATED.fetch_add(1, Ordering::Relaxed);
            NonNull::from(alloc::boxed::Box::leak(alloc::boxed::Box::new(Sudog::new(
                g,
            ))))
        });
        // SAFETY: the sudog is free: owned by us alone.
        unsafe { s.as_mut().reset(g) };
        s
    }

    /// Go: `releaseSudog`: back to this P's cache (half of a full cache
    /// goes to the central list first).
    ///
    /// # Safety
    /// `s` came from [`acquire_sudog`] and is on no queue any more.
    pub unsafe fn release_sudog(s: NonNull<KSudog>) {
        let _m = AcquireM::new();
        match getm().p() {
            Some(pp) => {
                // SAFETY: as in acquire_sudog.
                let cache = unsafe { &mut *pp.sudogcache.get() };
                if cache.is_full() {
                    CENTRAL.lock().spill(cache);
                }
                cache.push(s);
            }
            // No P (a CPU beyond gomaxprocs): the central list.
            None => CENTRAL.lock().push(s),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::boxed::Box;

    fn new_sudog() -> NonNull<Sudog<u32>> {
        NonNull::from(Box::leak(Box::new(Sudog::new(0u32))))
    }

    #[test]
    fn refill_takes_half_and_spill_leaves_half() {
        let mut central = SudogCentral::new();
        let mut cache = SudogCache::new();
        for _ in 0..SUDOG_CACHE {
            cache.push(new_sudog());
        }
        assert!(cache.is_full());
        central.spill(&mut cache);
        assert_eq!(cache.len(), SUDOG_CACHE / 2);
        assert_eq!(central.len(), SUDOG_CACHE / 2);
        while cache.pop().is_some() {}
        central.refill(&mut cache);
        assert_eq!(cache.len(), SUDOG_CACHE / 2);
        assert!(central.is_empty());
        // An empty central list leaves the cache empty (the kernel then
        // allocates).
        while cache.pop().is_some() {}
        central.refill(&mut cache);
        assert!(cache.is_empty());
    }

    #[test]
    fn spill_then_refill_returns_the_same_sudogs() {
        let mut central = SudogCentral::new();
        let mut cache = SudogCache::new();
        let all: Vec<_> = (0..SUDOG_CACHE).map(|_| new_sudog()).collect();
        for &s in &all {
            cache.push(s);
        }
        central.spill(&mut cache);
        while cache.pop().is_some() {}
        central.refill(&mut cache);
        let mut got = Vec::new();
        while let Some(s) = cache.pop() {
            got.push(s);
        }
        got.sort();
        let mut top: Vec<_> = all[SUDOG_CACHE / 2..].to_vec();
        top.sort();
        assert_eq!(got, top);
    }

    #[test]
    fn reset_clears_a_recycled_sudog() {
        let mut s = Sudog::new(1u32);
        s.is_select = true;
        s.elem = 8 as *mut u8;
        s.c = 5;
        // SAFETY: `s` is ours alone.
        s.success.with_mut(|p| unsafe { *p = true });
        s.reset(2);
        assert_eq!(s.g, 2);
        assert!(!s.is_select && s.elem.is_null() && s.c == 0);
        // SAFETY: as above.
        assert!(!s.success.with(|p| unsafe { *p }));
    }
}
