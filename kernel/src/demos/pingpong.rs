//! `pingpong`: two goroutines passing a counter over two unbuffered
//! channels. Every hand-off parks one goroutine and readies the other:
//! `send` finds the receiver waiting, copies the value into it and puts it
//! in `runnext` (Go's `ready(gp, next=true)`), then the sender blocks on
//! the reply and the M switches straight to the partner (`gopark` ->
//! `schedule` -> `execute` -> `gogo`). The time per round trip is two
//! such switches plus two channel operations: the floor of goroutine
//! communication. Because the partner goes to `runnext`, the pair tends to
//! stay on one P however many there are (no steals needed).
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::args::{Param, parse};
use super::{delta, per_p, stopped};
use crate::context::Context;
use crate::sync::{WaitGroup, chan};
use crate::time::Instant;
use crate::{go, println};

const PARAMS: &[Param] = &[Param::count("n", 5_000, 1, 1_000_000_000)];

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n] = parse("pingpong", PARAMS, args)?[..] else {
        unreachable!()
    };
    println!("pingpong: {n} round trips of a counter over two unbuffered channels");
    let (a, b) = (chan::<u64>(0), chan::<u64>(0));
    let wg = Arc::new(WaitGroup::new());
    let grun0 = per_p(|c| c.grun.load(Ordering::Relaxed));
    // The ponger: answers until the pinger closes `a`.
    {
        let (a, b, wg) = (a.clone(), b.clone(), wg.clone());
        wg.add(1);
        go(move || {
            for v in &a {
                b.send(v + 1);
            }
            wg.done();
        });
    }
    // The pinger, here: checks the context every 1,024 rounds (a channel
    // operation is cheap; a context check per round would be noise).
    let rounds = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut v = 0;
    for i in 0..n {
        if i % 1024 == 0 && ctx.err().is_some() {
            break;
        }
        a.send(v);
        v = b.recv().expect("pingpong: b is never closed");
        rounds.store(i + 1, Ordering::Relaxed);
    }
    let took = t0.elapsed();
    a.close();
    wg.wait();
    let done = rounds.load(Ordering::Relaxed);
    if done < n {
        return Err(stopped(
            "pingpong",
            ctx,
            format_args!("{done} of {n} round trips"),
        ));
    }
    if v != n {
        return Err(alloc::format!(
            "demo pingpong: the counter came back as {v}, expected {n}"
        ));
    }
    let ran = delta(&per_p(|c| c.grun.load(Ordering::Relaxed)), &grun0);
    println!("pingpong: goroutine runs per P: {ran:?}");
    let ns = took.as_nanos() as u64 / n;
    println!(
        "demo pingpong: {n} round trips in {took:?}: {ns} ns per round trip, {} ns per hand-off (park, ready, switch)",
        ns / 2
    );
    Ok(())
}
