//! The pool itself: intake, workers, shutdown (seed 004's `NewPool`,
//! `SubmitWithContext`, `dispatcher` and workers), on channels, `sync` and
//! `context`.
//!
//! # Design (and where it leaves the seed)
//!
//! - **The queue** is a [`PrioQueue`] behind a `Mutex`, bounded by
//!   `slots`, a channel pre-filled with `queue_size` tokens: a submission
//!   takes a token (waiting in a `select!` that also watches its context's
//!   `done()` and the pool's `quit`), pushes its task, and sends one token
//!   on `work`. A worker receives a `work` token, pops the *best* task
//!   (smallest priority number, FIFO within one) and returns a `slots`
//!   token. Each `work` token stands for a task pushed before it was sent,
//!   so the pop never finds the heap empty. The seed's dispatcher goroutine
//!   and per-worker channels are not needed: the heap, not the channel,
//!   decides the order.
//! - **Workers**: `min_workers` start with the pool and never retire. A
//!   submission that leaves more tasks waiting than workers idle starts one
//!   more, up to `max_workers`. Each worker waits in `select!` on `work`, `quit` and its
//!   own keep-alive [`Timer`] (reset before every wait, so one timer per
//!   worker however many tasks pass); when the timer fires and more than
//!   `min_workers` are alive (a CAS on the count), the worker exits.
//! - **A task** past its deadline, or whose submission context is done by
//!   the time a worker takes it, is not run: its callback gets
//!   `DeadlineExceeded` or the context's error. Otherwise its function
//!   runs; `Err` counts it failed. Counters are updated before the callback
//!   runs (a test that waits for callbacks sees final figures).
//! - **Shutdown** (once, [`Once`]; every caller returns when it is over):
//!   `closed` is set under the queue lock (so no submission can push after
//!   the final drain), `quit` is closed (waking idle workers and blocked
//!   submitters: `ShuttingDown`), the workers finish the task they run and
//!   exit, and then the tasks still queued are not run: their callbacks
//!   get `ShuttingDown`. So after `shutdown`, `submitted == completed +
//!   failed`.
//!
//! Differences from the seed: priorities and FIFO within them (the seed's
//! channel ignored `Priority`); callbacks run in the worker, not in a new
//! goroutine; `shutdown` fails queued tasks instead of leaving them; a
//! submission refused (closed, nil, context) is not counted as submitted.
//! Calling `shutdown` from inside a task would wait for itself: don't.
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use super::queue::{PrioQueue, expired};
use super::stats::{Counters, Stats};
use super::{Config, Error, Task};
use crate::context::Context;
use crate::sync::chan::{Chan, chan};
use crate::sync::{Mutex, Once, WaitGroup};
use crate::time::{Instant, Timer};

/// A queued task and the context it was submitted with.
struct Queued {
    task: Task,
    ctx: Option<Context>,
}

struct Shared {
    cfg: Config,
    queue: Mutex<PrioQueue<Queued>>,
    /// One token per queued task.
    work: Chan<()>,
    /// One token per free queue place.
    slots: Chan<()>,
    /// Closed by `shutdown`.
    quit: Chan<()>,
    /// Set under `queue`'s lock by `shutdown`.
    closed: AtomicBool,
    once: Once,
    /// Live workers.
    workers: WaitGroup,
    n: Counters,
}

/// Seed 004's `Pool`. A cloneable handle: share it between submitters.
/// Call [`shutdown`](Pool::shutdown) when done (a dropped pool keeps its
/// idle workers, as in Go).
#[derive(Clone)]
pub struct Pool(Arc<Shared>);

