//! `preempt`: goroutines that spin without ever calling the runtime, one
//! per P, next to the caller waiting on a `Ticker`. Nothing in a spinner's
//! loop is a safe point (no channel, lock, `gosched` or allocation), so the
//! only way the caller gets a CPU back for its tick is **asynchronous
//! preemption** (Go 1.14's signal-based preemption; here the local APIC
//! timer interrupt injects a call to `async_preempt` into the spinner).
//!
//! Boot with `preempt=coop` (or `preempt=off`) to see the other history:
//! before Go 1.14 a tight loop could hold its P forever, so the ticks stop
//! until the spinners give up by themselves after `limit`. (gmpos's
//! cooperative safe points are runtime calls and lock releases, not Go
//! 1.2-1.13's every-function-prologue check: these spinners have none.)
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use super::args::{Param, parse};
use super::stopped;
use crate::context::Context;
use crate::sched::preempt::counters;
use crate::sync::WaitGroup;
use crate::time::{Instant, Ticker};
use crate::{go, println, select};

const PARAMS: &[Param] = &[
    Param::count("ticks", 20, 1, 100_000),
    Param::millis("period", 10, 1, 1_000),
    Param::count("spinners", 0, 0, 64),
    Param::millis("limit", 1_000, 10, 60_000),
];

/// Spins until told to stop or `limit` has passed. `Instant::elapsed` only
/// reads the TSC: no safe point anywhere in this loop.
fn spin(stop: &AtomicBool, limit: Duration) {
    let t0 = Instant::now();
    while !stop.load(Ordering::Relaxed) && t0.elapsed() < limit {
        core::hint::spin_loop();
    }
}

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [ticks, period, spinners, limit] = parse("preempt", PARAMS, args)?[..] else {
        unreachable!()
    };
    let period = Duration::from_nanos(period);
    let limit = Duration::from_nanos(limit);
    // Default: one spinner per P, so no P is left idle to run the ticker's
    // receiver: it needs a spinner to be preempted.
    let spinners = if spinners == 0 {
        crate::gomaxprocs() as u64
    } else {
        spinners
    };
    println!(
        "preempt: {spinners} goroutine(s) spin without a safe point (each gives up after {limit:?}); \
         main waits for {ticks} ticks of {period:?}"
    );
    let (async0, coop0, _) = counters();
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..spinners {
        let (stop, wg) = (stop.clone(), wg.clone());
        wg.add(1);
        go(move || {
            spin(&stop, limit);
            wg.done();
        });
    }
    let ticker = Ticker::new(period);
    let t0 = Instant::now();
    let (mut got, mut last, mut max_gap) = (0u64, t0, Duration::ZERO);
    while got < ticks {
        select! {
            recv(ticker.c()) => {
                let now = Instant::now();
                let gap = now.duration_since(last);
                if got < 5 || gap > period * 2 {
                    println!("preempt: tick {} after {gap:?}", got + 1);
                }
                max_gap = max_gap.max(gap);
                (last, got) = (now, got + 1);
            },
            recv(ctx.done()) => break,
        }
    }
    let took = t0.elapsed();
    ticker.stop();
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    let (async1, coop1, _) = counters();
    let (asyncs, coops) = (async1 - async0, coop1 - coop0);
    if got < ticks {
        return Err(stopped(
            "preempt",
            ctx,
            format_args!("{got} of {ticks} ticks"),
        ));
    }
    let verdict = if max_gap < limit / 2 {
        "on time: the spinners were preempted asynchronously"
    } else {
        "late: nothing preempted the spinners until they gave up"
    };
    println!(
        "demo preempt: {ticks} ticks of {period:?} in {took:?} (longest gap {max_gap:?}, {verdict}); \
         {asyncs} async and {coops} cooperative preemptions; compare with preempt=coop"
    );
    Ok(())
}
