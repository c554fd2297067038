//! A goroutine pool (seed 004, "协程池实现与设计思路"): reuse goroutines,
//! bound concurrency, queue tasks by priority, shut down gracefully, count
//! what happened. A library module on channels, `sync` and `context`; the
//! design and its differences from the seed are in `workers.rs`.
//!
//! ```ignore
//! let pool = Pool::new(PoolConfig::default())?;
//! pool.submit(Task::new(|| Ok(())).priority(1).callback(|r| assert!(r.is_ok())))?;
//! pool.shutdown();
//! ```
//!
//! One idea per file: `config.rs` (defaults, validation), `queue.rs` (the
//! priority order and the deadline rule), `task.rs`, `error.rs`,
//! `stats.rs` (pure, host-tested where there is logic) and `workers.rs`
//! (the pool on goroutines).
pub mod config;
pub mod error;
pub mod queue;
#[cfg(target_os = "none")]
pub mod stats;
pub mod task;
#[cfg(target_os = "none")]
mod workers;

pub use config::Config;
pub use error::Error;
#[cfg(target_os = "none")]
pub use stats::Stats;
pub use task::Task;
#[cfg(target_os = "none")]
pub use workers::Pool;
