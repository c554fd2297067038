//! `philosophers`: Dijkstra's dining philosophers on `Mutex`es, one per
//! fork. Each philosopher takes the lower-numbered fork first (a global
//! lock order: no cycle of waiters, so no deadlock), eats for `eat` holding
//! both, then thinks. Eating is CPU work (a spin), so the Ps are busy: a
//! waiter woken by an unlock must wait for a P while the unlocker, still
//! running, may take the fork straight back (barging).
//!
//! What the counters show (`Mutex::stats`, Go's `sync.Mutex` internals):
//! a neighbour who finds a fork taken spins briefly (`sync_runtime_canSpin`),
//! then parks on the mutex's semaphore (`sleeps`). Eating takes longer than
//! 1 ms, so a parked waiter has waited past Go's `starvationThresholdNs`
//! when it wakes: it switches the fork to **starvation mode**
//! (`starvation_entries`), where the unlocker hands ownership straight to
//! the first waiter (`handoffs`) instead of letting newcomers barge in;
//! the mode ends when the last waiter is served or waited < 1 ms
//! (`starvation_exits`).
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use super::args::{Param, parse};
use super::stopped;
use crate::context::Context;
use crate::sync::{Mutex, MutexStats, WaitGroup};
use crate::time::{Instant, sleep};
use crate::{go, println};

const PARAMS: &[Param] = &[
    Param::count("n", 5, 2, 64),
    Param::count("meals", 20, 1, 1_000_000),
    Param::millis("eat", 2, 0, 1_000),
    Param::millis("think", 0, 0, 1_000),
];

/// CPU work: spins (no safe point needed: async preemption shares the P).
fn spin_for(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        core::hint::spin_loop();
    }
}

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n, meals, eat, think] = parse("philosophers", PARAMS, args)?[..] else {
        unreachable!()
    };
    let (eat, think) = (Duration::from_nanos(eat), Duration::from_nanos(think));
    println!(
        "philosophers: {n} philosophers, {n} forks (Mutexes), {meals} meals each of {eat:?} of CPU work, thinking {think:?}"
    );
    // Each fork counts the meals it served.
    let forks: Arc<Vec<Mutex<u64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let eaten: Arc<Vec<Mutex<u64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let wg = Arc::new(WaitGroup::new());
    let t0 = Instant::now();
    for i in 0..n as usize {
        let (forks, eaten, wg, ctx) = (forks.clone(), eaten.clone(), wg.clone(), ctx.clone());
        wg.add(1);
        go(move || {
            let (a, b) = (i, (i + 1) % forks.len());
            let (first, second) = (a.min(b), a.max(b));
            for _ in 0..meals {
                if ctx.err().is_some() {
                    break;
                }
                let mut f1 = forks[first].lock();
                let mut f2 = forks[second].lock();
                spin_for(eat);
                (*f1, *f2) = (*f1 + 1, *f2 + 1);
                drop((f2, f1));
                *eaten[i].lock() += 1;
                sleep(think);
            }
            wg.done();
        });
    }
    wg.wait();
    let took = t0.elapsed();
    let meals_eaten: u64 = eaten.iter().map(|m| *m.lock()).sum();
    if ctx.err().is_some() {
        return Err(stopped(
            "philosophers",
            ctx,
            format_args!("{meals_eaten} of {} meals", n * meals),
        ));
    }
    let mut total = MutexStats::default();
    for (i, f) in forks.iter().enumerate() {
        let s = f.stats();
        println!(
            "philosophers: fork {i}: {} meals, {} parks, {} starvation entries, {} exits, {} hand-offs",
            *f.lock(),
            s.sleeps,
            s.starvation_entries,
            s.starvation_exits,
            s.handoffs
        );
        total.sleeps += s.sleeps;
        total.starvation_entries += s.starvation_entries;
        total.starvation_exits += s.starvation_exits;
        total.handoffs += s.handoffs;
    }
    let fork_uses: u64 = forks.iter().map(|f| *f.lock()).sum();
    if meals_eaten != n * meals || fork_uses != 2 * meals_eaten {
        return Err(alloc::format!(
            "demo philosophers: {meals_eaten} meals and {fork_uses} fork uses, expected {} and {}",
            n * meals,
            2 * n * meals
        ));
    }
    println!(
        "demo philosophers: {meals_eaten} meals in {took:?}, no deadlock (lock order); forks parked {} times, \
         {} switches to starvation mode, {} direct hand-offs",
        total.sleeps, total.starvation_entries, total.handoffs
    );
    Ok(())
}
