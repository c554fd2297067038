//! The channel state machine on the host: `hchan.rs` and `selectgo.rs`
//! (the kernel's own code) driven by threads instead of goroutines.
//!
//! [`Threads`] is the parking primitive: a waiter is a thread and a flag,
//! `park` runs the unlock function then `thread::park`s until `ready` set
//! the flag (Release/Acquire: the edge goroutines get from the run queue).
//! Under `--cfg loom` the threads, atomics and cells are loom's, so the
//! models below explore every interleaving (up to the preemption bound) of
//! the real code, and loom checks each value's hand-off between threads
//! through the slots' cells; a lost wake-up shows up as loom's deadlock
//! report. Without loom, the same runtime runs on std threads for the
//! plain host tests (`make test-host`).
use alloc::boxed::Box;
use core::ptr::NonNull;

use super::hchan::{
    AlreadyClosed, ChanLock, HChan, ParkReason, RecvFail, Runtime, SendFail, Slot, take_slot,
};
use super::selectgo::{Chosen, Scase, selectgo};
#[cfg(not(loom))]
use crate::lock::atomic::spin_loop;
use crate::lock::atomic::{AtomicBool, Ordering};
use crate::lock::cell::UnsafeCell;
use crate::sched::sudog::Sudog;
use core::mem::MaybeUninit;

#[cfg(loom)]
use loom::{sync::Arc, thread};
#[cfg(not(loom))]
use std::{sync::Arc, thread};

/// Threads as waiters.
pub struct Threads;

/// One blocked thread: made by `current`, freed by `park` once readied.
pub struct Waiter {
    ready: AtomicBool,
    thread: thread::Thread,
}

/// The channel lock of the host tests: a test-and-set spin lock.
#[cfg(not(loom))]
pub struct TasLock(AtomicBool);

#[cfg(not(loom))]
impl ChanLock for TasLock {
    fn new() -> Self {
        TasLock(AtomicBool::new(false))
    }
    fn lock(&self) {
        while self
            .0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
    }
    fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
    fn addr(&self) -> usize {
        self as *const Self as usize
    }
}

/// Under loom: loom's mutex with the guard kept inside (a spin lock's
/// failed CASes would multiply the explored branches and overflow loom's
/// per-atomic store history, tokio-rs/loom#252). The kernel's lock is a
/// plain spin lock with the same acquire/release edges.
#[cfg(loom)]
pub struct TasLock {
    m: loom::sync::Mutex<()>,
    guard: core::cell::UnsafeCell<Option<loom::sync::MutexGuard<'static, ()>>>,
}

#[cfg(loom)]
impl ChanLock for TasLock {
    fn new() -> Self {
        TasLock {
            m: loom::sync::Mutex::new(()),
            guard: core::cell::UnsafeCell::new(None),
        }
    }
    fn lock(&self) {
        let g = self.m.lock().unwrap();
        // SAFETY: the guard lives in the lock it borrows and is dropped in
        // `unlock`, while the lock is alive; only the holder touches it.
        unsafe {
            *self.guard.get() = Some(core::mem::transmute::<
                loom::sync::MutexGuard<'_, ()>,
                loom::sync::MutexGuard<'static, ()>,
            >(g))
        };
    }
    fn unlock(&self) {
        // SAFETY: only the holder calls unlock.
        drop(unsafe { (*self.guard.get()).take() });
    }
    fn addr(&self) -> usize {
        self as *const Self as usize
    }
}

// SAFETY: `park` returns only after `ready` set the flag (Acquire pairs with
// its Release), and runs `unlock` before waiting.
unsafe impl Runtime for Threads {
    type Waiter = *const Waiter;
    type Lock = TasLock;

    fn current() -> *const Waiter {
        Box::into_raw(Box::new(Waiter {
            ready: AtomicBool::new(false),
            thread: thread::current(),
        }))
    }

    fn acquire_sudog(w: *const Waiter) -> NonNull<Sudog<*const Waiter>> {
        NonNull::from(Box::leak(Box::new(Sudog::new(w))))
    }

    unsafe fn release_sudog(s: NonNull<Sudog<*const Waiter>>) {
        // SAFETY: made by `acquire_sudog` (a Box), released once.
        drop(unsafe { Box::from_raw(s.as_ptr()) });
    }

