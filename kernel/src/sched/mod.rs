//! The GMP scheduler (Go: runtime/proc.go, runtime2.go).
//!
//! - [`g`]: G, a goroutine; [`m`]: M, a CPU; [`p`]: P, the right to run Gs;
//!   [`sched`]: the global state (`schedt`).
//! - [`proc`]: the loop (`schedule`, `findRunnable`, `execute`), `go`,
//!   `goexit`, `gosched`, `gopark`/`goready`, `wakep`, `set_gomaxprocs`.
//! - Pure parts that build and are tested on the host (unit tests, loom):
//!   [`runq`] (the per-P ring), [`order`] (victim order, cheaprand),
//!   [`glist`] (G lists), [`gfree`] (free-G batching), [`policy`]
//!   (findRunnable's order and rules), [`idle`] (idle Ps, spinning Ms,
//!   `wakep`'s hand-off).
pub mod gfree;
pub mod glist;
pub mod idle;
pub mod order;
pub mod policy;
pub mod runq;

#[cfg(target_os = "none")]
pub mod dump;
#[cfg(target_os = "none")]
pub mod g;
#[cfg(target_os = "none")]
pub mod m;
#[cfg(target_os = "none")]
pub mod p;
#[cfg(target_os = "none")]
pub mod preempt;
#[cfg(target_os = "none")]
pub mod proc;
#[cfg(target_os = "none")]
#[allow(clippy::module_inception)] // Go's `schedt` lives in `sched`
pub mod sched;
#[cfg(target_os = "none")]
pub mod stack;
