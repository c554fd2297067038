//! The [`Context`] handle and the tree's nodes (Go: the `Context`
//! interface and its `emptyCtx`, `cancelCtx`, `valueCtx` types as one
//! enum), with the accessors that walk up the tree.
use alloc::sync::Arc;
use core::any::Any;

use crate::sync::chan::Chan;
use crate::time::Instant;

use super::cancel;
use super::rules::ContextError;

/// Go: `context.Context`. Clone it freely (an `Arc`); pass it down.
#[derive(Clone)]
pub struct Context(pub(super) Arc<Node>);

/// One node of the tree.
pub(super) struct Node {
    /// Kept alive by its children (their handles walk up through it).
    pub(super) parent: Option<Context>,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    /// Go: `context.Background()`: never done, no deadline, no values.
    Background,
    /// Go: `cancelCtx` (and `timerCtx`, with a deadline).
    Cancel(cancel::CancelState),
    /// Go: `valueCtx`.
    Value {
        key: &'static str,
        val: Arc<dyn Any + Send + Sync>,
    },
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Kind::Cancel(_) = self.kind {
            cancel::on_drop(self);
        }
    }
}

impl Context {
    /// Go: `context.Background()`: the root: never canceled, no deadline,
    /// no values.
    pub fn background() -> Context {
        Context(Arc::new(Node {
            parent: None,
            kind: Kind::Background,
        }))
    }

    /// Go: `context.WithCancel(ctx)` (see [`with_cancel`](super::with_cancel)).
    pub fn with_cancel(&self) -> (Context, super::CancelFunc) {
        super::with_cancel(self)
    }

    /// Go: `context.WithTimeout(ctx, d)` (see [`with_timeout`](super::with_timeout)).
    pub fn with_timeout(&self, d: core::time::Duration) -> (Context, super::CancelFunc) {
        super::with_timeout(self, d)
    }

    /// Go: `context.WithDeadline(ctx, d)` (see [`with_deadline`](super::with_deadline)).
    pub fn with_deadline(&self, d: Instant) -> (Context, super::CancelFunc) {
        super::with_deadline(self, d)
    }

    /// Go: `context.WithValue(ctx, key, val)` (see [`with_value`](super::with_value)).
    pub fn with_value<T: Any + Send + Sync>(&self, key: &'static str, val: T) -> Context {
        super::with_value(self, key, val)
    }

    /// Go: `context.TODO()`: the same as `background`, marking code that has
    /// not decided which context to take yet.
    pub fn todo() -> Context {
        Self::background()
    }

    /// The nearest cancelable node at or above this one (Go:
    /// `parentCancelCtx`), skipping value nodes.
    pub(super) fn cancel_node(&self) -> Option<&cancel::CancelState> {
        let mut n: &Node = &self.0;
        loop {
            match &n.kind {
                Kind::Cancel(c) => return Some(c),
                Kind::Background => return None,
                Kind::Value { .. } => n = &n.parent.as_ref()?.0,
            }
        }
    }

    /// Go: `ctx.Done()`: a channel closed when the context is done; `None`
    /// for a context that can never be (Go's nil channel). Use it in
    /// `select!` (`recv(ctx.done())`) or `recv()` on it.
    pub fn done(&self) -> Option<&Chan<()>> {
        self.cancel_node().map(|c| &c.done)
    }

    /// Go: `ctx.Err()`: `None` while not done; then `Canceled` or
    /// `DeadlineExceeded` (never changes afterwards).
    pub fn err(&self) -> Option<ContextError> {
        self.cancel_node().and_then(cancel::CancelState::err)
    }

    /// Go: `ctx.Deadline()`: when the context will be canceled by a
    /// deadline (its own or an ancestor's), if ever.
    pub fn deadline(&self) -> Option<Instant> {
        let mut n: &Node = &self.0;
        loop {
            if let Kind::Cancel(c) = &n.kind
                && let Some(d) = c.deadline
            {
                return Some(d);
            }
            n = &n.parent.as_ref()?.0;
        }
    }

    /// Go: `ctx.Value(key)`: the value the nearest `with_value` with this
    /// key attached, if it is a `T`.
    pub fn value<T: Any>(&self, key: &str) -> Option<&T> {
        let mut n: &Node = &self.0;
        loop {
            if let Kind::Value { key: k, val } = &n.kind
                && *k == key
            {
                return val.downcast_ref::<T>();
            }
            n = &n.parent.as_ref()?.0;
        }
    }

    /// Children registered with this context's cancelable node now (not in
    /// Go: tests and dumps check that finished children were detached).
    pub fn children(&self) -> usize {
        self.cancel_node().map_or(0, cancel::CancelState::nchildren)
    }
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match &self.0.kind {
            Kind::Background => "Background",
            Kind::Cancel(c) if c.deadline.is_some() => "WithDeadline",
            Kind::Cancel(_) => "WithCancel",
            Kind::Value { .. } => "WithValue",
        };
        write!(f, "context.{kind}(err={:?})", self.err())
    }
}
