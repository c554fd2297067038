//! Go's `selectgo` (runtime/select.go), generic over the runtime like the
//! channel it drives (`sync/hchan.rs`); the `select!` macro and its case
//! types are `sync/select.rs`.
//!
//! # The algorithm
//!
//! 1. **Poll order** (Go: `pollorder`): a random permutation of the cases
//!    with a channel (a `None` case, Go's nil channel, never takes part),
//!    made fresh each time, so no case starves another: with several ready,
//!    each is chosen with equal probability.
//! 2. **Lock order** (Go: `lockorder`): the same cases sorted by channel
//!    address; every channel is locked in that order, once even if it
//!    appears in several cases (Go: `sellock`), so two selects over the
//!    same channels cannot deadlock.
//! 3. **Pass 1**: in poll order, the first case that can proceed now
//!    completes, with the same non-blocking attempt a send or receive makes
//!    (`poll_send`/`poll_recv`), which releases every lock (Go:
//!    `selunlock`). A send case on a closed channel is reported (the macro
//!    panics `send on closed channel`, like Go).
//! 4. Nothing ready and a `default`: unlock, report it.
//! 5. **Pass 2**: one sudog per case, in lock order, each queued on its
//!    channel's `sendq` or `recvq`; all share one wake record. Park; the
//!    locks are released once the goroutine is off its CPU.
//! 6. Woken: some channel dequeued one of the sudogs and won the record's
//!    `done` flag (Go: `selectDone`), which makes every other channel skip
//!    the rest; it recorded its sudog (Go: `gp.param`). **Pass 3**: lock
//!    everything again, take every other sudog off its queue (Go:
//!    `dequeueSudoG`), release them all, unlock. Exactly one case fired.
//!
//! The values of send cases live in the caller's case slots: the winning
//! one moved out, the losers' are still there, and the caller drops them
//! (exactly once, when `select!` ends).
use core::ptr::{self, NonNull};

use super::hchan::{ParkReason, Runtime, SelChan, success};
use crate::sched::sudog::{SelectWake, Sudog};

/// One case (Go: `scase`): a channel (`None`: a nil channel, never
/// ready), a direction, and its value slot (`Slot<T>` of the channel's
/// element type: the value to send, or where a received one goes).
pub struct Scase<'a, R: Runtime> {
    pub c: Option<&'a dyn SelChan<R>>,
    pub send: bool,
    pub elem: *mut u8,
}

/// What `selectgo` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// Receive case `i`; `true` if it got a value (Go: `recvOK`), `false`
    /// if the channel is closed.
    Recv(usize, bool),
    /// Send case `i` sent its value.
    Sent(usize),
    /// Send case `i`'s channel is closed (the value is still in its slot).
    SendClosed(usize),
    /// No case was ready and the select was non-blocking.
    Default,
}

fn chan<'a, R: Runtime>(cases: &[Scase<'a, R>], i: u16) -> &'a dyn SelChan<R> {
    cases[i as usize].c.expect("ordered cases have channels")
}

