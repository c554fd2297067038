//! Time on channels and context (issue 14) under deterministic virtual time
//! (icount): `after` in a `select!`, a 1 ms `tick` read promptly and read
//! slowly (ticks dropped, not queued), no stale value after `stop`/`reset`,
//! `after_func` in its own goroutine, dropped timers leave no pending
//! timer (`read_mem_stats`), and context: cancel reaching 1,000 children,
//! `with_timeout` at its deadline, `err()`/`deadline()`/`value()`.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::current_goid;
use gmpos::{
    Context, ContextError, Ticker, Timer, WaitGroup, after, after_func, chan, go, gosched,
    read_mem_stats, sleep, tick,
};

gmpos::qemu_test! {
    config: "
        smp=1,2
        icount=1
        timeout=300
    ",
}

const MS: u64 = 1_000_000;

fn icount() -> bool {
    gmpos::testing::hw::tsc::counts_instructions()
}

/// Pending runtime timers now (every P's heaps).
fn timers() -> u64 {
    read_mem_stats().timers
}

#[gmpos::test]
fn select_on_after_5ms_returns_between_5_and_6_ms() {
    let never = chan::<u64>(0);
    let mut worst = 0;
    for _ in 0..20 {
        let t0 = now_ns();
        let timeout = after(Duration::from_millis(5));
        let got = gmpos::select! {
            recv(&never) => None,
            v = recv(&timeout) => v,
        };
        let dt = now_ns() - t0;
        let when = got.expect("after's channel closed").as_nanos();
        assert!(dt >= 5 * MS, "after(5ms) fired after {dt} ns");
        assert!(
            when >= t0 + 5 * MS,
            "after(5ms) sent a time before its deadline"
        );
        worst = worst.max(dt);
    }
    gmpos::test_note!("select on after(5ms) x 20: slowest {} us", worst / 1000);
    if icount() {
        assert!(
            worst < 6 * MS,
            "select on after(5ms) took {worst} ns (limit 6 ms)"
        );
    }
}

#[gmpos::test]
fn tick_1ms_read_promptly_delivers_100_in_100ms() {
    let base = timers();
    let ticks = tick(Duration::from_millis(1));
    let window = after(Duration::from_millis(100));
    let t0 = now_ns();
    let mut n = 0u64;
    let mut last = 0;
    loop {
        gmpos::select! {
            v = recv(&ticks) => {
                let at = v.unwrap().as_nanos();
                assert!(at > last, "ticks out of order");
                last = at;
                n += 1;
            },
            recv(&window) => break,
        }
    }
    let dt = now_ns() - t0;
    gmpos::test_note!("1 ms tick read promptly: {n} ticks in {} us", dt / 1000);
    if icount() {
        assert!(
            (99..=101).contains(&n),
            "{n} ticks in 100 ms (want 100 +- 1)"
        );
    } else {
        assert!(n >= 50, "only {n} ticks in 100 ms");
    }
    // Dropped, the tick channel frees its timer at its next tick.
    drop(ticks);
    sleep(Duration::from_millis(3));
    assert_eq!(timers(), base, "a dropped tick channel left its timer");
}

#[gmpos::test]
fn tick_read_slowly_drops_ticks_instead_of_queueing() {
    let t = Ticker::new(Duration::from_millis(1));
    let mut got = Vec::new();
    let t0 = now_ns();
    for _ in 0..5 {
        // Ten periods pass between reads: ten ticks are due, one is kept.
        sleep(Duration::from_millis(10));
        got.push(t.c().recv().unwrap().as_nanos());
        assert!(
            t.c().try_recv().is_err(),
            "a second tick was queued behind the first"
        );
    }
    let dt = now_ns() - t0;
    gmpos::test_note!(
        "slow reader: 5 ticks received over {} us (about 50 sent)",
        dt / 1000
    );
    // The ticks received are stale by up to a read interval, never a
    // backlog: each one is later than the previous by about 10 ms.
    for w in got.windows(2) {
        assert!(
            w[1] - w[0] >= 5 * MS,
            "ticks {} ns apart: queued",
            w[1] - w[0]
        );
    }
    // Reset: a new period, and nothing stale from the old one.
    sleep(Duration::from_millis(3));
    let r0 = now_ns();
    t.reset(Duration::from_millis(4));
    let v = t.c().recv().unwrap().as_nanos();
    assert!(
        v >= r0 + 4 * MS,
        "a stale tick after reset (at {v}, reset at {r0})"
    );
    t.stop();
    let to = after(Duration::from_millis(5));
    gmpos::select! {
        recv(t.c()) => panic!("a tick after Ticker::stop"),
        recv(&to) => {},
    }
}

