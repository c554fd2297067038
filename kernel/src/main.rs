//! The gmpos kernel that `make run` boots: the banner, then a showcase of
//! the scheduler (goroutines on every CPU, a WaitGroup, sleep next to a
//! goroutine that never yields, Go's `schedtrace` line, a traceback), then
//! it hands over to the serial shell and returns (the shell keeps the
//! kernel up until `halt`). With `demo=NAME` it runs that demo
//! (`kernel/src/demos/`) instead of the showcase, then the same. With
//! `exit` (or `noinput`, no console input) on the command line it powers
//! off instead of starting the shell.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use gmpos::testing::sched::{counters, print_trace};
use gmpos::{Duration, Instant, WaitGroup, go, println, sleep};

gmpos::kernel_main!(main);

fn main() {
    if gmpos::config().stress.on {
        // `stress seed=S secs=T`: the seeded stress run instead of the showcase.
        gmpos::stress::main();
        return;
    }
    if let Some(name) = gmpos::config().demo {
        match gmpos::demos::find(name) {
            Some(demo) => return run_demo(demo),
            None => println!(
                "cmdline: {}; running the showcase",
                gmpos::demos::unknown(name)
            ),
        }
    }
    println!();
    println!(
        "== gmpos showcase: Go's GMP scheduler, {} CPU(s) = {} Ms, gomaxprocs={} Ps ==",
        gmpos::num_cpu(),
        gmpos::num_cpu(),
        gmpos::gomaxprocs()
    );

    // 10,000 goroutines, each adding to a counter.
    let t = Instant::now();
    let wg = Arc::new(WaitGroup::new());
    let sum = Arc::new(AtomicU64::new(0));
    wg.add(10_000);
    for i in 0..10_000u64 {
        let (w, s) = (wg.clone(), sum.clone());
        go(move || {
            s.fetch_add(i, Ordering::Relaxed);
            w.done();
        });
    }
    wg.wait();
    println!(
        "1. go() x 10000, each adding its number, main waits on a WaitGroup: sum {} in {:?}",
        sum.load(Ordering::Relaxed),
        t.elapsed()
    );

    // A goroutine that never yields cannot starve a sleeper: the timer
    // interrupt preempts it.
    let (async0, _, _) = counters();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    go(move || {
        let mut x = 0u64;
        while !s.load(Ordering::Relaxed) {
            x = x.wrapping_add(1);
        }
        core::hint::black_box(x);
    });
    let t = Instant::now();
    for _ in 0..10 {
        sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    let (async1, _, _) = counters();
    println!(
        "2. 10 x sleep(1ms) next to a goroutine spinning forever: {:?} ({} asynchronous preemptions)",
        t.elapsed(),
        async1 - async0
    );

    println!(
        "3. the scheduler now, in Go's GODEBUG=schedtrace format (boot with schedtrace=1000):"
    );
    print_trace(false);

    let ms = gmpos::read_mem_stats();
    println!(
        "4. memory: {} goroutines live ({} Gs allocated, recycled by the free lists), {} KiB heap in use, {} KiB of goroutine stacks",
        ms.goroutines,
        ms.goroutines_allocated,
        ms.heap_in_use >> 10,
        ms.stack_mapped >> 10,
    );
    println!("5. main's own traceback (Go's debug.PrintStack), symbolised by the runner:");
    gmpos::print_stack();
    println!();
    hand_over("showcase");
}

/// After the showcase or a `demo=`: power off with `exit` or without
/// console input, else start the serial shell and return (main hands over
/// by returning: the shell holds the kernel up until `halt`; README: The
/// serial shell).
fn hand_over(what: &str) {
    let cfg = gmpos::config();
    if cfg.exit {
        println!("gmpos: {what} done; powering off (exit)");
    } else if cfg.noinput {
        // Nothing can type (the runner's stdin is not a terminal: CI, a
        // pipe): a shell would only wait, so end like `exit`.
        println!("gmpos: {what} done; no console input (stdin is not a terminal): powering off");
    } else if gmpos::shell::start() {
        println!("gmpos: {what} done; the serial shell is up (Ctrl-A x quits QEMU)");
    } else {
        println!("gmpos: {what} done; no shell, powering off");
    }
}

/// `demo=NAME`: runs it on a context of its own (nobody cancels it here:
/// the deadlock demo's deadlock is then Go's fatal one, status 2, since
/// the shell, which turns deadlocks into reports, is not up yet). A demo's
/// `Err` is printed and is exit status 1 with `exit` (Go's `log.Fatal`).
fn run_demo(demo: &gmpos::demos::Demo) {
    let (ctx, _cancel) = gmpos::Context::background().with_cancel();
    let result = (demo.run)(&ctx, "");
    if let Err(e) = &result {
        println!("{e}");
    }
    if result.is_err() && gmpos::config().exit {
        gmpos::exit(1);
    }
    hand_over(&alloc::format!("demo {}", demo.name));
}
