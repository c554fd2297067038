//! The serial shell (issue 17), typed at through the serial port by the
//! runner's input script (`send=`/`await=` below): a bad command's error
//! and the prompt again; Backspace editing; `gomaxprocs 1` then `sched`
//! shows it; the up arrow re-runs an older line; `ps` lists a running
//! demo's goroutines with symbolised frames; Ctrl-\ prints every
//! goroutine's traceback and the shell still answers; Ctrl-C cancels a
//! line and a demo, and the goroutine count comes back; a deadlocked demo
//! is reported (not fatal) while the shell waits for keys, the shell
//! cancels it and stays usable (a test demo and the library's `deadlock`);
//! one that ignores its Context is reported once, not on every tick; `halt`
//! powers off with status 0.
//!
//! The case itself only registers two demos and starts the shell, then
//! returns: `main` ends and the shell holds the kernel up. Typing starts
//! after `gmpos-test: done` (the first prompt may come before or after
//! it: the shell runs on its own goroutine; keys typed early wait in the
//! input channel).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;

use gmpos::testing::shell::{Demo, register_demo, start};
use gmpos::{Context, Duration, WaitGroup, after, chan, go, println, select};

gmpos::qemu_test! {
    config: r"
        smp=1,2
        timeout=240
        await_timeout=60
        await=gmpos-test: done
        send=bogus --x\n
        await=unknown command `bogus` (`help` lists the commands)
        await=gmpos>\x20
        send=hepl\x7f\x7flp\n
        await=commands:
        await=halt
        await=gmpos>\x20
        send=gomaxprocs 1\n
        await= -> 1
        await=gmpos>\x20
        send=sched\n
        await=: gomaxprocs=1 idleprocs=
        await=gmpos>\x20
        send=gomaxprocs 0\n
        await=gomaxprocs: 0 is out of range (1..=
        await=gmpos>\x20
        send=mem\n
        await=mem: goroutines 0 (
        await=gmpos>\x20
        send=\e[A\e[A\e[A\e[A\n
        await=gomaxprocs: 1 -> 1
        await=gmpos>\x20
        send=run ticker\n
        await=run: demo `ticker` started
        await=ticker: 3 workers on timers
        send=ps\n
        await=ps: 4 user goroutine(s)
        await=shell::ticker_worker(
        await=gmpos>\x20
        send=\x1c
        await=SIGQUIT: goroutine dump (Ctrl-\\), 4 user goroutine(s)
        await=shell::ticker_worker(
        await=SIGQUIT: end of dump
        send=cpus\n
        await=online, gomaxprocs=1,
        await=gmpos>\x20
        send=run tick\x03
        await=run tick^C
        await=gmpos>\x20
        send=\x03
        await=run: canceling demo `ticker` (Ctrl-C;
        await=run: demo `ticker` canceled by Ctrl-C after
        await=goroutines: back to 0 (as before the demo)
        send=mem\n
        await=mem: goroutines 0 (
        await=gmpos>\x20
        send=run stuck\n
        await=run: demo `stuck` started
        await=all goroutines are asleep - deadlock! (report only)
        await=shell::stuck_worker(
        await=run: canceling demo `stuck` (a deadlock report;
        await=run: demo `stuck` canceled by a deadlock report after
        await=goroutines: back to 0 (as before the demo)
        send=bench\n
        await=bench: workloads: spawn, spawn_cold, yield
        await=gmpos>\x20
        send=bench nosuch\n
        await=bench: no workload `nosuch` (`bench` lists them)
        await=gmpos>\x20
        send=trace start\n
        await=trace: on
        await=gmpos>\x20
        send=trace start\n
        await=trace: already on
        await=gmpos>\x20
        send=trace stop\n
        await=trace: off
        await=gmpos>\x20
        send=prof start 50\n
        await=prof: sampling at 50 Hz
        await=gmpos>\x20
        send=prof stop\n
        await=prof: off
        await=gmpos>\x20
        send=prof start 0\n
        await=prof: HZ must be 1..=10000, got `0`
        await=gmpos>\x20
        send=knob steal\n
        await=knob: expected NAME=VALUE, got `steal`
        await=gmpos>\x20
        send=knob steal=off\n
        await=knob: steal=off; now sched=gmp steal=off runnext=on
        await=gmpos>\x20
        send=sched\n
        await=knobs: sched=gmp steal=off
        await=gmpos>\x20
        send=knob sched=gm\n
        await=knob sched: only settable on the kernel command line
        await=gmpos>\x20
        send=knob steel=off\n
        await=knob steel: unknown knob
        await=gmpos>\x20
        send=knob steal=on\n
        await=knob: steal=on; now sched=gmp steal=on
        await=gmpos>\x20
        send=run nosuch\n
        await=run: no demo `nosuch` (demos: ticker, stubborn, stuck, sieve, fanout,
        await=gmpos>\x20
        send=run deadlock workers=x\n
        await=run: demo deadlock: bad value in `workers=x`
        await=run: demo `deadlock` failed after
        send=run deadlock workers=2\n
        await=run: demo `deadlock` started
        await=all goroutines are asleep - deadlock! (report only)
        await=gmpos::demos::deadlock::wait(
        await=run: canceling demo `deadlock` (a deadlock report;
        await=run: demo `deadlock` canceled by a deadlock report after
        await=goroutines: back to 0 (as before the demo)
        send=run stubborn\n
        await=run: demo `stubborn` started
        await=all goroutines are asleep - deadlock! (report only)
        await=shell::stubborn_worker(
        await=run: canceling demo `stubborn` (a deadlock report;
        send=run ticker\n
        await=run: demo `stubborn` is still running (one at a time; Ctrl-C cancels it)
        await=gmpos>\x20
        send=sched\n
        await=deadlock: reports=3 (
        await=gmpos>\x20
        send=halt\n
        await=halt: demo `stubborn` is still running; powering off anyway
        await=halt: powering off
    ",
}

/// Workers that each wait on a timer, round after round, until the
/// Context is cancelled (a timer is pending all along: no deadlock).
fn ticker(ctx: &Context, args: &str) -> Result<(), String> {
    if !args.is_empty() {
        return Err(alloc::format!("ticker takes no arguments, got `{args}`"));
    }
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..3 {
        wg.add(1);
        let (ctx, wg) = (ctx.clone(), wg.clone());
        go(move || {
            ticker_worker(&ctx);
            wg.done();
        });
    }
    println!("ticker: 3 workers on timers");
    wg.wait();
    Ok(())
}

#[inline(never)]
fn ticker_worker(ctx: &Context) {
    loop {
        let t = after(Duration::from_millis(5));
        select! {
            recv(ctx.done()) => return,
            recv(&t) => {}
        }
    }
}

/// Workers blocked on a channel nobody sends on, and on the Context: a
/// deadlock until the shell cancels the Context.
fn stuck(ctx: &Context, _args: &str) -> Result<(), String> {
    let never = chan::<()>(0);
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..2 {
        wg.add(1);
        let (ctx, wg, never) = (ctx.clone(), wg.clone(), never.clone());
        go(move || {
            stuck_worker(&ctx, &never);
            wg.done();
        });
    }
    wg.wait();
    Ok(())
}

#[inline(never)]
fn stuck_worker(ctx: &Context, never: &gmpos::Chan<()>) {
    select! {
        recv(never) => {}
        recv(ctx.done()) => {}
    }
}

/// A goroutine that ignores its Context and blocks for good: the shell
/// cannot stop it, and must report the deadlock once, not on every timer
/// tick of its watcher or every key typed afterwards.
fn stubborn(_ctx: &Context, _args: &str) -> Result<(), String> {
    let never = chan::<()>(0);
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    go(move || {
        stubborn_worker(&never);
        w.done();
    });
    wg.wait();
    Ok(())
}

#[inline(never)]
fn stubborn_worker(never: &gmpos::Chan<()>) {
    // black_box: the call must not become a tail jump (this frame would
    // vanish from the traceback).
    core::hint::black_box(never.recv());
}

static TICKER: Demo = Demo {
    name: "ticker",
    about: "three goroutines on timers until canceled",
    run: ticker,
};
static STUBBORN: Demo = Demo {
    name: "stubborn",
    about: "a goroutine blocked for good, deaf to its Context",
    run: stubborn,
};
static STUCK: Demo = Demo {
    name: "stuck",
    about: "two goroutines blocked forever (a deadlock)",
    run: stuck,
};

#[gmpos::test]
fn shell_session() {
    register_demo(&TICKER);
    register_demo(&STUBBORN);
    register_demo(&STUCK);
    assert!(start(), "the shell starts");
    assert!(!start(), "a second start is refused");
}