#[gmpos::test]
fn stop_then_receive_times_out_no_stale_value() {
    // Stopped while pending.
    let t = Timer::new(Duration::from_millis(2));
    assert!(t.stop(), "stop of a pending timer returned false");
    assert!(!t.stop(), "second stop returned true");
    let to = after(Duration::from_millis(5));
    gmpos::select! {
        recv(t.c()) => panic!("a value after stop (stopped while pending)"),
        recv(&to) => {},
    }
    // Fired but not received: the value is in the slot; stop discards it.
    let t = Timer::new(Duration::from_millis(1));
    sleep(Duration::from_millis(3));
    assert_eq!(t.c().len(), 1, "the fired timer's value is not buffered");
    assert!(t.stop(), "stop of a fired, unreceived timer returned false");
    let to = after(Duration::from_millis(5));
    gmpos::select! {
        recv(t.c()) => panic!("a stale value after stop (fired, unreceived)"),
        recv(&to) => {},
    }
    // Reset after firing: only the new value arrives.
    let r0 = now_ns();
    assert!(
        !t.reset(Duration::from_millis(2)),
        "reset of a stopped timer returned true"
    );
    let v = t.c().recv().unwrap().as_nanos();
    assert!(v >= r0 + 2 * MS, "reset: a stale value arrived");
    // Received: stop reports it had expired.
    assert!(!t.stop(), "stop after the value was received returned true");
}

#[gmpos::test]
fn after_func_runs_in_a_new_goroutine_and_stop_prevents_it() {
    let me = current_goid();
    let ran_in = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let (r, w) = (ran_in.clone(), wg.clone());
    let t0 = now_ns();
    let _f = after_func(Duration::from_millis(3), move || {
        r.store(current_goid(), Ordering::SeqCst);
        w.done();
    });
    wg.wait();
    let dt = now_ns() - t0;
    let g = ran_in.load(Ordering::SeqCst);
    assert!(
        g != 0 && g != me,
        "after_func ran in goroutine {g} (caller {me})"
    );
    assert!(dt >= 3 * MS, "after_func ran after {dt} ns");
    if icount() {
        assert!(dt < 4 * MS, "after_func ran after {dt} ns (limit 4 ms)");
    }
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let f = after_func(Duration::from_millis(2), move || {
        h.fetch_add(1, Ordering::SeqCst);
    });
    assert!(f.stop(), "stop of a pending after_func returned false");
    sleep(Duration::from_millis(4));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a stopped after_func ran");
    // Reset runs it again.
    assert!(!f.reset(Duration::from_millis(1)));
    while hits.load(Ordering::SeqCst) == 0 {
        sleep(Duration::from_millis(1));
    }
    assert!(!f.stop(), "stop after f started returned true");
}

#[gmpos::test]
fn ten_thousand_dropped_afters_leave_no_timers() {
    let base = timers();
    let before = read_mem_stats().heap_in_use;
    for _ in 0..10_000 {
        drop(after(Duration::from_secs(1)));
    }
    // Dropped timers too (the Timer held the last handle: freed at once).
    for _ in 0..1_000 {
        drop(Timer::new(Duration::from_secs(1)));
    }
    let pending = timers() - base;
    assert!(
        pending >= 10_000,
        "only {pending} timers pending after 10,000 after(1s)"
    );
    sleep(Duration::from_millis(1_010));
    // Let every P's scheduler loop get to its due timers.
    for _ in 0..10 {
        gosched();
        sleep(Duration::from_millis(1));
    }
    let left = timers() - base;
    let after_heap = read_mem_stats().heap_in_use;
    gmpos::test_note!(
        "10,000 dropped after(1s): {pending} timers pending, {left} left after 1 s; heap {} KiB -> {} KiB",
        before / 1024,
        after_heap / 1024
    );
    assert_eq!(
        left, 0,
        "{left} dropped timers still pending after they fired"
    );
    assert!(
        after_heap < before + 256 * 1024,
        "heap grew by {} KiB: dropped timers leaked",
        (after_heap - before) / 1024
    );
}