/// Go: `sellock`: every channel once, in lock order.
fn sellock<R: Runtime>(cases: &[Scase<'_, R>], lockorder: &[u16]) {
    let mut last = 0;
    for &o in lockorder {
        let c = chan(cases, o);
        if c.lock_addr() != last {
            last = c.lock_addr();
            c.lock();
        }
    }
}

/// Go: `selunlock`: in reverse lock order (the first lock taken, which
/// restores the interrupt state, is released last).
fn selunlock<R: Runtime>(cases: &[Scase<'_, R>], lockorder: &[u16]) {
    for i in (0..lockorder.len()).rev() {
        let c = chan(cases, lockorder[i]);
        if i > 0 && chan(cases, lockorder[i - 1]).lock_addr() == c.lock_addr() {
            continue;
        }
        c.unlock();
    }
}

/// Go: `selectgo(cas0, order0, ..., block)`. `pollorder` and `lockorder`
/// are scratch room, `cases.len()` entries each (Go's `order0`); `block ==
/// false` is a select with `default`.
///
/// With no case able to take part (no cases, or only `None` channels) and
/// `block`, it never returns (Go: `block()`).
pub fn selectgo<R: Runtime>(
    cases: &[Scase<'_, R>],
    pollorder: &mut [u16],
    lockorder: &mut [u16],
    block: bool,
) -> Chosen {
    let ncases = cases.len();
    assert!(pollorder.len() >= ncases && lockorder.len() >= ncases);
    assert!(ncases <= u16::MAX as usize);

    // Go: "generate permuted order" (an inside-out Fisher-Yates), skipping
    // nil channels.
    let mut norder = 0;
    for (i, cas) in cases.iter().enumerate() {
        if cas.c.is_none() {
            continue;
        }
        let j = R::rand_n(norder as u32 + 1) as usize;
        pollorder[norder] = pollorder[j];
        pollorder[j] = i as u16;
        norder += 1;
    }
    let pollorder = &pollorder[..norder];
    let lockorder = &mut lockorder[..norder];

    if norder == 0 {
        if !block {
            return Chosen::Default;
        }
        // Go: `block()` for `select {}`, and a select of nil channels only
        // parks in `selectgo` the same way: nothing will ever ready it.
        let reason = if ncases == 0 {
            ParkReason::SelectNoCases
        } else {
            ParkReason::Select
        };
        loop {
            R::park(R::current(), &|| {}, reason, false);
        }
    }

    // Go: "sort the cases by Hchan address to get the locking order". A
    // sort of the indices in place (no allocation); equal addresses end up
    // adjacent, which `sellock`/`selunlock` rely on.
    lockorder.copy_from_slice(pollorder);
    lockorder.sort_unstable_by_key(|&i| chan(cases, i).lock_addr());

    sellock(cases, lockorder);
    let lo: &[u16] = lockorder;
    let unlock_all = || selunlock(cases, lo);

    // Pass 1: look for something already waiting.
    for &i in pollorder {
        let cas = &cases[i as usize];
        let c = chan(cases, i);
        let i = i as usize;
        if cas.send {
            // SAFETY: every lock is held; `elem` is the case's slot of the
            // channel's element type, holding the value (the caller's
            // contract).
            match unsafe { c.poll_send(cas.elem, &unlock_all) } {
                Some(true) => return Chosen::Sent(i),
                Some(false) => return Chosen::SendClosed(i),
                None => {}
            }
        } else if let Some(ok) =
            // SAFETY: as above; a receive case's slot is empty.
            unsafe { c.poll_recv(cas.elem, &unlock_all) }
        {
            return Chosen::Recv(i, ok);
        }
    }

    if !block {
        unlock_all();
        return Chosen::Default;
    }

    // Pass 2: enqueue on all channels, in lock order (Go: `gp.waiting` is
    // the sudog list in lock order, linked through `waitlink`).
    let me = R::current();
    let wake: SelectWake<R::Waiter> = SelectWake::new();
    let mut external = false;
    let mut head: *mut Sudog<R::Waiter> = ptr::null_mut();
    let mut tail: *mut Sudog<R::Waiter> = ptr::null_mut();
    for &o in lo {
        let cas = &cases[o as usize];
        let c = chan(cases, o);
        external |= c.irq_fed();
        let sg = R::acquire_sudog(me);
        let s = sg.as_ptr();
        // SAFETY: a fresh sudog, ours; every lock is held; `wake` stays on
        // this stack until pass 3 has dequeued every sudog.
        unsafe {
            (*s).is_select = true;
            (*s).elem = cas.elem;
            (*s).wake = &wake;
            (*s).c = c.lock_addr();
            if tail.is_null() {
                head = s;
            } else {
                (*tail).waitlink = s;
            }
            tail = s;
            c.enqueue(sg, cas.send);
        }
    }
    R::park(me, &unlock_all, ParkReason::Select, external);

    // Pass 3: the winner is in `wake.param`; dequeue the others.
    sellock(cases, lo);
    // SAFETY: written by the winning waker before it readied us.
    let winner = wake.param.with(|p| unsafe { *p });
    let mut chosen = None;
    let mut sg = head;
    for &o in lo {
        let cas = &cases[o as usize];
        let s = NonNull::new(sg).expect("one sudog per case");
        // SAFETY: our sudogs, live; every lock is held.
        unsafe {
            if sg == winner {
                let ok = success(s);
                chosen = Some(match (cas.send, ok) {
                    (true, true) => Chosen::Sent(o as usize),
                    (true, false) => Chosen::SendClosed(o as usize),
                    (false, ok) => Chosen::Recv(o as usize, ok),
                });
            } else {
                chan(cases, o).dequeue_sudog(s, cas.send);
            }
            sg = (*sg).waitlink;
            (*s.as_ptr()).waitlink = ptr::null_mut();
            R::release_sudog(s);
        }
    }
    unlock_all();
    chosen.expect("selectgo: woken without a winning case")
}
