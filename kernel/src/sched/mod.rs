//! The GMP scheduler. The pure parts (run queue, victim order, G lists, the
//! free-G batching and findRunnable's policy) build on the host too.
pub mod gfree;
pub mod glist;
pub mod order;
pub mod policy;
pub mod runq;
