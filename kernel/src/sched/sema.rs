//! The runtime semaphore (Go: runtime/sema.go, `semacquire1`,
//! `semrelease1`, `semtable`): what every blocking `sync` primitive parks
//! on, and `set_gomaxprocs`'s `worldsema`.
//!
//! A semaphore is any `AtomicU32` word: its value is the count of units.
//! Acquiring takes a unit (decrements a non-zero word) or parks; releasing
//! adds a unit and wakes one waiter. The waiters are not stored in the word
//! but in a hashed table keyed by the word's address, the **semtable**, so a
//! `sync.Mutex` is two words and costs nothing until someone waits.
//!
//! # The semtable
//!
//! [`SEMTABSIZE`] (251, Go's `semTabSize`) buckets (Go: `semaRoot`), each a
//! runtime spin lock over a doubly linked list of [`Sudog`]s (the waiters of
//! every address that hashes there) and `nwait`, the bucket's number of
//! waiters, read without the lock. Go keeps one treap node per address in a
//! bucket (O(log n) to find an address's queue); gmpos keeps one list per
//! bucket and finds an address's first waiter by scanning, O(waiters in the
//! bucket): with 251 buckets different addresses rarely share one, and the
//! waiters of one address come out in order. A `Sudog` lives on the
//! waiting goroutine's stack (a parked goroutine's frames stay put; Go
//! allocates them from a per-P cache).
//!
//! Per address the queue is FIFO, except that `lifo` puts a waiter at the
//! head: the Mutex's starvation path requeues a woken waiter that lost the
//! race in front of everybody, so it is next (Go: `queue(addr, s, lifo)`).
//!
//! # No lost wake-up
//!
//! The acquirer increments `nwait` and *then* tries the word again, under
//! the bucket lock; the releaser increments the word and *then* reads
//! `nwait` (Dekker's pattern, all SeqCst): either the acquirer sees the unit
//! or the releaser sees the waiter and takes the lock, which the acquirer
//! holds until it is parked (released by `gopark`'s unlock function on g0),
//! so the releaser finds it on the list.
//!
//! # Hand-off
//!
//! `semrelease(addr, handoff = true)` takes the unit it just added back for
//! the waiter it wakes (`ticket = 1`) and yields so the waiter runs at once
//! (it was readied into this P's `runnext`): the Mutex's starvation mode.
//! Otherwise a woken waiter competes for the unit again and may park again.
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, Ordering};

use super::g::{G, WaitReason};
use super::gosched::goyield;
use super::m::getg;
use super::park::{gopark, goready};
use crate::lock::{SpinLock, locks_held};

/// Go: `semTabSize`: a prime, so word addresses spread over the buckets.
pub const SEMTABSIZE: usize = 251;

/// A waiter (Go: `sudog`, the fields `semacquire` uses). On the waiting
/// goroutine's stack; linked into its bucket while it waits.
pub struct Sudog {
    g: NonNull<G>,
    /// The semaphore word's address (Go: `s.elem`).
    addr: usize,
    prev: *mut Sudog,
    next: *mut Sudog,
    /// Go: `s.ticket`: 1 when the releaser handed its unit over. Written by
    /// the releaser before `goready`, read by the waiter after waking
    /// (`goready`'s run-queue hand-over orders the two).
    ticket: AtomicU32,
}

/// One bucket's waiters (Go: the treap of `semaRoot`), oldest first.
struct WaitList {
    head: *mut Sudog,
    tail: *mut Sudog,
}

// SAFETY: the list only holds pointers to Sudogs of parked goroutines, and
// is only touched under its bucket's lock.
unsafe impl Send for WaitList {}

