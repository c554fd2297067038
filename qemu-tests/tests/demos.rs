//! The demos library (`gmpos::demos`, issue 17): every demo in the table is
//! found by name, refuses bad arguments with one line naming the word
//! before it starts anything, runs to its summary with small arguments,
//! and — the contract the shell's Ctrl-C relies on, since goroutines
//! cannot be killed — returns soon after its context is done, with every
//! goroutine it started finished (`num_goroutine` back to its value
//! before). Last, the shell's report-only deadlock mode: the deadlock demo
//! is reported by Go's `checkdead` without stopping the kernel, and a
//! cancel releases it.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use gmpos::demos::{Demo, all, find};
use gmpos::testing::sched::{deadlock_reports, go_system, set_report_only};
use gmpos::{Context, Duration, Instant, chan, go, num_goroutine, sleep};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        timeout=180
    ",
}

/// Arguments that make each demo short (to run it to the end) and ones
/// that make it far too long to end by itself (to prove the cancel).
/// Every demo of the table must be here: a new one cannot be forgotten.
const ARGS: &[(&str, &str, &str)] = &[
    ("sieve", "n=20", "n=1000000"),
    ("fanout", "n=18", "n=40"),
    (
        "preempt",
        "ticks=5 period=2ms limit=200ms",
        "ticks=100000 limit=60s",
    ),
    ("pipeline", "n=40 slow_every=20 slow=15ms", "n=10000000"),
    ("pool", "n=20", "n=1000000"),
    ("philosophers", "meals=3", "meals=1000000"),
    ("pingpong", "n=500", "n=1000000000"),
    ("deadlock", "", "workers=8"),
];

fn args_of(d: &Demo) -> (&'static str, &'static str) {
    let (_, short, long) = ARGS
        .iter()
        .find(|(n, _, _)| *n == d.name)
        .unwrap_or_else(|| panic!("demos test: no arguments for demo `{}`", d.name));
    (short, long)
}

/// Waits (at most 2 s) for the goroutine count to be back at `before`:
/// a goroutine's `wg.done()` is its last act, its exit follows at once.
fn settle(name: &str, before: u64) {
    let t0 = Instant::now();
    while num_goroutine() != before {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "demo {name}: {} goroutines 2 s after it returned, {before} before",
            num_goroutine()
        );
        sleep(Duration::from_millis(1));
    }
}

#[gmpos::test]
fn every_demo_is_in_the_table_once() {
    assert!(all().len() >= 8, "{} demos", all().len());
    for d in all() {
        let found = find(d.name).expect("find by the table's own name");
        assert!(core::ptr::eq(found, d), "demo {} found twice", d.name);
        assert!(!d.about.is_empty() && !d.about.contains('\n'));
        args_of(d);
    }
    assert!(find("nosuchdemo").is_none());
    let msg = gmpos::demos::unknown("nosuchdemo");
    assert!(msg.contains("`nosuchdemo`"), "{msg}");
    for d in all() {
        assert!(msg.contains(d.name), "{msg} does not list {}", d.name);
    }
}

#[gmpos::test]
fn bad_arguments_are_one_line_errors_naming_the_word() {
    let ctx = Context::background();
    let before = num_goroutine();
    for d in all() {
        for bad in ["bogus=1", "justaword"] {
            let e: String = (d.run)(&ctx, bad).expect_err(bad);
            assert!(
                e.contains(&alloc::format!("`{bad}`")),
                "demo {}: `{e}` does not name `{bad}`",
                d.name
            );
            assert!(e.starts_with(&alloc::format!("demo {}: ", d.name)), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
    for (name, bad) in [
        ("sieve", "n=abc"),
        ("sieve", "n=0"),
        ("fanout", "n=99"),
        ("preempt", "period=5"),
        ("pipeline", "timeout=0ms"),
        ("pool", "workers=-1"),
        ("philosophers", "n=1"),
        ("pingpong", "n="),
        ("deadlock", "workers=x"),
    ] {
        let e = (find(name).unwrap().run)(&ctx, bad).expect_err(bad);
        assert!(
            e.contains(&alloc::format!("bad value in `{bad}`")),
            "demo {name}: {e}"
        );
        gmpos::test_note!("{e}");
    }
    assert_eq!(num_goroutine(), before, "a refused demo started goroutines");
}

#[gmpos::test]
fn every_demo_runs_to_its_summary() {
    let ctx = Context::background();
    for d in all().iter().filter(|d| d.name != "deadlock") {
        let before = num_goroutine();
        let t0 = Instant::now();
        let (short, _) = args_of(d);
        let r = (d.run)(&ctx, short);
        assert_eq!(r, Ok(()), "demo {} {short}", d.name);
        settle(d.name, before);
        gmpos::test_note!("demo {} {short}: {:?}", d.name, t0.elapsed());
    }
}

#[gmpos::test]
fn cancel_stops_every_demo_and_its_goroutines() {
    for d in all() {
        let before = num_goroutine();
        let (_, long) = args_of(d);
        let (ctx, cancel) = Context::background().with_cancel();
        // Canceled the way the shell's Ctrl-C does it: a goroutine woken
        // (here by its sleep's timer; there by the UART interrupt) calls
        // `cancel`. Woken goroutines are served before any run queue
        // (`sched.wokenq`), so the cancel is not queued behind the demo's
        // goroutines, as a `with_timeout`'s `after_func` goroutine would
        // be (behind thousands of fanout's).
        let canceller = chan::<()>(1);
        let c = canceller.clone();
        go(move || {
            sleep(Duration::from_millis(200));
            cancel.cancel();
            c.send(());
        });
        let t0 = Instant::now();
        let r = (d.run)(&ctx, long);
        let took = t0.elapsed();
        canceller.recv();
        if d.name == "deadlock" {
            // Its only way out is the context; the canceller's sleep was a
            // pending timer all along, so checkdead never reported.
            assert_eq!(r, Ok(()), "demo deadlock");
        } else {
            let e = r.expect_err("the demo cannot have finished its long run");
            assert!(e.contains("context canceled"), "demo {}: {e}", d.name);
            gmpos::test_note!("{e} ({took:?})");
        }
        settle(d.name, before);
    }
}

#[gmpos::test]
fn deadlock_is_reported_then_released_by_cancel() {
    set_report_only(true);
    let reports0 = deadlock_reports();
    let before = num_goroutine();
    let (ctx, cancel) = Context::background().with_cancel();
    // The shell's part: a system goroutine (neither counted by checkdead
    // nor its timers) cancels once the report is out.
    let released = Arc::new(AtomicBool::new(false));
    let r2 = released.clone();
    go_system(move || {
        let t0 = Instant::now();
        while deadlock_reports() == reports0 && t0.elapsed() < Duration::from_secs(20) {
            sleep(Duration::from_millis(1));
        }
        cancel.cancel();
        r2.store(true, Ordering::Release);
    });
    let r = (find("deadlock").unwrap().run)(&ctx, "workers=3");
    set_report_only(false);
    assert_eq!(r, Ok(()));
    assert!(
        deadlock_reports() > reports0,
        "the demo was released without a deadlock report"
    );
    settle("deadlock", before);
    while !released.load(Ordering::Acquire) {
        sleep(Duration::from_millis(1));
    }
}