    fn park(me: *const Waiter, unlock: &dyn Fn(), _: ParkReason, _: bool) {
        unlock();
        // SAFETY: `me` came from `current` and is freed only below.
        let w = unsafe { &*me };
        while !w.ready.load(Ordering::Acquire) {
            thread::park();
        }
        // SAFETY: `ready` no longer touches the waiter once the flag is set.
        drop(unsafe { Box::from_raw(me as *mut Waiter) });
    }

    fn ready(w: *const Waiter) {
        // SAFETY: the waiter is parked (or about to), so `w` is live until
        // the flag is set; the handle is cloned before that.
        let (t, flag) = unsafe { ((*w).thread.clone(), &(*w).ready) };
        flag.store(true, Ordering::Release);
        t.unpark();
    }

    #[cfg(loom)]
    fn rand_n(_n: u32) -> u32 {
        // Deterministic under loom (an execution must be replayable): the
        // models choose their poll order through which cases are ready.
        0
    }

    #[cfg(not(loom))]
    fn rand_n(n: u32) -> u32 {
        use std::cell::Cell;
        std::thread_local!(static X: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) });
        X.with(|x| {
            // xorshift64*
            let mut v = x.get();
            v ^= v >> 12;
            v ^= v << 25;
            v ^= v >> 27;
            x.set(v);
            (((v.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) * n as u64) >> 32) as u32
        })
    }
}

type Ch<T> = HChan<T, Threads>;

fn ch<T: Send>(cap: usize) -> Arc<Ch<T>> {
    Arc::new(HChan::new(cap, false))
}

/// Queues empty (no sudog left behind).
fn quiet<T>(c: &Ch<T>) -> bool {
    let (_, s, r) = c.debug_state();
    s && r
}

/// A select over receive cases: (case, value).
fn select_recv<T: Send>(cs: &[Option<&Ch<T>>], block: bool) -> Option<(usize, Option<T>)> {
    let slots: Vec<Slot<T>> = cs
        .iter()
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let cases: Vec<Scase<'_, Threads>> = cs
        .iter()
        .zip(&slots)
        .map(|(c, s)| Scase {
            c: c.map(|c| c as &dyn super::hchan::SelChan<Threads>),
            send: false,
            elem: s as *const Slot<T> as *mut u8,
        })
        .collect();
    let mut p = vec![0u16; cs.len()];
    let mut l = vec![0u16; cs.len()];
    match selectgo(&cases, &mut p, &mut l, block) {
        // SAFETY: the winning receive case's slot holds its value.
        Chosen::Recv(i, true) => Some((i, Some(unsafe { take_slot(&slots[i]) }))),
        Chosen::Recv(i, false) => Some((i, None)),
        Chosen::Default => None,
        other => panic!("receive-only select chose {other:?}"),
    }
}

/// `select { case a <- v: ...; case <-b: ... }`: the choice and, for the
/// receive, the value.
fn select_send_recv<T: Send>(a: &Ch<T>, v: T, b: &Ch<T>) -> (Chosen, Option<T>) {
    let vs: Slot<T> = UnsafeCell::new(MaybeUninit::new(v));
    let rs: Slot<T> = UnsafeCell::new(MaybeUninit::uninit());
    let cases = [
        Scase::<Threads> {
            c: Some(a),
            send: true,
            elem: &vs as *const Slot<T> as *mut u8,
        },
        Scase::<Threads> {
            c: Some(b),
            send: false,
            elem: &rs as *const Slot<T> as *mut u8,
        },
    ];
    let r = selectgo(&cases, &mut [0; 2], &mut [0; 2], true);
    let got = match r {
        // SAFETY: the receive case won with a value.
        Chosen::Recv(1, true) => Some(unsafe { take_slot(&rs) }),
        _ => None,
    };
    if r != Chosen::Sent(0) {
        // SAFETY: the send case lost: its value is still there.
        drop(unsafe { take_slot(&vs) });
    }
    (r, got)
}

/// loom models of the channel protocol (`make test-loom`). Each states
/// what it covers. The bound is the model itself (two or three threads, at
/// most four values, capacity 0 to 2): the search is exhaustive, with no
/// preemption bound, because it stays small (the lock serialises nearly
/// everything; sizes in executions: unbuffered 132, full-buffer 4,396,
/// close vs receiver 5, close vs sender 1,079, select win-one 201, select
/// won then close 48, select close vs sender 183; all seven in 0.4 s).
/// Each model prints its count.
#[cfg(loom)]
mod loom_models {
    use super::*;

