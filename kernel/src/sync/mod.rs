//! Goroutine-level synchronisation (Go: `sync`, `runtime/sema.go`): the
//! semaphore and `WaitGroup`, which park goroutines. The spin locks they are
//! built on are runtime locks: [`crate::lock`].
#[cfg(target_os = "none")]
pub mod sema;
#[cfg(target_os = "none")]
pub mod waitgroup;

#[cfg(target_os = "none")]
pub use waitgroup::WaitGroup;
