//! Synchronisation: the kernel's spin locks (which count as runtime locks for
//! the scheduler, Go's `lock()` -> `acquirem()`), and the atomics shim that
//! lets the lock-free parts run under loom on the host.
pub mod atomic;
#[cfg(target_os = "none")]
pub mod spinlock;

#[cfg(target_os = "none")]
pub mod sema;
#[cfg(target_os = "none")]
pub mod waitgroup;

#[cfg(target_os = "none")]
pub use spinlock::{IrqSpinLock, SpinLock};
#[cfg(target_os = "none")]
pub use waitgroup::WaitGroup;