    /// Runs `f` under loom and prints how many executions it explored (the
    /// model's size).
    fn model(f: impl Fn() + Sync + Send + 'static) {
        use std::sync::atomic::AtomicUsize as Count;
        let runs = std::sync::Arc::new(Count::new(0));
        let r = runs.clone();
        let mut b = loom::model::Builder::new();
        b.preemption_bound = None;
        b.check(move || {
            r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f()
        });
        std::println!(
            "loom: {} executions",
            runs.load(std::sync::atomic::Ordering::Relaxed)
        );
    }

    /// Unbuffered hand-off both ways: depending on who comes first, the
    /// sender copies into the parked receiver's slot (Go: `sendDirect`) or
    /// the receiver takes from the parked sender (Go: `recvDirect`). The
    /// plain write before `send` must be visible after `recv` (loom's cell
    /// check: the happens-before edge of a channel).
    #[test]
    fn loom_unbuffered_handoff_both_ways() {
        model(|| {
            let c = ch::<u32>(0);
            let data = Arc::new(loom::cell::UnsafeCell::new(0u32));
            let (c2, d2) = (c.clone(), data.clone());
            let t = thread::spawn(move || {
                // SAFETY: the receiver reads only after the receive.
                d2.with_mut(|p| unsafe { *p = 7 });
                c2.send(1, true).unwrap();
                c2.send(2, true).unwrap();
            });
            assert_eq!(c.recv(true), Ok(1));
            // SAFETY: published by the send (loom flags it if not).
            assert_eq!(data.with(|p| unsafe { *p }), 7);
            assert_eq!(c.recv(true), Ok(2));
            t.join().unwrap();
            assert!(quiet(&c));
        });
    }

    /// Buffered, capacity 2, four values: the sender blocks on the full
    /// buffer, and the receiver takes the head and moves the parked
    /// sender's value to the freed slot, the new tail (Go: `recv` on a full
    /// buffer: `sendx = recvx`). FIFO order holds on every path. (Capacity
    /// 2, not 1: with one slot every index is 0 and a wrong tail would go
    /// unnoticed.)
    #[test]
    fn loom_buffered_full_buffer_handoff() {
        model(|| {
            let c = ch::<u32>(2);
            let c2 = c.clone();
            let t = thread::spawn(move || {
                for v in 1..=4 {
                    c2.send(v, true).unwrap();
                }
            });
            for v in 1..=4 {
                assert_eq!(c.recv(true), Ok(v));
            }
            t.join().unwrap();
            assert!(quiet(&c) && c.len() == 0);
        });
    }

    /// Close racing a blocked receiver: the receiver gets "closed" whether
    /// it parked before the close (woken by it) or came after.
    #[test]
    fn loom_close_races_blocked_receiver() {
        model(|| {
            let c = ch::<u32>(0);
            let c2 = c.clone();
            let t = thread::spawn(move || c2.recv(true));
            c.close().unwrap();
            assert_eq!(t.join().unwrap(), Err(RecvFail::Closed));
            assert_eq!(c.close(), Err(AlreadyClosed));
            assert!(quiet(&c));
        });
    }

    /// Close racing a blocked sender and a receiver: the send succeeds iff
    /// the receiver got its value; a failed (closed) send gets its value
    /// back; no waiter is left queued.
    #[test]
    fn loom_close_races_blocked_sender() {
        model(|| {
            let c = ch::<u32>(0);
            let (c2, c3) = (c.clone(), c.clone());
            let s = thread::spawn(move || c2.send(5, true));
            let k = thread::spawn(move || c3.close().unwrap());
            let got = c.recv(true);
            let sent = s.join().unwrap();
            k.join().unwrap();
            match (sent, got) {
                (Ok(()), Ok(5)) => {}
                (Err(SendFail::Closed(5)), Err(RecvFail::Closed)) => {}
                other => panic!("inconsistent outcome {other:?}"),
            }
            assert!(quiet(&c));
        });
    }

    /// Select wins one and dequeues the rest: a select over two receive
    /// cases, one sender per channel in sequence. The select must take
    /// channel 1's value (channel 2's sender starts only after), its sudog
    /// on channel 2 must be gone (else the later plain receive could not get
    /// the second value, or a sudog would dangle), and nothing stays queued.
    #[test]
    fn loom_select_wins_one_dequeues_rest() {
        model(|| {
            let (a, b) = (ch::<u32>(0), ch::<u32>(0));
            let (a2, b2) = (a.clone(), b.clone());
            let t = thread::spawn(move || {
                a2.send(1, true).unwrap();
                b2.send(2, true).unwrap();
            });
            assert_eq!(
                select_recv(&[Some(&*a), Some(&*b)], true),
                Some((0, Some(1)))
            );
            assert_eq!(b.recv(true), Ok(2));
            t.join().unwrap();
            assert!(quiet(&a) && quiet(&b));
        });
    }

