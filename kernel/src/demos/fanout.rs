//! `fanout`: parallel Fibonacci, one goroutine per call down to a cutoff.
//! `go` puts a new goroutine in `runnext` of the spawning P, so all the
//! work starts on one P; the other Ps find their own queues empty, spin
//! (Go's `findRunnable` -> `stealWork`) and steal half of a busy P's run
//! queue. The per-P lines show it: goroutines run per P (`grun`) and
//! successful steals per P (`steals`, Go's `runqsteal`).
//!
//! Cancellation: each call checks `ctx.err()` before it spawns, so a
//! cancelled tree stops growing and every goroutine still returns its
//! (now meaningless) result to its parent; the root waits for all of them.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::args::{Param, parse};
use super::{delta, per_p, stopped};
use crate::context::Context;
use crate::sync::chan;
use crate::time::Instant;
use crate::{go, println};

const PARAMS: &[Param] = &[
    Param::count("n", 27, 1, 40),
    Param::count("cutoff", 12, 2, 40),
];

/// Plain recursion below the cutoff (the serial work of each goroutine).
#[inline(never)]
fn sfib(n: u64) -> u64 {
    if n < 2 { n } else { sfib(n - 1) + sfib(n - 2) }
}

/// `fib(n)`: `fib(n-1)` in a new goroutine, `fib(n-2)` here, the child's
/// result over a channel of capacity 1 (the child never waits to send).
fn pfib(ctx: &Context, n: u64, cutoff: u64, spawned: &Arc<AtomicU64>) -> u64 {
    if n < cutoff {
        return sfib(n);
    }
    if ctx.err().is_some() {
        return 0; // cancelled: stop growing the tree; the result is discarded
    }
    let ch = chan::<u64>(1);
    spawned.fetch_add(1, Ordering::Relaxed);
    let (tx, c, s) = (ch.clone(), ctx.clone(), spawned.clone());
    go(move || tx.send(pfib(&c, n - 1, cutoff, &s)));
    let b = pfib(ctx, n - 2, cutoff, spawned);
    // The child's send is its last act: after this receive it only returns.
    ch.recv().expect("fanout: the child always sends") + b
}

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n, cutoff] = parse("fanout", PARAMS, args)?[..] else {
        unreachable!()
    };
    println!(
        "fanout: fib({n}) with a goroutine per call for n >= {cutoff}, on {} P(s)",
        crate::gomaxprocs()
    );
    let (grun0, steals0) = (
        per_p(|c| c.grun.load(Ordering::Relaxed)),
        per_p(|c| c.steals.load(Ordering::Relaxed)),
    );
    let stolen0 = per_p(|c| c.gs_stolen.load(Ordering::Relaxed));
    let spawned = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let r = pfib(ctx, n, cutoff, &spawned);
    let took = t0.elapsed();
    let grun = delta(&per_p(|c| c.grun.load(Ordering::Relaxed)), &grun0);
    let steals = delta(&per_p(|c| c.steals.load(Ordering::Relaxed)), &steals0);
    let stolen = delta(&per_p(|c| c.gs_stolen.load(Ordering::Relaxed)), &stolen0);
    let spawned = spawned.load(Ordering::Relaxed);
    if ctx.err().is_some() {
        return Err(stopped("fanout", ctx, format_args!("{spawned} goroutines")));
    }
    for (i, ((g, s), t)) in grun.iter().zip(&steals).zip(&stolen).enumerate() {
        println!("fanout: P{i}: {g} goroutine runs (execute), {s} steals taking {t} goroutines");
    }
    let want = sfib(n);
    if r != want {
        return Err(alloc::format!(
            "demo fanout: fib({n}) = {r} over goroutines, {want} serially"
        ));
    }
    let total: u64 = steals.iter().sum();
    println!(
        "demo fanout: fib({n}) = {r} with {spawned} goroutines in {took:?}; {total} steals across {} Ps",
        grun.len()
    );
    Ok(())
}
