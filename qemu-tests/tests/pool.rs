//! Seed 004's goroutine pool (issue 14) at -smp 4: 10,000 tasks on 4..16
//! workers, priority order and FIFO within a priority with the queue backed
//! up, expired tasks' callbacks, keep-alive retiring extra workers,
//! shutdown waiting for running tasks (idempotent), statistics that add up,
//! errors as values (config, nil task, closed, context).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::{
    Chan, Context, ContextError, Instant, Mutex, Pool, PoolConfig, PoolError, Task, WaitGroup,
    chan, read_mem_stats, sleep,
};

gmpos::qemu_test! {
    config: "
        smp=4
        timeout=240
    ",
}

fn cfg(min: usize, max: usize, keep_ms: u64, queue: usize) -> PoolConfig {
    PoolConfig {
        min_workers: min,
        max_workers: max,
        keep_alive: Duration::from_millis(keep_ms),
        queue_size: queue,
    }
}

/// A task that parks its worker until `gate` is closed.
fn blocker(gate: &Chan<()>) -> Task {
    let g = gate.clone();
    Task::new(move || {
        g.recv();
        Ok(())
    })
}

#[gmpos::test]
fn config_errors_are_values() {
    assert!(matches!(
        Pool::new(cfg(0, 4, 10, 10)),
        Err(PoolError::InvalidConfig(_))
    ));
    assert!(matches!(
        Pool::new(cfg(5, 4, 10, 10)),
        Err(PoolError::InvalidConfig(_))
    ));
    assert!(matches!(
        Pool::new(cfg(1, 4, 10, 0)),
        Err(PoolError::InvalidConfig(_))
    ));
    let d = PoolConfig::default();
    assert_eq!(
        (d.min_workers, d.max_workers, d.keep_alive, d.queue_size),
        (4, 8, Duration::from_secs(60), 1000),
        "the seed's defaults at -smp 4"
    );
    let p = Pool::new(cfg(1, 1, 1000, 4)).unwrap();
    let nil = Task {
        f: None,
        callback: None,
        priority: 0,
        deadline: None,
    };
    assert_eq!(p.submit(nil), Err(PoolError::NilTask));
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    assert_eq!(
        p.submit_with_context(&ctx, Task::new(|| Ok(()))),
        Err(PoolError::Context(ContextError::Canceled))
    );
    // A full queue: the submission waits, and its context's deadline ends
    // the wait with the context's error.
    let gate = chan::<()>(0);
    p.submit(blocker(&gate)).unwrap();
    while p.stats().running_tasks == 0 {
        sleep(Duration::from_millis(1));
    }
    for _ in 0..4 {
        p.submit_func(|| Ok(())).unwrap();
    }
    // t0 first: the deadline is fixed when the context is made, so a vCPU
    // stall between the two lines cannot make the wait look shorter.
    let t0 = Instant::now();
    let (ctx, _c) = Context::background().with_timeout(Duration::from_millis(20));
    assert_eq!(
        p.submit_with_context(&ctx, Task::new(|| Ok(()))),
        Err(PoolError::Context(ContextError::DeadlineExceeded))
    );
    assert!(t0.elapsed() >= Duration::from_millis(20));
    gate.close();
    p.shutdown();
    assert_eq!(p.submit_func(|| Ok(())), Err(PoolError::Closed));
    let s = p.stats();
    assert_eq!(s.submitted, 5);
    assert_eq!(s.submitted, s.completed + s.failed);
}

#[gmpos::test]
fn ten_thousand_tasks_on_4_to_16_workers() {
    let timers0 = read_mem_stats().timers;
    let p = Pool::new(cfg(4, 16, 100, 1000)).unwrap();
    let sum = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let cb_seen = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(10_000);
    for i in 0..10_000u64 {
        let (s, pk, pp) = (sum.clone(), peak.clone(), p.clone());
        let (w, cb) = (wg.clone(), cb_seen.clone());
        let t = Task::new(move || {
            s.fetch_add(i, Ordering::Relaxed);
            pk.fetch_max(pp.stats().current_workers as u64, Ordering::Relaxed);
            // Every 10th task fails: counted, and its callback told.
            if i % 10 == 0 {
                Err("every tenth fails".to_string())
            } else {
                Ok(())
            }
        })
        .callback(move |r| {
            assert_eq!(
                r.is_err(),
                i % 10 == 0,
                "task {i}: wrong result to its callback"
            );
            cb.fetch_add(1, Ordering::Relaxed);
            w.done();
        });
        p.submit(t).unwrap();
    }
    wg.wait();
    let s = p.stats();
    p.shutdown();
    let after = p.stats();
    gmpos::test_note!(
        "10,000 tasks: peak {} workers (4..16), stats before shutdown {:?}",
        peak.load(Ordering::Relaxed),
        s
    );
    assert_eq!(sum.load(Ordering::Relaxed), 10_000 * 9_999 / 2);
    assert_eq!(cb_seen.load(Ordering::Relaxed), 10_000);
    assert_eq!(s.submitted, 10_000);
    assert_eq!((s.completed, s.failed), (9_000, 1_000));
    assert_eq!(
        s.submitted,
        s.completed + s.failed,
        "statistics do not add up"
    );
    let pk = peak.load(Ordering::Relaxed);
    assert!((4..=16).contains(&pk), "peak {pk} workers outside 4..16");
    assert_eq!(
        (
            after.current_workers,
            after.idle_workers,
            after.running_tasks
        ),
        (0, 0, 0)
    );
    assert_eq!(
        read_mem_stats().timers,
        timers0,
        "workers' keep-alive timers left behind"
    );
}

