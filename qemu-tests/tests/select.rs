//! `select!` (issue 12): fairness over two always-ready channels (50% +- 3%
//! of 10,000, random not alternating: runs of length >= 5 occur, run
//! lengths roughly geometric), `default` never blocks, a nil (`None`) case
//! never fires, the same channel in two cases, send cases, a losing send
//! case's value dropped exactly once, and `select! {}` parked for good.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use gmpos::testing::sched::{G, WaitReason, getg};
use gmpos::{Chan, WaitGroup, chan, go, gosched, select};

gmpos::qemu_test! {
    config: "
        smp=1,2
        timeout=120
    ",
}

#[gmpos::test]
fn fairness_two_ready_channels() {
    let (a, b): (Chan<u32>, Chan<u32>) = (chan(1), chan(1));
    a.send(0);
    b.send(1);
    const N: usize = 10_000;
    let mut count = [0usize; 2];
    // runs[k]: maximal runs of the same case of length k (k < 16; longer
    // ones in runs[15]).
    let mut runs = [0usize; 16];
    let (mut last, mut len) = (usize::MAX, 0);
    for _ in 0..N {
        let got = select! {
            v = recv(&a) => { a.send(0); v.unwrap() as usize },
            v = recv(&b) => { b.send(1); v.unwrap() as usize },
        };
        count[got] += 1;
        if got == last {
            len += 1;
        } else {
            if len > 0 {
                runs[len.min(15)] += 1;
            }
            (last, len) = (got, 1);
        }
    }
    runs[len.min(15)] += 1;
    let long: usize = runs[5..].iter().sum();
    gmpos::test_note!(
        "a {} / b {} of {N}; runs of length 1..=6: {:?}; >= 5: {long}",
        count[0],
        count[1],
        &runs[1..=6]
    );
    let share = count[0] as f64 / N as f64;
    assert!(
        (0.47..=0.53).contains(&share),
        "case a chosen {share:.3} of the time"
    );
    assert!(
        long > 0,
        "no run of length >= 5: the choice alternates, it is not random"
    );
    // Geometric with p = 1/2: each length about half as frequent as the
    // previous one (expected 2,500, 1,250, 625, 312 runs of lengths 1-4).
    for k in 1..=3 {
        let ratio = runs[k] as f64 / runs[k + 1].max(1) as f64;
        assert!(
            (1.4..=2.8).contains(&ratio),
            "runs of length {k} / {}: {ratio:.2} (geometric: about 2)",
            k + 1
        );
    }
}

#[gmpos::test]
fn default_never_blocks() {
    let (a, b): (Chan<u32>, Chan<u32>) = (chan(0), chan(4));
    for _ in 0..10_000 {
        let hit = select! {
            _ = recv(&a) => false,
            send(&a, 1) => false,
            _ = recv(&b) => false,
            default => true,
        };
        assert!(hit, "a case fired with nothing ready");
    }
    // Ready beats default.
    b.send(5);
    let got = select! { v = recv(&b) => v, default => None };
    assert_eq!(got, Some(5));
    // A closed channel is ready (receives None).
    a.close();
    let closed = select! { v = recv(&a) => v.is_none(), default => false };
    assert!(closed, "a closed channel's receive case did not fire");
    // Only default.
    assert_eq!(select! { default => 7 }, 7);
}

#[gmpos::test]
fn nil_case_never_fires() {
    let a: Chan<u32> = chan(1);
    let off: Option<&Chan<u32>> = None;
    for i in 0..2_000 {
        a.try_send(i).ok();
        // `off` is a channel switched off (Go's nil channel): neither its
        // receive nor its send case may fire, though `a` is ready.
        let which = select! {
            _ = recv(off) => 0,
            send(off, 9) => 1,
            _ = recv(&a) => 2,
        };
        assert_eq!(which, 2, "a nil case fired");
    }
    // Switching a channel off by Option: only the live one is received.
    let mut live = [Some(&a), None];
    a.try_send(1).ok();
    for _ in 0..100 {
        let r = select! {
            v = recv(live[0]) => { a.try_send(1).ok(); v.map(|_| 0) },
            v = recv(live[1]) => v.map(|_| 1),
        };
        assert_eq!(r, Some(0));
    }
    live.swap(0, 1);
    assert!(live[0].is_none());
    // Only nil cases and a default: the default.
    assert!(select! { _ = recv(off) => false, default => true });
}

#[gmpos::test]
fn same_channel_in_two_cases() {
    // Blocking: both cases' sudogs queue on the one channel; each value
    // wakes exactly one case and the other sudog is dequeued.
    let c: Chan<u32> = chan(0);
    let c2 = c.clone();
    go(move || {
        for i in 0..2_000 {
            c2.send(i);
        }
    });
    let mut which = [0usize; 2];
    for i in 0..2_000 {
        let (k, v) = select! {
            v = recv(&c) => (0, v),
            v = recv(&c) => (1, v),
        };
        assert_eq!(v, Some(i), "a value was lost or duplicated");
        which[k] += 1;
    }
    gmpos::test_note!("case 1 {} times, case 2 {} times", which[0], which[1]);
    assert!(which[0] > 0 && which[1] > 0);
    // A send and a receive case on one buffered channel.
    let d: Chan<u32> = chan(1);
    for _ in 0..1_000 {
        let sent = select! {
            send(&d, 3) => true,
            v = recv(&d) => { assert_eq!(v, Some(3)); false },
        };
        assert_eq!(sent, d.len() == 1);
    }
}

#[gmpos::test]
fn send_cases_and_losing_values_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted(#[allow(dead_code)] u32);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Two send cases, one receiver: one value goes through, the other is
    // dropped by the select, once.
    let (a, b): (Chan<Counted>, Chan<Counted>) = (chan(0), chan(0));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..500 {
        wg.add(1);
        let (a2, b2, w) = (a.clone(), b.clone(), wg.clone());
        go(move || {
            select! {
                v = recv(&a2) => drop(v),
                v = recv(&b2) => drop(v),
            }
            w.done();
        });
        select! {
            send(&a, Counted(1)) => {},
            send(&b, Counted(2)) => {},
        }
        wg.wait();
    }
    assert_eq!(
        DROPS.load(Ordering::Relaxed),
        1_000,
        "each value dropped exactly once"
    );
}

static PARKED: AtomicPtr<G> = AtomicPtr::new(core::ptr::null_mut());

#[gmpos::test]
fn empty_select_parks_forever() {
    let (a, b): (Chan<u32>, Chan<u32>) = (chan(0), chan(0));
    let b2 = b.clone();
    go(move || {
        PARKED.store(getg(), Ordering::Release);
        b2.send(0);
        select! {}
    });
    b.recv();
    let g = loop {
        let g = PARKED.load(Ordering::Acquire);
        // SAFETY: the goroutine never ends, so its G stays valid.
        if unsafe { (*g).wait_reason() } == WaitReason::SelectNoCases {
            break g;
        }
        gosched();
    };
    for _ in 0..100 {
        gosched();
    }
    // SAFETY: as above.
    assert_eq!(unsafe { (*g).wait_reason() }, WaitReason::SelectNoCases);
    drop(a);
}
