//! Runtime locks (Go: `lock`/`unlock` in `lock_spinbit.go`, counted in
//! `m.locks`): the kernel's spin locks, and the atomics and cell shims that
//! let the lock-free scheduler parts and the channels run under loom on the
//! host.
//!
//! Just above `arch` (for the per-CPU `locks` count and interrupt masking)
//! and below everything that locks: console, panic, mem, the scheduler.
//! Releasing the last runtime lock may have to honour a pending preemption,
//! which is the scheduler's business: that is an upcall
//! ([`set_last_release_handler`]), registered by `init`.
pub mod atomic;
pub mod cell;
#[cfg(all(test, loom))]
pub mod loom_check;
#[cfg(target_os = "none")]
mod spin;

#[cfg(target_os = "none")]
pub use spin::{
    IrqRawLock, IrqSpinGuard, IrqSpinLock, SpinGuard, SpinLock, locks_held,
    set_last_release_handler,
};
