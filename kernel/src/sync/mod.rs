//! Goroutine-level synchronisation (Go: `sync`, and the runtime's
//! channels): `WaitGroup`; channels and `select!`. They are built on the
//! runtime's parking (`gopark`/`goready`, sudogs: `sched/`) and on the
//! runtime locks ([`crate::lock`]).
//!
//! The channel algorithms (`hchan`, `selectgo`) are pure: generic over the
//! parking primitive, built and loom-checked on the host (`chan_model`);
//! `chan` and `select` bind them to goroutines.
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

#[cfg(target_os = "none")]
pub use chan::{Chan, TryRecvError, TrySendError, chan, chan_from_interrupts};
#[cfg(target_os = "none")]
pub use waitgroup::WaitGroup;
