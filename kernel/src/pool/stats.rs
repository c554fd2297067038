//! The pool's statistics (seed 004's counters): a snapshot type and the
//! counters behind it.
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of the pool's counters (each exact; read one after another).
/// Once the pool is shut down, `submitted == completed + failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Tasks accepted into the queue (seed: `totalTasks`; refused
    /// submissions are errors returned to the caller, not counted).
    pub submitted: u64,
    /// Tasks whose function returned `Ok`.
    pub completed: u64,
    /// Tasks whose function returned `Err`, or that did not run (deadline,
    /// context, shutdown).
    pub failed: u64,
    /// Workers alive.
    pub current_workers: usize,
    /// Workers waiting for a task.
    pub idle_workers: usize,
    /// Task functions running now.
    pub running_tasks: usize,
    /// Tasks waiting in the queue.
    pub queued: usize,
}

/// The live counters.
pub(super) struct Counters {
    pub submitted: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub current: AtomicUsize,
    pub idle: AtomicUsize,
    pub running: AtomicUsize,
}

impl Counters {
    pub const fn new() -> Counters {
        Counters {
            submitted: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            current: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }

    pub fn snapshot(&self, queued: usize) -> Stats {
        Stats {
            submitted: self.submitted.load(Ordering::Acquire),
            completed: self.completed.load(Ordering::Acquire),
            failed: self.failed.load(Ordering::Acquire),
            current_workers: self.current.load(Ordering::Acquire),
            idle_workers: self.idle.load(Ordering::Acquire),
            running_tasks: self.running.load(Ordering::Acquire),
            queued,
        }
    }
}