#[gmpos::test]
fn backed_up_queue_serves_priorities_in_order_fifo_within_one() {
    let p = Pool::new(cfg(1, 1, 1000, 200)).unwrap();
    let gate = chan::<()>(0);
    p.submit(blocker(&gate)).unwrap();
    while p.stats().running_tasks == 0 {
        sleep(Duration::from_millis(1));
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut rng = qemu_tests::Rng::new(0x5eed);
    let mut want = Vec::new();
    let wg = Arc::new(WaitGroup::new());
    wg.add(150);
    for i in 0..150u32 {
        let prio = (rng.next() % 5) as i32 - 1; // -1..=3
        want.push((prio, i));
        let (o, w) = (order.clone(), wg.clone());
        p.submit(
            Task::new(move || {
                o.lock().push((prio, i));
                Ok(())
            })
            .priority(prio)
            .callback(move |_| w.done()),
        )
        .unwrap();
    }
    assert_eq!(p.stats().queued, 150);
    gate.close();
    wg.wait();
    p.shutdown();
    want.sort();
    let got = order.lock().clone();
    assert_eq!(got.len(), 150);
    assert_eq!(got, want, "not smallest priority first, FIFO within one");
}

#[gmpos::test]
fn expired_task_is_not_run_and_its_callback_gets_the_error() {
    let p = Pool::new(cfg(1, 1, 1000, 10)).unwrap();
    let gate = chan::<()>(0);
    p.submit(blocker(&gate)).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let got: Arc<Mutex<Option<Result<(), PoolError>>>> = Arc::new(Mutex::new(None));
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    let (r, g, w) = (ran.clone(), got.clone(), wg.clone());
    p.submit(
        Task::new(move || {
            r.store(true, Ordering::SeqCst);
            Ok(())
        })
        .deadline(Instant::now() + Duration::from_millis(2))
        .callback(move |res| {
            *g.lock() = Some(res);
            w.done();
        }),
    )
    .unwrap();
    // And one whose context is canceled while it waits.
    let (ctx, cancel) = Context::background().with_cancel();
    let got2: Arc<Mutex<Option<Result<(), PoolError>>>> = Arc::new(Mutex::new(None));
    let (g2, w2) = (got2.clone(), wg.clone());
    p.submit_with_context(
        &ctx,
        Task::new(|| Ok(())).callback(move |res| {
            *g2.lock() = Some(res);
            w2.done();
        }),
    )
    .unwrap();
    cancel.cancel();
    sleep(Duration::from_millis(5));
    gate.close();
    wg.wait();
    p.shutdown();
    assert!(!ran.load(Ordering::SeqCst), "an expired task ran");
    assert_eq!(*got.lock(), Some(Err(PoolError::DeadlineExceeded)));
    assert_eq!(
        *got2.lock(),
        Some(Err(PoolError::Context(ContextError::Canceled)))
    );
    let s = p.stats();
    assert_eq!((s.submitted, s.completed, s.failed), (3, 1, 2));
}

#[gmpos::test]
fn workers_above_the_minimum_exit_after_keep_alive() {
    let p = Pool::new(cfg(2, 8, 20, 100)).unwrap();
    assert_eq!(p.stats().current_workers, 2);
    let gate = chan::<()>(0);
    for _ in 0..8 {
        p.submit(blocker(&gate)).unwrap();
        sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    while p.stats().running_tasks < 8 {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the pool did not grow to max: {:?}",
            p.stats()
        );
        sleep(Duration::from_millis(1));
    }
    assert_eq!(p.stats().current_workers, 8);
    gate.close();
    let t0 = Instant::now();
    while p.stats().current_workers > 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "extra workers never retired: {:?}",
            p.stats()
        );
        sleep(Duration::from_millis(5));
    }
    let dt = t0.elapsed();
    gmpos::test_note!(
        "6 extra workers retired {} ms after going idle (keep-alive 20 ms)",
        dt.as_millis()
    );
    assert!(dt >= Duration::from_millis(20), "retired before keep-alive");
    sleep(Duration::from_millis(60));
    assert_eq!(p.stats().current_workers, 2, "the minimum retired too");
    p.shutdown();
}

#[gmpos::test]
fn shutdown_waits_for_running_tasks_and_is_idempotent() {
    let p = Pool::new(cfg(2, 2, 1000, 10)).unwrap();
    let finished = Arc::new(AtomicU64::new(0));
    for _ in 0..2 {
        let f = finished.clone();
        p.submit_func(move || {
            sleep(Duration::from_millis(20));
            f.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    }
    // Queued behind them: never started, told ShuttingDown.
    let told = Arc::new(AtomicU64::new(0));
    for _ in 0..3 {
        let t = told.clone();
        p.submit(Task::new(|| Ok(())).callback(move |r| {
            assert_eq!(r, Err(PoolError::ShuttingDown));
            t.fetch_add(1, Ordering::SeqCst);
        }))
        .unwrap();
    }
    while p.stats().running_tasks < 2 {
        sleep(Duration::from_millis(1));
    }
    // A second shutdown from another goroutine waits for the first.
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let (p2, w, f2) = (p.clone(), wg.clone(), finished.clone());
    gmpos::go(move || {
        sleep(Duration::from_millis(2));
        p2.shutdown();
        assert_eq!(
            f2.load(Ordering::SeqCst),
            2,
            "second shutdown returned early"
        );
        w.done();
    });
    p.shutdown();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "shutdown returned before running tasks ended"
    );
    wg.wait();
    p.shutdown();
    let s = p.stats();
    assert_eq!(told.load(Ordering::SeqCst) + s.completed, 5);
    assert_eq!(s.submitted, s.completed + s.failed);
    assert_eq!(p.submit_func(|| Ok(())), Err(PoolError::Closed));
}