    /// A select's send case won by a receiver while a close on the other
    /// case's channel dequeues (and skips: the select is already won) the
    /// select's receive sudog: pass 3 then finds it already off the queue
    /// (Go's `dequeueSudoG` on a removed sudog). Exactly one case fires.
    #[test]
    fn loom_select_won_then_close_skips_its_sudog() {
        model(|| {
            let (a, b) = (ch::<u32>(0), ch::<u32>(0));
            let (a2, b2) = (a.clone(), b.clone());
            let t = thread::spawn(move || {
                let v = a2.recv(true);
                b2.close().unwrap();
                v
            });
            let (r, _) = select_send_recv(&a, 10, &b);
            assert_eq!(r, Chosen::Sent(0));
            assert_eq!(t.join().unwrap(), Ok(10));
            assert_eq!(b.recv(true), Err(RecvFail::Closed));
            assert!(quiet(&a) && quiet(&b));
        });
    }

    /// A select racing a close and a blocked sender on its two channels:
    /// whichever case wins, the other channel's outcome is still there for
    /// a plain receive afterwards (the value, or "closed").
    #[test]
    fn loom_select_close_vs_sender() {
        model(|| {
            let (a, b) = (ch::<u32>(0), ch::<u32>(0));
            let (a2, b2) = (a.clone(), b.clone());
            let t = thread::spawn(move || {
                b2.close().unwrap();
                a2.send(3, true).unwrap();
            });
            match select_recv(&[Some(&*a), Some(&*b)], true) {
                Some((0, Some(3))) => assert_eq!(b.recv(true), Err(RecvFail::Closed)),
                Some((1, None)) => assert_eq!(a.recv(true), Ok(3)),
                other => panic!("select chose {other:?}"),
            }
            t.join().unwrap();
            assert!(quiet(&a) && quiet(&b));
        });
    }
}

#[cfg(not(loom))]
mod host {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn wait_until(f: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        panic!("condition never held");
    }

    #[test]
    fn buffered_fifo_wraps_and_try_ops() {
        let c = ch::<u32>(3);
        for round in 0..5 {
            for v in 0..3 {
                c.send(round * 10 + v, false).unwrap();
            }
            assert_eq!(c.send(99, false), Err(SendFail::Full(99)));
            assert_eq!(c.len(), 3);
            for v in 0..3 {
                assert_eq!(c.recv(false), Ok(round * 10 + v));
            }
            assert_eq!(c.recv(false), Err(RecvFail::Empty));
        }
    }

    #[test]
    fn unbuffered_try_ops_need_a_partner() {
        let c = ch::<u32>(0);
        assert_eq!(c.send(1, false), Err(SendFail::Full(1)));
        assert_eq!(c.recv(false), Err(RecvFail::Empty));
    }

    #[test]
    fn close_drains_then_reports_closed() {
        let c = ch::<u32>(4);
        c.send(1, false).unwrap();
        c.send(2, false).unwrap();
        c.close().unwrap();
        assert_eq!(c.send(3, false), Err(SendFail::Closed(3)));
        assert_eq!(c.send(3, true), Err(SendFail::Closed(3)));
        assert_eq!(c.recv(true), Ok(1));
        assert_eq!(c.recv(false), Ok(2));
        assert_eq!(c.recv(true), Err(RecvFail::Closed));
        assert_eq!(c.recv(false), Err(RecvFail::Closed));
        assert_eq!(c.close(), Err(AlreadyClosed));
    }

