//! `deadlock`: `workers` goroutines and the caller all block in a
//! `select!` on a channel nobody will ever send to, and on `ctx.done()`.
//! If nothing else can wake them (no other goroutine runnable, no timer
//! pending: a context with a deadline has one, a plain cancel context has
//! none), the last CPU to go idle runs Go's `checkdead` and finds every
//! goroutine asleep:
//!
//! - normally (`demo=deadlock exit` on the command line) that is Go's
//!   `fatal error: all goroutines are asleep - deadlock!` with every
//!   goroutine's traceback, and exit status 2;
//! - in report-only mode (the serial shell's) the report is printed, the
//!   kernel goes on, and the shell cancels the context: `ctx.done()`
//!   fires, everyone returns, and the demo ends with its summary.
//!
//! Its only way out is `ctx`, so unlike the others it returns `Ok` when
//! cancelled: that is how it ends.
use alloc::sync::Arc;

use super::args::{Param, parse};
use crate::context::Context;
use crate::sync::{Chan, WaitGroup, chan};
use crate::{go, println, select};

const PARAMS: &[Param] = &[Param::count("workers", 3, 0, 10_000)];

/// Blocks until `ctx` is done: `never` gets no sender.
fn wait(never: &Chan<u64>, ctx: &Context) {
    select! {
        recv(never) => unreachable!("deadlock: nobody sends on this channel"),
        recv(ctx.done()) => {},
    }
}

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [workers] = parse("deadlock", PARAMS, args)?[..] else {
        unreachable!()
    };
    let reports0 = crate::sched::deadlock::reports();
    println!(
        "deadlock: {workers} goroutine(s) and this one now block in select! on a channel nobody sends to, and on ctx.done()"
    );
    if ctx.deadline().is_some() {
        println!(
            "deadlock: (this context has a deadline: its timer is pending, so checkdead will not report)"
        );
    } else {
        println!("deadlock: no timer is pending: Go's checkdead will report all goroutines asleep");
    }
    let never = chan::<u64>(0);
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..workers {
        let (never, ctx, wg) = (never.clone(), ctx.clone(), wg.clone());
        wg.add(1);
        go(move || {
            wait(&never, &ctx);
            wg.done();
        });
    }
    wait(&never, ctx);
    wg.wait();
    let reports = crate::sched::deadlock::reports() - reports0;
    println!(
        "demo deadlock: {} goroutine(s) released by the context ({}) after {reports} deadlock report(s)",
        workers + 1,
        ctx.err()
            .map_or(alloc::string::String::from("not done"), |e| alloc::format!(
                "{e}"
            ))
    );
    Ok(())
}