impl Pool {
    /// Seed 004's `NewPool`: validates `cfg` (an [`Error::InvalidConfig`]
    /// naming the rule) and starts `min_workers` workers.
    pub fn new(cfg: Config) -> Result<Pool, Error> {
        cfg.validate()?;
        let sh = Arc::new(Shared {
            cfg,
            queue: Mutex::new(PrioQueue::new()),
            work: chan(cfg.queue_size),
            slots: chan(cfg.queue_size),
            quit: chan(0),
            closed: AtomicBool::new(false),
            once: Once::new(),
            workers: WaitGroup::new(),
            n: Counters::new(),
        });
        for _ in 0..cfg.queue_size {
            sh.slots
                .try_send(())
                .expect("pool: the slot channel holds queue_size tokens");
        }
        for _ in 0..cfg.min_workers {
            sh.n.current.fetch_add(1, Ordering::AcqRel);
            start_worker(&sh);
        }
        Ok(Pool(sh))
    }

    /// Seed 004's `Submit`: `submit_with_context(&Context::background(), task)`.
    pub fn submit(&self, task: Task) -> Result<(), Error> {
        self.submit_inner(None, task)
    }

    /// Seed 004's `SubmitWithContext`: queues `task`, waiting while the
    /// queue is full. Errors: `Closed` (shutdown began), `NilTask`,
    /// `Context(e)` (the context was done before the task got a place),
    /// `ShuttingDown` (shutdown began while waiting). A task whose context
    /// is done by the time a worker takes it is not run (its callback gets
    /// `Context(e)`).
    pub fn submit_with_context(&self, ctx: &Context, task: Task) -> Result<(), Error> {
        self.submit_inner(Some(ctx), task)
    }

    /// Seed 004's `SubmitFunc`: a task of just `f`.
    pub fn submit_func(
        &self,
        f: impl FnOnce() -> Result<(), alloc::string::String> + Send + 'static,
    ) -> Result<(), Error> {
        self.submit(Task::new(f))
    }

    fn submit_inner(&self, ctx: Option<&Context>, task: Task) -> Result<(), Error> {
        let sh = &self.0;
        if sh.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if task.f.is_none() {
            return Err(Error::NilTask);
        }
        if let Some(e) = ctx.and_then(Context::err) {
            return Err(Error::Context(e));
        }
        // A queue place (seed: `case p.taskQueue <- task`).
        let done = ctx.and_then(Context::done);
        let got = crate::select! {
            recv(&sh.slots) => Ok(()),
            recv(done) => Err(Error::Context(
                ctx.and_then(Context::err).unwrap_or(crate::context::ContextError::Canceled),
            )),
            recv(&sh.quit) => Err(Error::ShuttingDown),
        };
        got?;
        {
            let mut q = sh.queue.lock();
            if sh.closed.load(Ordering::Acquire) {
                drop(q);
                let _ = sh.slots.try_send(());
                return Err(Error::ShuttingDown);
            }
            q.push(
                task.priority,
                Queued {
                    task,
                    ctx: ctx.cloned(),
                },
            );
            sh.n.submitted.fetch_add(1, Ordering::AcqRel);
        }
        sh.work
            .try_send(())
            .expect("pool: more work tokens than queue places");
        maybe_grow(sh);
        Ok(())
    }

    /// Stops intake, waits for the running tasks and the workers to end,
    /// and fails the tasks still queued (`ShuttingDown` to their
    /// callbacks). Idempotent: later (and concurrent) calls wait for the
    /// first to finish and return. Not from inside a task.
    ///
    /// Differences from Go pools that drain: queued tasks are not run.
    pub fn shutdown(&self) {
        let sh = &self.0;
        sh.once.call_once(|| {
            {
                let _q = sh.queue.lock();
                sh.closed.store(true, Ordering::Release);
            }
            sh.quit.close();
            sh.workers.wait();
            let rest: Vec<Queued> = {
                let mut q = sh.queue.lock();
                core::iter::from_fn(|| q.pop()).collect()
            };
            for q in rest {
                finish(sh, q.task.callback, Err(Error::ShuttingDown));
            }
        });
    }

    /// The counters now (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        let queued = self.0.queue.lock().len();
        self.0.n.snapshot(queued)
    }

    /// The configuration the pool runs with.
    pub fn config(&self) -> Config {
        self.0.cfg
    }
}