impl WaitList {
    /// Go: `semaRoot.queue`: FIFO at the tail, or `lifo` at the head (then
    /// it is the first waiter of its address: `dequeue` scans from the head).
    ///
    /// # Safety
    /// `s` must stay valid and unmoved until `dequeue` returns it.
    unsafe fn queue(&mut self, s: *mut Sudog, lifo: bool) {
        // SAFETY: `s` and every listed Sudog are valid (the caller's and
        // the list's contract); we hold the bucket lock.
        unsafe {
            if self.head.is_null() {
                (*s).prev = ptr::null_mut();
                (*s).next = ptr::null_mut();
                self.head = s;
                self.tail = s;
            } else if lifo {
                (*s).prev = ptr::null_mut();
                (*s).next = self.head;
                (*self.head).prev = s;
                self.head = s;
            } else {
                (*s).next = ptr::null_mut();
                (*s).prev = self.tail;
                (*self.tail).next = s;
                self.tail = s;
            }
        }
    }

    /// Go: `semaRoot.dequeue`: unlinks the first waiter on `addr`.
    fn dequeue(&mut self, addr: usize) -> Option<NonNull<Sudog>> {
        let mut s = self.head;
        // SAFETY: every listed Sudog is valid until unlinked (queue's
        // contract); we hold the bucket lock.
        unsafe {
            while !s.is_null() && (*s).addr != addr {
                s = (*s).next;
            }
            let found = NonNull::new(s)?;
            let (prev, next) = ((*s).prev, (*s).next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev = prev;
            }
            Some(found)
        }
    }
}

/// Go: `semaRoot`. Padded to a cache line (Go: `semTable`'s `pad`), so
/// CPUs waiting on different semaphores do not share one.
#[repr(align(64))]
struct Root {
    lock: SpinLock<WaitList>,
    /// Waiters in this bucket (Go: `root.nwait`): `semrelease`'s fast path.
    nwait: AtomicU32,
}

static SEMTABLE: [Root; SEMTABSIZE] = [const {
    Root {
        lock: SpinLock::new(WaitList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }),
        nwait: AtomicU32::new(0),
    }
}; SEMTABSIZE];

/// Go: `semtable.rootFor`.
fn root_for(addr: usize) -> &'static Root {
    &SEMTABLE[(addr >> 3) % SEMTABSIZE]
}

/// Go: `cansemacquire`: takes a unit if there is one.
fn cansemacquire(sema: &AtomicU32) -> bool {
    let mut v = sema.load(Ordering::SeqCst);
    loop {
        if v == 0 {
            return false;
        }
        match sema.compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(now) => v = now,
        }
    }
}

/// Go: `semacquire1(addr, lifo, ..., reason)`: takes a unit of `sema`,
/// parking with `reason` until there is one. `lifo`: wait at the head of the
/// address's queue (a requeued Mutex waiter). A goroutine-only call.
pub fn semacquire(sema: &AtomicU32, lifo: bool, reason: WaitReason) {
    semacquire_watched(sema, lifo, reason, None)
}

