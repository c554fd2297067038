//! The ticket-based notify list behind `sync.Cond` (Go: `notifyList`,
//! `notifyListAdd`, `notifyListWait`, `notifyListNotifyOne`,
//! `notifyListNotifyAll` in runtime/sema.go).
//!
//! A waiter takes a ticket (`add`, lock-free) *before* it unlocks the
//! Cond's Mutex, and only then waits for that ticket (`wait`). A signal
//! notifies the oldest ticket not yet notified, a broadcast every ticket
//! taken so far. A ticket notified before its goroutine got to `wait`
//! returns at once, so a signal between the Mutex unlock and the park is
//! never lost, and a waiter that arrives after a broadcast is not woken by
//! it (its ticket is newer).
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, Ordering};

use super::g::{G, WaitReason};
use super::m::getg;
use super::park::{gopark, goready};
use crate::lock::SpinLock;

/// A waiter on the goroutine's stack (Go: the `sudog` of `notifyListWait`).
struct Waiter {
    g: NonNull<G>,
    ticket: u32,
    next: *mut Waiter,
}

/// The list of parked waiters, oldest ticket first (Go: `head`, `tail`).
struct Queue {
    head: *mut Waiter,
    tail: *mut Waiter,
    /// Go: `notify`: the next ticket to be notified (written under the
    /// lock; also mirrored in `NotifyList::notify` for the fast path).
    notify: u32,
}

// SAFETY: only pointers to Waiters of parked goroutines, touched under the
// list's lock.
unsafe impl Send for Queue {}

/// Go: `notifyList`.
pub struct NotifyList {
    /// Go: `wait`: the ticket of the next waiter.
    wait: AtomicU32,
    /// Go: `notify`, read without the lock by the fast paths.
    notify: AtomicU32,
    queue: SpinLock<Queue>,
}

/// Go: `less`: ticket order with wrap-around.
fn less(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl NotifyList {
    pub const fn new() -> NotifyList {
        NotifyList {
            wait: AtomicU32::new(0),
            notify: AtomicU32::new(0),
            queue: SpinLock::new(Queue {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
                notify: 0,
            }),
        }
    }

    /// Go: `notifyListAdd`: takes a ticket (called with the Cond's Mutex
    /// held, before unlocking it).
    pub fn add(&self) -> u32 {
        self.wait.fetch_add(1, Ordering::SeqCst)
    }

    /// Go: `notifyListWait`: parks with `reason` until ticket `t` is
    /// notified (returns at once if it already was).
    pub fn wait(&self, t: u32, reason: WaitReason) {
        let mut q = self.queue.lock();
        if less(t, q.notify) {
            return;
        }
        let me = NonNull::new(getg()).expect("Cond.Wait outside a goroutine");
        let mut w = Waiter {
            g: me,
            ticket: t,
            next: ptr::null_mut(),
        };
        let wp: *mut Waiter = &mut w;
        if q.tail.is_null() {
            q.head = wp;
        } else {
            // SAFETY: the tail is a parked waiter's, valid while listed.
            unsafe { (*q.tail).next = wp };
        }
        q.tail = wp;
        core::mem::forget(q);
        let unlock = || {
            // SAFETY: releases the lock whose guard was forgotten above.
            unsafe { self.queue.unlock_forgotten() };
            true
        };
        gopark(Some(&unlock), reason);
    }

    /// Go: `notifyListNotifyAll`: wakes every waiter with a ticket so far.
    pub fn notify_all(&self) {
        // Fast path: no new waiters since the last notification.
        if self.wait.load(Ordering::SeqCst) == self.notify.load(Ordering::SeqCst) {
            return;
        }
        let mut s = {
            let mut q = self.queue.lock();
            let s = q.head;
            q.head = ptr::null_mut();
            q.tail = ptr::null_mut();
            q.notify = self.wait.load(Ordering::SeqCst);
            self.notify.store(q.notify, Ordering::SeqCst);
            s
        };
        while let Some(w) = NonNull::new(s) {
            // SAFETY: taken off the list under the lock: ours until we
            // ready its goroutine. Read `next` first: after goready the
            // waiter may run and its frame go.
            let (g, next) = unsafe { (w.as_ref().g, w.as_ref().next) };
            goready(g);
            s = next;
        }
    }

    /// Go: `notifyListNotifyOne`: wakes the waiter with the oldest ticket
    /// not yet notified (if it has not parked yet, its `wait` returns at
    /// once).
    pub fn notify_one(&self) {
        if self.wait.load(Ordering::SeqCst) == self.notify.load(Ordering::SeqCst) {
            return;
        }
        let mut q = self.queue.lock();
        let t = q.notify;
        if t == self.wait.load(Ordering::SeqCst) {
            return;
        }
        q.notify = t.wrapping_add(1);
        self.notify.store(q.notify, Ordering::SeqCst);
        let (mut prev, mut s): (*mut Waiter, *mut Waiter) = (ptr::null_mut(), q.head);
        // SAFETY: listed waiters are valid; we hold the lock.
        unsafe {
            while !s.is_null() {
                if (*s).ticket == t {
                    let n = (*s).next;
                    if prev.is_null() {
                        q.head = n;
                    } else {
                        (*prev).next = n;
                    }
                    if n.is_null() {
                        q.tail = prev;
                    }
                    let g = (*s).g;
                    drop(q);
                    goready(g);
                    return;
                }
                prev = s;
                s = (*s).next;
            }
        }
    }
}
