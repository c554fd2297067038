//! `Ticker` and `tick` (Go: `time.NewTicker`, `time.Tick`): the time on a
//! channel every period, on a periodic runtime timer (`sendtime.rs`).
//!
//! A tick nobody is ready for is dropped, not queued (the channel holds one;
//! Go's `sendTime`), and a late firing skips the periods it missed, keeping
//! the phase (`timerheap::next_period`): a slow reader sees at most one
//! stale tick, never a burst. After `stop` or `reset` no stale tick is
//! received (Go 1.23).
//!
//! Differences from Go: a zero period panics (Go panics for a non-positive
//! one; `Duration` cannot be negative), and `tick(0)` panics too where Go
//! returns a nil channel. A dropped `tick` channel frees its timer at the
//! next tick; a dropped `Ticker` holding its channel's last handle at once.
use alloc::sync::Arc;
use core::time::Duration;

use super::Instant;
use super::sendtime::{Action, Shared};
use crate::clock::convert;
use crate::sync::chan::{Chan, chan};

/// Go: `time.Ticker`: the time on [`c`](Ticker::c) every period.
pub struct Ticker {
    sh: Arc<Shared>,
    c: Chan<Instant>,
}

fn period_ns(d: Duration, what: &str) -> u64 {
    let ns = convert::duration_ns(d);
    assert!(ns != 0, "non-positive interval for {what}");
    ns
}

impl Ticker {
    /// Go: `time.NewTicker(d)`: ticks every `d`, the first after `d`.
    /// Panics `non-positive interval for NewTicker` for a zero `d`.
    pub fn new(d: Duration) -> Ticker {
        let ns = period_ns(d, "NewTicker");
        let c = chan(1);
        let sh = Shared::new(Action::Send(c.downgrade()), ns);
        sh.start(ns);
        Ticker { sh, c }
    }

    /// Go: `t.C`.
    pub fn c(&self) -> &Chan<Instant> {
        &self.c
    }

    /// Go: `t.Stop()`: no tick arrives afterwards, not even one sent just
    /// before (Go 1.23). The channel stays open (as in Go).
    pub fn stop(&self) {
        self.sh.stop();
    }

    /// Go: `t.Reset(d)`: the period becomes `d`, the next tick `d` from now
    /// (an unreceived tick is discarded). Panics `non-positive interval for
    /// Ticker.Reset` for a zero `d`.
    pub fn reset(&self, d: Duration) {
        let ns = period_ns(d, "Ticker.Reset");
        self.sh.reset(ns, Some(ns));
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.sh.stop_if_last(&self.c);
    }
}

/// Go: `time.Tick(d)`: a ticker's channel without the ticker. Dropping it
/// frees the timer at the next tick. Panics for a zero `d`.
pub fn tick(d: Duration) -> Chan<Instant> {
    let ns = period_ns(d, "Tick");
    let c = chan(1);
    let sh = Shared::new(Action::Send(c.downgrade()), ns);
    sh.start(ns);
    c
}