    #[test]
    fn dropping_a_channel_drops_buffered_values_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct D;
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let c = ch::<D>(4);
        for _ in 0..3 {
            assert!(c.send(D, false).is_ok());
        }
        drop(c.recv(false));
        assert_eq!(DROPS.load(Ordering::Relaxed), 1);
        drop(c);
        assert_eq!(DROPS.load(Ordering::Relaxed), 3);
    }

    /// The full-buffer hand-off, deterministically: a sender parked on a
    /// full buffer; a receive takes the head and the parked value becomes
    /// the tail.
    #[test]
    fn full_buffer_receive_moves_parked_sender_to_tail() {
        let c = ch::<u32>(2);
        c.send(1, false).unwrap();
        c.send(2, false).unwrap();
        let c2 = c.clone();
        let t = std::thread::spawn(move || c2.send(3, true));
        wait_until(|| !c.debug_state().1);
        assert_eq!(c.recv(false), Ok(1));
        t.join().unwrap().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.recv(false), Ok(2));
        assert_eq!(c.recv(false), Ok(3));
        assert!(quiet(&c));
    }

    #[test]
    fn close_wakes_every_blocked_receiver_and_sender() {
        let r = ch::<u32>(0);
        let s = ch::<u32>(0);
        let mut ts = Vec::new();
        for _ in 0..8 {
            let r = r.clone();
            ts.push(std::thread::spawn(move || r.recv(true).is_err()));
            let s = s.clone();
            ts.push(std::thread::spawn(move || s.send(1, true).is_err()));
        }
        std::thread::sleep(Duration::from_millis(20));
        r.close().unwrap();
        s.close().unwrap();
        for t in ts {
            assert!(t.join().unwrap());
        }
        assert!(quiet(&r) && quiet(&s));
    }

    #[test]
    fn many_senders_one_receiver_every_value_once() {
        let c = ch::<u32>(0);
        let n = 4;
        let per = 2_000;
        let ts: Vec<_> = (0..n)
            .map(|k| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        c.send(k * per + i, true).unwrap();
                    }
                })
            })
            .collect();
        let mut seen = vec![false; (n * per) as usize];
        let mut last = vec![None; n as usize];
        for _ in 0..n * per {
            let v = c.recv(true).unwrap();
            assert!(!std::mem::replace(&mut seen[v as usize], true));
            // Per-sender FIFO.
            let k = (v / per) as usize;
            assert!(last[k].is_none_or(|l| l < v));
            last[k] = Some(v);
        }
        for t in ts {
            t.join().unwrap();
        }
    }

    #[test]
    fn select_default_nil_and_fairness() {
        let a = ch::<u32>(1);
        let b = ch::<u32>(1);
        assert_eq!(select_recv(&[Some(&*a), Some(&*b)], false), None);
        assert_eq!(select_recv::<u32>(&[None, None], false), None);
        let mut hits = [0u32; 2];
        for _ in 0..10_000 {
            a.send(1, false).ok();
            b.send(2, false).ok();
            let (i, v) = select_recv(&[Some(&*a), None, Some(&*b)], true).unwrap();
            assert_ne!(i, 1, "a nil case fired");
            assert_eq!(v, Some(if i == 0 { 1 } else { 2 }));
            hits[i / 2] += 1;
        }
        assert!((4_700..=5_300).contains(&hits[0]), "{hits:?}");
    }

    #[test]
    fn select_same_channel_twice_blocking() {
        let c = ch::<u32>(0);
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            for v in 0..500 {
                c2.send(v, true).unwrap();
            }
        });
        let mut which = [0; 2];
        for v in 0..500 {
            let (i, got) = select_recv(&[Some(&*c), Some(&*c)], true).unwrap();
            assert_eq!(got, Some(v));
            which[i] += 1;
        }
        t.join().unwrap();
        assert!(which[0] > 0 && which[1] > 0, "{which:?}");
        assert!(quiet(&c));
    }

    #[test]
    fn select_send_case_on_closed_channel_reports_it() {
        let a = ch::<u32>(0);
        let b = ch::<u32>(0);
        a.close().unwrap();
        let (r, _) = select_send_recv(&a, 1, &b);
        assert_eq!(r, Chosen::SendClosed(0));
    }

    #[test]
    fn selects_on_both_ends_of_two_channels() {
        // Two threads, each selecting send on one channel and receive on
        // the other: a rendezvous between two selects (both enqueue, the
        // second to arrive completes in pass 1 or wakes the first).
        let a = ch::<u32>(0);
        let b = ch::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        let t = std::thread::spawn(move || {
            let mut n = 0;
            for _ in 0..1_000 {
                let (r, _) = select_send_recv(&b2, 1, &a2);
                n += matches!(r, Chosen::Sent(0) | Chosen::Recv(1, true)) as u32;
            }
            n
        });
        let mut n = 0;
        for _ in 0..1_000 {
            let (r, _) = select_send_recv(&a, 2, &b);
            n += matches!(r, Chosen::Sent(0) | Chosen::Recv(1, true)) as u32;
        }
        assert_eq!(t.join().unwrap() + n, 2_000);
        assert!(quiet(&a) && quiet(&b));
    }
}
