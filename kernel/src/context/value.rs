//! `with_value` (Go: `context.WithValue`, `valueCtx`).
use alloc::sync::Arc;
use core::any::Any;

use super::node::{Context, Kind, Node};

/// Go: `context.WithValue(parent, key, val)`: a child carrying `val` under
/// `key` (`ctx.value::<T>(key)`), done exactly when `parent` is. For
/// request-scoped data, not optional parameters (Go's advice).
pub fn with_value<T: Any + Send + Sync>(parent: &Context, key: &'static str, val: T) -> Context {
    Context(Arc::new(Node {
        parent: Some(parent.clone()),
        kind: Kind::Value {
            key,
            val: Arc::new(val),
        },
    }))
}
