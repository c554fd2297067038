//! `with_cancel` and the cancellation tree (Go: `cancelCtx`,
//! `propagateCancel`, `cancel`, `removeChild`); the design is in the
//! module doc (`context/mod.rs`).
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::node::{Context, Kind, Node};
use super::rules::ContextError;
use crate::lock::SpinLock;
use crate::sync::chan::{Chan, chan};
use crate::time::{AfterFunc, Instant};

/// Node ids: the keys of a parent's map of children.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A cancelable node's state (Go: `cancelCtx`, `timerCtx`).
pub(super) struct CancelState {
    id: u64,
    /// Go: `c.done`: closed once, by whoever sets `err`.
    pub(super) done: Chan<()>,
    /// Go: `timerCtx.deadline` (None: a plain cancel context).
    pub(super) deadline: Option<Instant>,
    /// Go: `c.err`, readable without the lock; written under it, once.
    err: AtomicU8,
    locked: SpinLock<Locked>,
}

struct Locked {
    /// Go: `c.children`, held weakly: a dropped child is not kept alive
    /// (and removes itself on drop).
    children: BTreeMap<u64, Weak<Node>>,
    /// Go: `timerCtx.timer`.
    timer: Option<AfterFunc>,
}

impl CancelState {
    pub(super) fn err(&self) -> Option<ContextError> {
        ContextError::from_u8(self.err.load(Ordering::Acquire))
    }

    pub(super) fn nchildren(&self) -> usize {
        self.locked.lock().children.len()
    }
}

fn state(node: &Node) -> &CancelState {
    match &node.kind {
        Kind::Cancel(c) => c,
        _ => unreachable!("context: not a cancel node"),
    }
}

/// Go: `context.CancelFunc`: `cancel()` cancels its context and every
/// descendant with `Canceled` (a no-op once done). Cloneable; dropping it
/// does not cancel.
#[derive(Clone)]
pub struct CancelFunc(Context);

impl CancelFunc {
    /// Cancels the context (Go: calling the `CancelFunc`). Idempotent.
    pub fn cancel(&self) {
        cancel(&(self.0).0, ContextError::Canceled, true);
    }
}

/// Go: `context.WithCancel(parent)`: a child done when `cancel()` is called
/// or `parent` is done, whichever is first.
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    new_child(parent, None)
}

/// A new cancel node under `parent`, registered with its nearest
/// cancelable ancestor.
pub(super) fn new_child(parent: &Context, deadline: Option<Instant>) -> (Context, CancelFunc) {
    let node = Arc::new(Node {
        parent: Some(parent.clone()),
        kind: Kind::Cancel(CancelState {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            done: chan(0),
            deadline,
            err: AtomicU8::new(0),
            locked: SpinLock::new(Locked {
                children: BTreeMap::new(),
                timer: None,
            }),
        }),
    });
    propagate(parent, &node);
    let ctx = Context(node);
    (ctx.clone(), CancelFunc(ctx))
}

/// Go: `propagateCancel`: register `child` with the nearest cancelable
/// ancestor, or cancel it now if that one is already done. `err` is read
/// under the ancestor's lock, where it is written: either we see it, or the
/// canceler finds our entry.
fn propagate(parent: &Context, child: &Arc<Node>) {
    let Some(p) = parent.cancel_node() else {
        return; // background: never done
    };
    let done_already = {
        let mut l = p.locked.lock();
        let e = p.err();
        if e.is_none() {
            l.children.insert(state(child).id, Arc::downgrade(child));
        }
        e
    };
    if let Some(e) = done_already {
        cancel(child, e, false);
    }
}

/// Go: `c.cancel(removeFromParent, err)`: cancels `node` and its
/// descendants (a work list: no recursion), then, for a node canceled on
/// its own account, detaches it from its parent.
pub(super) fn cancel(node: &Arc<Node>, err: ContextError, remove_from_parent: bool) {
    let mut work: Vec<Arc<Node>> = Vec::new();
    if !cancel_one(node, err, &mut work) {
        return; // already done
    }
    while let Some(n) = work.pop() {
        cancel_one(&n, err, &mut work);
    }
    if remove_from_parent {
        detach(node);
    }
}

/// Sets `err`, takes the children and the timer out under the lock; then,
/// unlocked, closes `done`, stops the timer and queues the live children.
fn cancel_one(node: &Node, err: ContextError, work: &mut Vec<Arc<Node>>) -> bool {
    let c = state(node);
    let (children, timer) = {
        let mut l = c.locked.lock();
        if c.err().is_some() {
            return false;
        }
        c.err
            .store(ContextError::to_u8(Some(err)), Ordering::Release);
        (core::mem::take(&mut l.children), l.timer.take())
    };
    c.done.close();
    if let Some(t) = timer {
        t.stop();
    }
    work.extend(children.into_values().filter_map(|w| w.upgrade()));
    true
}

/// Go: `removeChild`: `node` leaves its nearest cancelable ancestor's map.
fn detach(node: &Node) {
    if let Some(parent) = &node.parent
        && let Some(p) = parent.cancel_node()
    {
        let id = state(node).id;
        let w = p.locked.lock().children.remove(&id);
        drop(w);
    }
}

/// Stores a deadline node's timer; canceled meanwhile (its parent was
/// done), the timer is stopped instead.
pub(super) fn set_timer(node: &Node, t: AfterFunc) {
    let c = state(node);
    let late = {
        let mut l = c.locked.lock();
        if c.err().is_some() {
            Some(t)
        } else {
            l.timer = Some(t);
            None
        }
    };
    if let Some(t) = late {
        t.stop();
    }
}

/// A cancel node is going away (its last handle dropped): it leaves its
/// parent's map (a finished child is detached even if never canceled) and
/// its timer is stopped (the timer only held it weakly).
pub(super) fn on_drop(node: &Node) {
    detach(node);
    let t = state(node).locked.lock().timer.take();
    if let Some(t) = t {
        t.stop();
    }
}
