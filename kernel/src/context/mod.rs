//! Go's `context` package: cancellation, deadlines and request-scoped
//! values that flow down a tree of contexts.
//!
//! A [`Context`] is a cheap cloneable handle on a node of the tree:
//! [`Context::background`] is the root (never done); [`with_cancel`],
//! [`with_deadline`], [`with_timeout`] and [`with_value`] derive children.
//! A context is done when it is canceled, its deadline passes, or an
//! ancestor is done: then [`done`](Context::done) (a channel, closed) fires
//! in `select!` and [`err`](Context::err) says why.
//!
//! # The tree (Go: `cancelCtx`, `propagateCancel`, `removeChild`)
//!
//! - A cancelable node registers, weakly, with its nearest cancelable
//!   ancestor (value nodes are skipped, as Go's `parentCancelCtx` does).
//!   An ancestor that is already done cancels the new child at once.
//! - Canceling a node sets its error, closes its `done` channel, takes its
//!   children out of its map and cancels them the same way: iteratively (a
//!   work list, not recursion: a chain of 1,000 contexts must not need
//!   1,000 stack frames), each with the same error. A node canceled by its
//!   own cancel function or deadline then removes itself from its parent
//!   (Go's `removeFromParent`); a node dropped without being canceled
//!   removes itself too ("children detached when they finish"), so a
//!   long-lived parent never accumulates dead children.
//! - Deadlines: a child's deadline is the earlier of its own and its
//!   parent's (`rules::plan_deadline`); its timer is an `after_func` whose
//!   closure holds the node weakly (no cycle node -> timer -> node), stopped
//!   when the node is canceled or dropped.
//!
//! Each node's state sits behind a runtime [`SpinLock`](crate::lock::SpinLock),
//! not a sleeping `Mutex`: the critical sections only move a map or set a
//! byte, and a `Context` may be dropped anywhere a value is dropped,
//! including by the scheduler when an `after_func`'s captures go (parking
//! is not allowed there). Channel closes and cancellations of children
//! happen after the lock is released; locks are never nested (a parent's
//! and a child's are taken one after the other).
//!
//! Differences from Go: value keys are `&'static str` and values are typed
//! (`value::<T>(key)` downcasts); `done()` of a context that can never be
//! canceled is `None` (Go's nil channel, which `select!` accepts as a case
//! that never fires); no `Cause`/`AfterFunc`/`WithoutCancel` (Go 1.21).
//! Dropping a [`CancelFunc`] does not cancel (as in Go, call it).
//!
//! One idea per file: `node.rs` (the handle, the tree's nodes, the
//! accessors), `cancel.rs` (`with_cancel`, propagation, cancel, detach),
//! `deadline.rs` (`with_deadline`, `with_timeout`), `value.rs`
//! (`with_value`), `rules.rs` (pure, host-tested: deadline planning, the
//! errors).
#[cfg(target_os = "none")]
mod cancel;
#[cfg(target_os = "none")]
mod deadline;
#[cfg(target_os = "none")]
mod node;
pub mod rules;
#[cfg(target_os = "none")]
mod value;

#[cfg(target_os = "none")]
pub use cancel::{CancelFunc, with_cancel};
#[cfg(target_os = "none")]
pub use deadline::{with_deadline, with_timeout};
#[cfg(target_os = "none")]
pub use node::Context;
pub use rules::ContextError;
#[cfg(target_os = "none")]
pub use value::with_value;
