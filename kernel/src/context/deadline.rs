//! `with_deadline` and `with_timeout` (Go: `context.WithDeadline`,
//! `WithTimeout`, `timerCtx`): a cancel context plus an `after_func` that
//! cancels it with `DeadlineExceeded`.
use alloc::sync::Arc;
use core::time::Duration;

use super::cancel::{self, CancelFunc};
use super::node::Context;
use super::rules::{ContextError, DeadlinePlan, plan_deadline};
use super::with_cancel;
use crate::time::{Instant, after_func};

/// Go: `context.WithDeadline(parent, d)`: a child canceled at `d` (or when
/// `parent` is done, or its cancel function is called, whichever is
/// first). With the parent's deadline no later, it is a plain
/// `with_cancel` child; with `d` already past, it is born done with
/// `DeadlineExceeded`.
pub fn with_deadline(parent: &Context, d: Instant) -> (Context, CancelFunc) {
    let now = Instant::now();
    let plan = plan_deadline(
        parent.deadline().map(|p| p.as_nanos()),
        d.as_nanos(),
        now.as_nanos(),
    );
    if plan == DeadlinePlan::FollowParent {
        return with_cancel(parent);
    }
    let (ctx, cancel) = cancel::new_child(parent, Some(d));
    match plan {
        DeadlinePlan::Expired => cancel::cancel(&ctx.0, ContextError::DeadlineExceeded, true),
        DeadlinePlan::Timer(ns) => {
            let weak = Arc::downgrade(&ctx.0);
            let t = after_func(Duration::from_nanos(ns), move || {
                if let Some(node) = weak.upgrade() {
                    cancel::cancel(&node, ContextError::DeadlineExceeded, true);
                }
            });
            cancel::set_timer(&ctx.0, t);
        }
        DeadlinePlan::FollowParent => unreachable!(),
    }
    (ctx, cancel)
}

/// Go: `context.WithTimeout(parent, d)`: `with_deadline(parent, now + d)`.
pub fn with_timeout(parent: &Context, d: Duration) -> (Context, CancelFunc) {
    with_deadline(parent, Instant::now() + d)
}
