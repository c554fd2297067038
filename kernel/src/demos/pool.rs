//! `pool`: seed 004's goroutine pool (`kernel/src/pool/`). One worker
//! stays (`min_workers=1`); a burst of tasks makes the pool start more, up
//! to `workers`, and they retire after `keep_alive` idle. The queue holds
//! only `queue` tasks: a full queue makes `submit` wait (back-pressure,
//! in a `select!` with the context's `done()`). Tasks have priorities
//! 0..=2 (smaller first): the run order shows the heap at work once the
//! queue has filled. Every `fail_every`th task returns an error.
//!
//! Cancellation: `submit_with_context` refuses with the context's error
//! once it is done, and `shutdown` waits for the running tasks and the
//! workers, and fails what is still queued: afterwards `submitted ==
//! completed + failed`.
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use super::args::{Param, parse};
use super::stopped;
use crate::context::Context;
use crate::pool::{Config, Pool, Task};
use crate::println;
use crate::sync::Mutex;
use crate::time::{Instant, sleep};

const PARAMS: &[Param] = &[
    Param::count("n", 60, 1, 1_000_000),
    Param::count("workers", 4, 1, 256),
    Param::count("queue", 8, 1, 100_000),
    Param::millis("task", 2, 0, 1_000),
    Param::millis("keep_alive", 20, 1, 10_000),
    Param::count("fail_every", 10, 1, 1_000_000),
];

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n, workers, queue, task, keep_alive, fail_every] = parse("pool", PARAMS, args)?[..] else {
        unreachable!()
    };
    let task = Duration::from_nanos(task);
    let keep_alive = Duration::from_nanos(keep_alive);
    let pool = Pool::new(Config {
        min_workers: 1,
        max_workers: workers as usize,
        keep_alive,
        queue_size: queue as usize,
    })
    .map_err(|e| alloc::format!("demo pool: {e}"))?;
    println!(
        "pool: {n} tasks of {task:?} (priorities 0..=2), 1..={workers} workers, a queue of {queue}, keep-alive {keep_alive:?}"
    );
    let order = Arc::new(Mutex::new(Vec::<i32>::new()));
    let callbacks = Arc::new(AtomicU64::new(0));
    let (t0, mut peak, mut submitted) = (Instant::now(), 0usize, 0u64);
    for i in 0..n {
        let prio = (i % 3) as i32;
        let (order, cbs) = (order.clone(), callbacks.clone());
        let t = Task::new(move || {
            order.lock().push(prio);
            sleep(task);
            if (i + 1) % fail_every == 0 {
                Err(alloc::format!("task {i} fails on purpose"))
            } else {
                Ok(())
            }
        })
        .priority(prio)
        .callback(move |_| {
            cbs.fetch_add(1, Ordering::Relaxed);
        });
        match pool.submit_with_context(ctx, t) {
            Ok(()) => submitted += 1,
            Err(_) => break, // ctx done: the pool refused with its error
        }
        peak = peak.max(pool.stats().current_workers);
    }
    // Wait for the queue to drain (or the caller to give up), then for the
    // extra workers to retire.
    while ctx.err().is_none() && callbacks.load(Ordering::Relaxed) < submitted {
        sleep(Duration::from_millis(1));
    }
    let took = t0.elapsed();
    let busy = pool.stats();
    let retire_by = Instant::now();
    while ctx.err().is_none()
        && pool.stats().current_workers > 1
        && retire_by.elapsed() < keep_alive * 10
    {
        sleep(keep_alive / 4);
    }
    let after_idle = pool.stats().current_workers;
    pool.shutdown();
    let s = pool.stats();
    if ctx.err().is_some() {
        return Err(stopped(
            "pool",
            ctx,
            format_args!(
                "{submitted} of {n} tasks submitted, {} completed",
                s.completed
            ),
        ));
    }
    {
        let order = order.lock();
        let first: Vec<i32> = order.iter().copied().take(24).collect();
        println!("pool: run order of the first priorities: {first:?}");
    }
    println!(
        "pool: peak {peak} workers; {} alive when the work was done, {after_idle} after {keep_alive:?} idle",
        busy.current_workers
    );
    if s.submitted != s.completed + s.failed {
        return Err(alloc::format!(
            "demo pool: submitted {} != completed {} + failed {}",
            s.submitted,
            s.completed,
            s.failed
        ));
    }
    println!(
        "demo pool: {} tasks in {took:?}: {} completed, {} failed on purpose; workers 1 -> {peak} -> {after_idle}, {} after shutdown",
        s.submitted, s.completed, s.failed, s.current_workers
    );
    Ok(())
}