/// [`semacquire`] with the primitive's own "would the waiter proceed
/// now?" for the watchdog's lost-wake-up scan (`watchdog.rs`): a function
/// and the object it reads (the WaitGroup's counter at 0).
pub fn semacquire_watched(
    sema: &AtomicU32,
    lifo: bool,
    reason: WaitReason,
    extra: Option<(super::watchdog::ExtraCheck, usize)>,
) {
    super::preempt::safe_point();
    // Easy case.
    if cansemacquire(sema) {
        return;
    }
    let addr = sema as *const AtomicU32 as usize;
    let root = root_for(addr);
    let me = NonNull::new(getg()).expect("semacquire outside a goroutine");
    let mut s = Sudog {
        g: me,
        addr,
        prev: ptr::null_mut(),
        next: ptr::null_mut(),
        ticket: AtomicU32::new(0),
    };
    let sp: *mut Sudog = &mut s;
    loop {
        let mut q = root.lock.lock();
        // Add ourselves to nwait to disable the easy case in semrelease,
        // then check again (see "No lost wake-up").
        root.nwait.fetch_add(1, Ordering::SeqCst);
        if cansemacquire(sema) {
            root.nwait.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        // SAFETY: `s` is on our stack, which stays intact while we are
        // parked; only `semrelease` unlinks it, before readying us.
        unsafe { q.queue(sp, lifo) };
        // Under the bucket lock, queued: what the watchdog checks.
        // SAFETY: `me` is our own live G.
        super::watchdog::wait_on_sema(unsafe { me.as_ref() }, addr, extra);
        // The lock is released on g0 once we are off our stack (Go:
        // `goparkunlock(&root.lock, ...)`).
        core::mem::forget(q);
        let unlock = || {
            // SAFETY: releases the bucket lock whose guard was forgotten.
            unsafe { root.lock.unlock_forgotten() };
            true
        };
        gopark(Some(&unlock), reason);
        // SAFETY: `sp` is our own Sudog; the releaser is done with it
        // (it unlinked it and wrote `ticket` before readying us).
        if unsafe { (*sp).ticket.load(Ordering::Relaxed) } != 0 || cansemacquire(sema) {
            return;
        }
    }
}

/// Go: `semrelease1(addr, handoff, ...)`: adds a unit to `sema` and wakes
/// its first waiter, if any. With `handoff` the unit goes straight to that
/// waiter, which then runs next on this P (we yield to it).
pub fn semrelease(sema: &AtomicU32, handoff: bool) {
    let addr = sema as *const AtomicU32 as usize;
    let root = root_for(addr);
    sema.fetch_add(1, Ordering::SeqCst);
    // Easy case: no waiters? (See "No lost wake-up".)
    if root.nwait.load(Ordering::SeqCst) == 0 {
        return;
    }
    if super::watchdog::lose_wakeup_for_test() {
        // The watchdog's test hook: the unit is there, the waiter sleeps on.
        return;
    }
    let q = {
        let mut q = root.lock.lock();
        if root.nwait.load(Ordering::SeqCst) == 0 {
            return;
        }
        let s = q.dequeue(addr);
        if s.is_some() {
            root.nwait.fetch_sub(1, Ordering::SeqCst);
        }
        s
    };
    let Some(s) = q else { return };
    // SAFETY: dequeued under the lock, the Sudog is ours until we ready its
    // goroutine (which is parked, its stack intact).
    let s = unsafe { s.as_ref() };
    if handoff && cansemacquire(sema) {
        s.ticket.store(1, Ordering::Relaxed);
    }
    // Read before goready: afterwards the waiter may run and its frame go.
    let (g, direct) = (s.g, s.ticket.load(Ordering::Relaxed) == 1);
    goready(g);
    if direct && locks_held() == 0 {
        // Direct G hand-off: the waiter is in our runnext; let it run now.
        goyield();
    }
}

/// The watchdog's view of goroutine `g` parked on the semaphore at `addr`:
/// `(still queued, the word's count)`, read under the bucket lock, or
/// `None` if the lock is busy (the watchdog runs in an interrupt and never
/// waits). The caller guarantees the word is alive (`g` is parked on it
/// and has not cleared its wait record).
pub(super) fn watch_state(addr: usize, g: &G) -> Option<(bool, u32)> {
    let root = root_for(addr);
    let q = root.lock.try_lock()?;
    let mut s = q.head;
    let mut queued = false;
    // SAFETY: every listed Sudog is valid until unlinked, and we hold the
    // bucket lock.
    unsafe {
        while !s.is_null() {
            if (*s).addr == addr && core::ptr::eq((*s).g.as_ptr(), g) {
                queued = true;
                break;
            }
            s = (*s).next;
        }
    }
    // SAFETY: the caller guarantees the semaphore word is alive.
    let count = unsafe { (*(addr as *const AtomicU32)).load(Ordering::SeqCst) };
    drop(q);
    Some((queued, count))
}

/// A counting semaphore on its own word: `semacquire`/`semrelease` with a
/// wait reason chosen by the caller (the runtime's `worldsema`, tests).
pub struct Sema {
    count: AtomicU32,
}

impl Sema {
    pub const fn new(count: u32) -> Sema {
        Sema {
            count: AtomicU32::new(count),
        }
    }

    /// Go: `semacquire`: takes one unit, parking with `reason` until one is
    /// available.
    pub fn acquire(&self, reason: WaitReason) {
        semacquire(&self.count, false, reason);
    }

    /// Go: `semrelease`: returns one unit, waking the oldest waiter.
    pub fn release(&self) {
        semrelease(&self.count, false);
    }
}
