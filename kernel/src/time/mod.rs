//! Time for goroutines (Go: `time`): [`Instant`], [`Duration`], [`sleep`],
//! and time on channels: [`Timer`], [`after`], [`after_func`], [`Ticker`],
//! [`tick`] (Go 1.23 semantics; `sendtime.rs` is the runtime side and its
//! design comment). They run on the runtime's per-P timers
//! (`sched/timers.rs`). The clock they read is [`crate::clock`] (the TSC).
//!
//! One idea per file: `sleep.rs`, `timer.rs` (`Timer`, `after`,
//! `after_func`), `ticker.rs` (`Ticker`, `tick`), `sendtime.rs`.
//!
//! On the host only [`Instant`]'s arithmetic builds.
use crate::clock::convert;

// The clock itself is `crate::clock` (a leaf every layer may use); these
// stay here for the code and tests that read the time through `time`.
#[cfg(target_os = "none")]
pub use crate::clock::now_ns;
pub use crate::clock::{cycles_to_ns, ns_to_cycles};

#[cfg(target_os = "none")]
mod sendtime;
#[cfg(target_os = "none")]
pub mod sleep;
#[cfg(target_os = "none")]
pub mod ticker;
#[cfg(target_os = "none")]
pub mod timer;

pub use core::time::Duration;
#[cfg(target_os = "none")]
pub use sleep::sleep;
#[cfg(target_os = "none")]
pub use ticker::{Ticker, tick};
#[cfg(target_os = "none")]
pub use timer::{AfterFunc, Timer, after, after_func};

/// A point on the monotonic clock (Go: the monotonic part of `time.Time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(u64);

impl Instant {
    /// Now.
    #[cfg(target_os = "none")]
    pub fn now() -> Instant {
        Instant(now_ns())
    }

    /// Time since this instant.
    #[cfg(target_os = "none")]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(now_ns().saturating_sub(self.0))
    }

    /// Time from `earlier` to this instant (zero if `earlier` is later).
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Nanoseconds since boot.
    pub fn as_nanos(&self) -> u64 {
        self.0
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates: `Instant::now() + Duration::MAX` is the last instant, not
    /// a wrapped early one.
    fn add(self, d: Duration) -> Instant {
        Instant(convert::deadline_after(self.0, convert::duration_ns(d)))
    }
}

impl core::ops::Sub for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.duration_since(other)
    }
}
