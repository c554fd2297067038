//! Goroutine-level synchronisation (Go: `sync`): `WaitGroup`, which parks
//! goroutines. It is built on the runtime's semaphore-style parking
//! (`sched::sema`, Go's runtime/sema.go, and `gopark`/`goready`) and on the
//! runtime locks ([`crate::lock`]).
#[cfg(target_os = "none")]
pub mod waitgroup;

#[cfg(target_os = "none")]
pub use waitgroup::WaitGroup;
