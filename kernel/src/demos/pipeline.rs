//! `pipeline`: Go's "pipelines and cancellation". A generator feeds
//! `workers` goroutines that square each value (every `slow_every`th one
//! takes `slow` longer, like a slow request); the caller sums the squares.
//! Three uses of `select!`:
//! - every stage sends and receives in a `select!` that also watches
//!   `done`, so one cancel stops all of them wherever they are blocked;
//! - the consumer waits for each value with a fresh `after(timeout)`: a
//!   value later than that counts as a stall (Go's `case <-time.After(d)`);
//! - the whole run has a deadline (`ctx.with_timeout`): past it the
//!   pipeline is cancelled and reports how far it got.
//!
//! The timers cost nothing once they fire or are dropped: each `after` is
//! a function timer sending from the scheduler loop (Go 1.23's channels).
use alloc::sync::Arc;
use core::time::Duration;

use super::args::{Param, parse};
use super::stopped;
use crate::context::{Context, ContextError};
use crate::sync::{Chan, WaitGroup, chan};
use crate::time::{Instant, after, sleep};
use crate::{go, println, select};

const PARAMS: &[Param] = &[
    Param::count("n", 200, 1, 10_000_000),
    Param::count("workers", 4, 1, 64),
    Param::millis("work", 1, 0, 1_000),
    Param::count("slow_every", 50, 1, 10_000_000),
    Param::millis("slow", 30, 0, 10_000),
    Param::millis("timeout", 10, 1, 10_000),
    Param::millis("deadline", 5_000, 1, 600_000),
];

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n, workers, work, slow_every, slow, timeout, deadline] =
        parse("pipeline", PARAMS, args)?[..]
    else {
        unreachable!()
    };
    let (work, slow) = (Duration::from_nanos(work), Duration::from_nanos(slow));
    let (timeout, deadline) = (
        Duration::from_nanos(timeout),
        Duration::from_nanos(deadline),
    );
    println!(
        "pipeline: 1..={n} -> {workers} squaring workers ({work:?} each, every {slow_every}th +{slow:?}) -> sum; \
         per-value timeout {timeout:?}, deadline {deadline:?}"
    );
    let (run_ctx, cancel) = ctx.with_timeout(deadline);
    let wg = Arc::new(WaitGroup::new());
    let start = |f: alloc::boxed::Box<dyn FnOnce() + Send>| {
        let wg = wg.clone();
        wg.add(1);
        go(move || {
            f();
            wg.done();
        });
    };

    // Stage 1: the generator, closing its channel when done or cancelled.
    let values: Chan<u64> = chan(0);
    let (out, c) = (values.clone(), run_ctx.clone());
    start(alloc::boxed::Box::new(move || {
        for v in 1..=n {
            select! {
                send(&out, v) => {},
                recv(c.done()) => break,
            }
        }
        out.close();
    }));

    // Stage 2: the workers; the last one out closes `squares` (fan-in).
    let squares: Chan<u64> = chan(workers as usize);
    let left = Arc::new(core::sync::atomic::AtomicU64::new(workers));
    for _ in 0..workers {
        let (inp, out, c, left) = (
            values.clone(),
            squares.clone(),
            run_ctx.clone(),
            left.clone(),
        );
        start(alloc::boxed::Box::new(move || {
            'work: for v in &inp {
                sleep(if v % slow_every == 0 {
                    work + slow
                } else {
                    work
                });
                select! {
                    send(&out, v * v) => {},
                    recv(c.done()) => break 'work,
                }
            }
            if left.fetch_sub(1, core::sync::atomic::Ordering::AcqRel) == 1 {
                out.close();
            }
        }));
    }
    drop(values);

    // Stage 3: the consumer, here.
    let t0 = Instant::now();
    let (mut sum, mut got, mut stalls) = (0u64, 0u64, 0u64);
    loop {
        let timer = after(timeout);
        select! {
            v = recv(&squares) => match v {
                Some(v) => { sum = sum.wrapping_add(v); got += 1; }
                None => break, // every worker is done
            },
            recv(&timer) => {
                stalls += 1;
                if stalls <= 5 {
                    println!("pipeline: no value within {timeout:?} (after {got} values)");
                }
            },
            recv(run_ctx.done()) => break,
        }
    }
    let took = t0.elapsed();
    let why = run_ctx.err();
    cancel.cancel();
    // The workers may still hold values: drain until the last one closes.
    for _ in &squares {}
    wg.wait();
    if ctx.err().is_some() {
        return Err(stopped(
            "pipeline",
            ctx,
            format_args!("{got} of {n} values"),
        ));
    }
    if why == Some(ContextError::DeadlineExceeded) {
        println!(
            "demo pipeline: deadline {deadline:?} exceeded after {got} of {n} values ({stalls} stalls); every stage stopped"
        );
        return Ok(());
    }
    // 1^2 + ... + n^2, in u128 so that a large n cannot overflow the check.
    let n128 = n as u128;
    let want = (n128 * (n128 + 1) * (2 * n128 + 1) / 6) as u64;
    if got != n || sum != want {
        return Err(alloc::format!(
            "demo pipeline: {got} values summing to {sum}, expected {n} summing to {want}"
        ));
    }
    println!(
        "demo pipeline: {n} squares summed to {sum} in {took:?} with {stalls} stalls over {timeout:?}"
    );
    Ok(())
}
