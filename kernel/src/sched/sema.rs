//! A counting semaphore for goroutines (Go: runtime/sema.go's
//! `semacquire`/`semrelease`, without the treap): the blocking building
//! block the runtime parks on (`set_gomaxprocs`'s `worldsema`, tests).
//! `release` hands the unit directly to the oldest waiter (FIFO), so a woken
//! waiter never has to compete for it again.
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use super::g::{G, WaitReason};
use super::glist::GQueue;
use super::m::getg;
use super::park::{gopark, goready};
use crate::lock::SpinLock;

pub struct Sema {
    count: AtomicU32,
    waiters: SpinLock<GQueue<G>>,
}

impl Sema {
    pub const fn new(count: u32) -> Sema {
        Sema {
            count: AtomicU32::new(count),
            waiters: SpinLock::new(GQueue::new()),
        }
    }

    fn try_take(&self) -> bool {
        let mut c = self.count.load(Ordering::Acquire);
        while c > 0 {
            match self
                .count
                .compare_exchange_weak(c, c - 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(v) => c = v,
            }
        }
        false
    }

    /// Go: `semacquire`: takes one unit, parking with `reason` until one is
    /// available.
    pub fn acquire(&self, reason: WaitReason) {
        crate::sched::safe_point();
        if self.try_take() {
            return;
        }
        let mut q = self.waiters.lock();
        // Under the lock, `release` either sees us queued or we see its unit.
        if self.try_take() {
            return;
        }
        let me = NonNull::new(getg()).expect("semacquire outside a goroutine");
        // SAFETY: we park right after this and are on no other list.
        unsafe { q.push_back(me) };
        core::mem::forget(q);
        let unlock = || {
            // SAFETY: releases the lock whose guard was forgotten above.
            unsafe { self.waiters.unlock_forgotten() };
            true
        };
        gopark(Some(&unlock), reason);
        // Woken by `release`, which handed its unit to us.
    }

    /// Go: `semrelease`: returns one unit, handing it to the oldest waiter.
    pub fn release(&self) {
        let mut q = self.waiters.lock();
        match q.pop_front() {
            Some(g) => {
                drop(q);
                goready(g);
            }
            None => {
                self.count.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}
