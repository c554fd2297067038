//! A task (seed 004's `Task`): the function, its callback, its priority
//! and deadline.
use alloc::boxed::Box;
use alloc::string::String;

use super::Error;
use crate::time::Instant;

/// What a task runs (seed: `Fn func() error`): `Err(msg)` counts it failed.
pub type TaskFn = Box<dyn FnOnce() -> Result<(), String> + Send>;
/// Told how the task ended (seed: `Callback func(error)`), in the worker
/// right after it: `Ok(())`, the task's own error (`Failed`), or why it did
/// not run (`DeadlineExceeded`, `Context`, `ShuttingDown`).
pub type Callback = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// Seed 004's `Task`. Build it with [`Task::new`] and the setters, or
/// fill the fields (a `None` function is the seed's nil task: refused).
pub struct Task {
    pub f: Option<TaskFn>,
    pub callback: Option<Callback>,
    /// A smaller number runs first (seed: "数字越小优先级越高"); FIFO within
    /// one priority. Default 0.
    pub priority: i32,
    /// Not run once this has passed; its callback gets `DeadlineExceeded`.
    pub deadline: Option<Instant>,
}

impl Task {
    /// A task running `f`, priority 0, no deadline, no callback.
    pub fn new(f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Task {
        Task {
            f: Some(Box::new(f)),
            callback: None,
            priority: 0,
            deadline: None,
        }
    }

    /// Sets the callback.
    pub fn callback(mut self, cb: impl FnOnce(Result<(), Error>) + Send + 'static) -> Task {
        self.callback = Some(Box::new(cb));
        self
    }

    /// Sets the priority (smaller first).
    pub fn priority(mut self, p: i32) -> Task {
        self.priority = p;
        self
    }

    /// Sets the deadline.
    pub fn deadline(mut self, d: Instant) -> Task {
        self.deadline = Some(d);
        self
    }
}
