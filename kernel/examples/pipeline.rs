//! A three-stage pipeline (Go's "pipelines and cancellation"): a generator,
//! four squaring workers, and `main` summing, with a `select!` timeout via
//! `after` and a `context` whose cancel stops every stage early:
//! `make run EXAMPLE=pipeline`. The README's context + time snippet.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::time::Duration;
use gmpos::{Chan, Context, Instant, WaitGroup, after, chan, go, println};

gmpos::kernel_main!(main);

/// Sends 1, 2, 3, ... until `ctx` is done (Go: `gen(ctx)`).
fn generate(ctx: &Context) -> Chan<u64> {
    let out = chan(0);
    let (o, ctx) = (out.clone(), ctx.clone());
    go(move || {
        let mut n = 1;
        loop {
            gmpos::select! {
                send(&o, n) => n += 1,
                recv(ctx.done()) => break,
            }
        }
        o.close();
    });
    out
}

/// Four workers squaring what arrives on `inp`, merged into one channel
/// closed when all four are done (Go: fan-out, fan-in with a WaitGroup).
fn square(ctx: &Context, inp: &Chan<u64>) -> Chan<u64> {
    let out = chan(4);
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..4 {
        wg.add(1);
        let (i, o, w, ctx) = (inp.clone(), out.clone(), wg.clone(), ctx.clone());
        go(move || {
            for v in &i {
                gmpos::select! {
                    send(&o, v * v) => {},
                    recv(ctx.done()) => break,
                }
            }
            w.done();
        });
    }
    let (o, w) = (out.clone(), wg);
    go(move || {
        w.wait();
        o.close();
    });
    out
}

fn main() {
    let t0 = Instant::now();
    let (ctx, cancel) = Context::background().with_cancel();
    let squares = square(&ctx, &generate(&ctx));
    // Sum squares until 1,000 arrived or 2 s passed, whichever is first.
    let timeout = after(Duration::from_secs(2));
    let (mut sum, mut n) = (0u64, 0u64);
    while n < 1_000 {
        gmpos::select! {
            v = recv(&squares) => match v {
                Some(v) => { sum += v; n += 1; }
                None => break,
            },
            recv(&timeout) => {
                println!("pipeline: timed out after {n} values");
                break;
            }
        }
    }
    // Stop every stage: they all select on ctx.done().
    cancel.cancel();
    for _ in &squares {} // drain until the workers close it
    println!(
        "pipeline: {n} squares summed to {sum} in {:?}; ctx.err() = {:?}",
        t0.elapsed(),
        ctx.err()
    );
    assert_eq!(n, 1_000);
    assert_eq!(ctx.err(), Some(gmpos::ContextError::Canceled));
}