/// One more worker if more tasks wait for a worker (work tokens nobody has
/// received) than workers are idle, and the maximum allows (a CAS on the
/// count, so concurrent submitters never overshoot `max_workers`).
/// Comparing with the tokens, not "is any worker idle", matters when two
/// submissions land while one worker is about to wake: the second task
/// would otherwise wait for a busy worker.
fn maybe_grow(sh: &Arc<Shared>) {
    if sh.work.len() <= sh.n.idle.load(Ordering::Acquire) {
        return;
    }
    let mut cur = sh.n.current.load(Ordering::Acquire);
    while cur < sh.cfg.max_workers {
        match sh
            .n
            .current
            .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                start_worker(sh);
                return;
            }
            Err(c) => cur = c,
        }
    }
}

/// A worker above the minimum may leave (a CAS: two idle workers retiring
/// together cannot take the count below `min_workers`).
fn try_retire(sh: &Shared) -> bool {
    let mut cur = sh.n.current.load(Ordering::Acquire);
    while cur > sh.cfg.min_workers {
        match sh
            .n
            .current
            .compare_exchange(cur, cur - 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(c) => cur = c,
        }
    }
    false
}

/// Starts a worker already counted in `current`.
fn start_worker(sh: &Arc<Shared>) {
    sh.workers.add(1);
    let sh = sh.clone();
    crate::sched::go(move || worker(&sh));
}

/// Why a worker woke.
enum Wake {
    Work,
    KeepAliveExpired,
    Quit,
}

fn worker(sh: &Shared) {
    // Reset before each wait: one runtime timer per worker, not one per
    // task (an `after` per wait would leave a pending timer behind each).
    let keep = Timer::new(Duration::MAX);
    loop {
        if sh.closed.load(Ordering::Acquire) {
            sh.n.current.fetch_sub(1, Ordering::AcqRel);
            break;
        }
        sh.n.idle.fetch_add(1, Ordering::AcqRel);
        keep.reset(sh.cfg.keep_alive);
        let why = crate::select! {
            recv(&sh.work) => Wake::Work,
            recv(keep.c()) => Wake::KeepAliveExpired,
            recv(&sh.quit) => Wake::Quit,
        };
        sh.n.idle.fetch_sub(1, Ordering::AcqRel);
        match why {
            Wake::Quit => {
                sh.n.current.fetch_sub(1, Ordering::AcqRel);
                break;
            }
            Wake::KeepAliveExpired => {
                if try_retire(sh) {
                    break;
                }
                continue;
            }
            Wake::Work => {}
        }
        keep.stop();
        let q = sh
            .queue
            .lock()
            .pop()
            .expect("pool: a work token without a queued task");
        let _ = sh.slots.try_send(());
        run(sh, q);
    }
    drop(keep);
    sh.workers.done();
}

/// Runs one task, or tells its callback why not.
fn run(sh: &Shared, q: Queued) {
    let Queued { task, ctx } = q;
    let Task {
        f,
        callback,
        deadline,
        ..
    } = task;
    let res = if expired(deadline.map(|d| d.as_nanos()), Instant::now().as_nanos()) {
        Err(Error::DeadlineExceeded)
    } else if let Some(e) = ctx.as_ref().and_then(Context::err) {
        Err(Error::Context(e))
    } else {
        let f = f.expect("pool: a nil task was queued");
        sh.n.running.fetch_add(1, Ordering::AcqRel);
        let r = f();
        sh.n.running.fetch_sub(1, Ordering::AcqRel);
        r.map_err(Error::Failed)
    };
    finish(sh, callback, res);
}

/// Counts the outcome, then tells the callback.
fn finish(sh: &Shared, callback: Option<super::task::Callback>, res: Result<(), Error>) {
    if res.is_ok() {
        sh.n.completed.fetch_add(1, Ordering::AcqRel);
    } else {
        sh.n.failed.fetch_add(1, Ordering::AcqRel);
    }
    if let Some(cb) = callback {
        cb(res);
    }
}
