//! Goroutine-level synchronisation (Go: `sync`): [`Mutex`], [`RWMutex`],
//! [`Once`], [`Cond`], [`Semaphore`], [`WaitGroup`], with Go's algorithms
//! (sync/mutex.go, rwmutex.go, once.go, cond.go, waitgroup.go) behind
//! guard-based Rust signatures. They park goroutines through the runtime's
//! semaphore (`sched::sema`, Go's runtime/sema.go with its semtable) and
//! Cond's notify list (`sched::notifylist`); each primitive parks with its
//! own wait reason, so a goroutine dump says what a goroutine waits for.
//!
//! One idea per file: `mutex.rs` (the state machine, generic over its
//! semaphore and loom-checked, and the kernel's `Mutex<T>`), `rwmutex.rs`,
//! `once.rs`, `cond.rs`, `semaphore.rs`, `waitgroup.rs`.
//!
//! Channels and `select!` (Go: the runtime's chan.go and select.go) live
//! here too: the algorithms (`hchan`, `selectgo`) are pure, generic over
//! the parking primitive, built and loom-checked on the host
//! (`chan_model`); `chan` and `select` bind them to goroutines, sudogs
//! (`sched/sudog.rs`) and the interrupt-safe channel lock.
//!
//! # Memory model (happens-before edges)
//!
//! What one goroutine wrote before the left-hand side is visible to the
//! goroutine on the right-hand side after it (Go's memory model, "Locks"
//! and "Once"; each file says which atomics carry the edge):
//!
//! | edge | |
//! |---|---|
//! | `Mutex` unlock -> every later lock that gets it | `mutex.rs` |
//! | `RWMutex` unlock -> later rlock/lock; runlock -> the next lock | `rwmutex.rs` |
//! | `WaitGroup` done -> the return of the waits it releases | `waitgroup.rs` |
//! | `Once`: the return of `f` -> the return of every `call_once` | `once.rs` |
//! | `Cond` signal/broadcast -> the waits they wake (and the Mutex) | `cond.rs` |
//! | `Semaphore` release -> the acquire that takes the unit | `semaphore.rs` |
//!
//! Only the Mutex's state machine builds on the host (unit tests, loom);
//! the rest needs the scheduler.
pub mod mutex;

#[cfg(target_os = "none")]
pub mod cond;
#[cfg(target_os = "none")]
pub mod once;
#[cfg(target_os = "none")]
pub mod rwmutex;
#[cfg(target_os = "none")]
pub mod semaphore;

pub mod hchan;
pub mod selectgo;

#[cfg(test)]
mod chan_model;

#[cfg(target_os = "none")]
pub mod chan;
#[cfg(target_os = "none")]
pub mod select;
#[cfg(target_os = "none")]
pub mod waitgroup;

pub use mutex::{MutexStats, STARVATION_THRESHOLD_NS};

#[cfg(target_os = "none")]
pub use self::{
    cond::Cond,
    mutex::{Mutex, MutexGuard, RawMutex},
    once::Once,
    rwmutex::{RWMutex, RWMutexReadGuard, RWMutexWriteGuard},
    semaphore::{Semaphore, SemaphorePermit},
    waitgroup::WaitGroup,
};
#[cfg(target_os = "none")]
pub use chan::{Chan, TryRecvError, TrySendError, chan, chan_from_interrupts};
