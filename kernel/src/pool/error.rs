//! The pool's errors (values, never panics: seed 004's `errors.New`
//! strings, as `Display`).
use alloc::string::String;

use crate::context::ContextError;

/// Why the pool refused a task, or why a task did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `Pool::new` with a bad [`Config`](super::Config): which rule.
    InvalidConfig(&'static str),
    /// Submitted after `shutdown` began (seed: "pool is closed").
    Closed,
    /// A submission waiting for room when `shutdown` began, or a queued
    /// task that never started because of it (seed: "pool is shutting
    /// down").
    ShuttingDown,
    /// A task without a function (seed: "task or task function cannot be
    /// nil").
    NilTask,
    /// The task's deadline passed before a worker got to it: not run (seed:
    /// "task deadline exceeded").
    DeadlineExceeded,
    /// The submission's context was done (while waiting for room, or
    /// before the task started): its `err()`.
    Context(ContextError),
    /// The task ran and returned this error.
    Failed(String),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::InvalidConfig(why) => write!(f, "invalid pool config: {why}"),
            Error::Closed => f.write_str("pool is closed"),
            Error::ShuttingDown => f.write_str("pool is shutting down"),
            Error::NilTask => f.write_str("task or task function cannot be nil"),
            Error::DeadlineExceeded => f.write_str("task deadline exceeded"),
            Error::Context(e) => write!(f, "{e}"),
            Error::Failed(msg) => write!(f, "task failed: {msg}"),
        }
    }
}