#[gmpos::test]
fn context_cancel_propagates_to_1000_children() {
    let base = timers();
    let (root, cancel) = Context::background().with_cancel();
    let wg = Arc::new(WaitGroup::new());
    let woke = Arc::new(AtomicU64::new(0));
    let mut kids = Vec::new();
    // 900 direct children, each watched by a goroutine parked in select!.
    for i in 0..900 {
        let (c, _cancel) = if i % 3 == 0 {
            root.with_timeout(Duration::from_secs(60))
        } else {
            root.with_cancel()
        };
        wg.add(1);
        let (w, n, c2) = (wg.clone(), woke.clone(), c.clone());
        let never = chan::<()>(0);
        go(move || {
            gmpos::select! {
                recv(c2.done()) => { n.fetch_add(1, Ordering::SeqCst); },
                recv(&never) => {},
            }
            w.done();
        });
        kids.push(c);
    }
    // And a chain of 100 below one value node: 100 levels, no recursion.
    let mut tip = root.with_value("level", 0u32);
    for _ in 0..100 {
        tip = tip.with_cancel().0;
    }
    assert_eq!(root.children(), 901, "children registered with the root");
    assert_eq!(tip.value::<u32>("level"), Some(&0));
    assert!(
        timers() >= base + 300,
        "the with_timeout children have timers"
    );
    let t0 = now_ns();
    cancel.cancel();
    wg.wait();
    let dt = now_ns() - t0;
    gmpos::test_note!(
        "cancel reached 1000 children (900 watched) in {} us",
        dt / 1000
    );
    assert_eq!(woke.load(Ordering::SeqCst), 900);
    for k in &kids {
        assert_eq!(k.err(), Some(ContextError::Canceled));
    }
    assert_eq!(tip.err(), Some(ContextError::Canceled), "the chain's tip");
    assert_eq!(root.children(), 0, "canceled children still registered");
    drop(kids);
    assert_eq!(timers(), base, "canceled deadline children left timers");
    cancel.cancel(); // idempotent
    assert_eq!(root.err(), Some(ContextError::Canceled));
}

#[gmpos::test]
fn context_with_timeout_fires_at_its_deadline() {
    let bg = Context::background();
    let t0 = now_ns();
    let (ctx, _cancel) = bg.with_timeout(Duration::from_millis(10));
    let d = ctx.deadline().expect("no deadline").as_nanos();
    assert!(d >= t0 + 10 * MS && d <= now_ns() + 10 * MS);
    // A later child deadline follows the parent's.
    let (child, _c2) = ctx.with_timeout(Duration::from_secs(5));
    assert_eq!(child.deadline().map(|i| i.as_nanos()), Some(d));
    assert_eq!(ctx.err(), None);
    assert_eq!(
        ctx.done().unwrap().recv(),
        None,
        "done is closed, not sent on"
    );
    let dt = now_ns() - t0;
    gmpos::test_note!("with_timeout(10ms) done after {} us", dt / 1000);
    assert!(dt >= 10 * MS, "with_timeout(10ms) fired after {dt} ns");
    if icount() {
        assert!(
            dt < 11 * MS,
            "with_timeout(10ms) fired after {dt} ns (limit 11 ms)"
        );
    }
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    child.done().unwrap().recv();
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

#[gmpos::test]
fn context_err_values_and_detaching() {
    let bg = Context::background();
    assert!(bg.done().is_none() && bg.err().is_none() && bg.deadline().is_none());
    // Canceled before its deadline: Canceled, and the timer goes.
    let base = timers();
    let (a, cancel_a) = bg.with_timeout(Duration::from_secs(10));
    assert_eq!(timers(), base + 1);
    cancel_a.cancel();
    assert_eq!(a.err(), Some(ContextError::Canceled));
    assert_eq!(timers(), base, "a canceled deadline context kept its timer");
    // A child of a done parent is born done, with the parent's error.
    let (b, _) = a.with_cancel();
    assert_eq!(b.err(), Some(ContextError::Canceled));
    let (c, _) = Context::background().with_deadline(gmpos::Instant::now());
    assert_eq!(
        c.err(),
        Some(ContextError::DeadlineExceeded),
        "a past deadline"
    );
    // Detached when they finish: canceled, or dropped.
    let (p, cancel_p) = bg.with_cancel();
    let (k1, cancel_k1) = p.with_cancel();
    let (k2, _) = p.with_cancel();
    assert_eq!(p.children(), 2);
    cancel_k1.cancel();
    assert_eq!(p.children(), 1, "a canceled child stayed registered");
    assert_eq!(p.err(), None, "a child's cancel reached its parent");
    drop(k2);
    assert_eq!(p.children(), 0, "a dropped child stayed registered");
    assert_eq!(k1.err(), Some(ContextError::Canceled));
    // Values: found through cancel nodes, typed.
    let v = p.with_value("user", 42u64);
    let (deep, _) = v.with_cancel();
    assert_eq!(deep.value::<u64>("user"), Some(&42));
    assert_eq!(deep.value::<u32>("user"), None, "wrong type");
    assert_eq!(deep.value::<u64>("other"), None);
    cancel_p.cancel();
    assert_eq!(deep.err(), Some(ContextError::Canceled));
    assert_eq!(
        alloc::format!("{}", ContextError::DeadlineExceeded),
        "context deadline exceeded"
    );
}
