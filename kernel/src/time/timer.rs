//! `Timer`, `after` and `after_func` (Go: `time.NewTimer`, `time.After`,
//! `time.AfterFunc`), with Go 1.23's semantics: after `stop` or `reset`
//! returns, no value prepared before it is received, and a timer nobody
//! references any more is freed without a `stop`. The runtime side (the
//! send on g0, the send lock, the weak channel) is `sendtime.rs`.
//!
//! Differences from Go:
//! - The channel is a `Chan<Instant>` of capacity 1 (Go 1.23 reports
//!   `cap(t.C) == 0` for a slot that works the same way): `len`/`cap` say 1.
//! - The value is the [`Instant`] the timer was due (Go sends
//!   `Now().Add(-delay)`, the same moment), on the monotonic clock.
//! - `after_func` returns its own type, [`AfterFunc`], with `stop` and
//!   `reset` (Go's `*Timer` with a nil `C`).
//! - Values arrive from the scheduler loop, not the timer interrupt: on a
//!   CPU busy with a goroutine, up to about half a millisecond after the
//!   deadline (`sendtime.rs` says why).
//! - A dropped `after` channel or `Timer` keeps its runtime timer until it
//!   would have fired (then it is freed), unless the `Timer` held the
//!   channel's last handle: then it is stopped at once.
use alloc::sync::Arc;
use core::time::Duration;

use super::Instant;
use super::sendtime::{Action, Shared};
use crate::clock::convert;
use crate::sync::chan::{Chan, chan};

/// Go: `time.Timer` (from `time.NewTimer`): one value on [`c`](Timer::c)
/// when the duration has passed.
pub struct Timer {
    sh: Arc<Shared>,
    c: Chan<Instant>,
}

impl Timer {
    /// Go: `time.NewTimer(d)`: sends the current time on its channel after
    /// at least `d`. `Duration::MAX` never fires.
    pub fn new(d: Duration) -> Timer {
        let c = chan(1);
        let sh = Shared::new(Action::Send(c.downgrade()), 0);
        sh.start(convert::duration_ns(d));
        Timer { sh, c }
    }

    /// Go: `t.C`: the channel the time arrives on (a `select!` case or
    /// `recv`). Clone it to keep it beyond the timer.
    pub fn c(&self) -> &Chan<Instant> {
        &self.c
    }

    /// Go 1.23: `t.Stop()`: prevents the timer from firing. True if the
    /// call stopped it before its value could be received (pending, or
    /// fired but not yet received: that value is discarded); false if it
    /// had already been received or the timer was stopped. Afterwards no
    /// value arrives until a `reset`.
    pub fn stop(&self) -> bool {
        self.sh.stop()
    }

    /// Go 1.23: `t.Reset(d)`: stops the timer (discarding an unreceived
    /// value) and makes it fire after `d`. Returns what `stop` would have.
    pub fn reset(&self, d: Duration) -> bool {
        self.sh.reset(convert::duration_ns(d), None)
    }
}

impl Drop for Timer {
    /// Holding the channel's last handle: nobody can receive, so the
    /// runtime timer goes now (Go 1.23 leaves it to the garbage collector).
    fn drop(&mut self) {
        self.sh.stop_if_last(&self.c);
    }
}

/// Go: `time.After(d)`: a channel that receives the time once, after at
/// least `d`. Dropping the channel unreceived frees the timer when it
/// fires (no `stop` needed, as in Go 1.23).
pub fn after(d: Duration) -> Chan<Instant> {
    let c = chan(1);
    let sh = Shared::new(Action::Send(c.downgrade()), 0);
    sh.start(convert::duration_ns(d));
    c
}

/// Go: the `*Timer` returned by `time.AfterFunc` (it has no channel).
pub struct AfterFunc {
    sh: Arc<Shared>,
}

impl AfterFunc {
    /// Go: `t.Stop()`: true if it stopped the timer before `f` was started;
    /// false if `f` has already been started in its goroutine (or the timer
    /// was stopped).
    pub fn stop(&self) -> bool {
        self.sh.stop()
    }

    /// Go: `t.Reset(d)`: `f` runs (again) after `d`. Returns what `stop`
    /// would have.
    pub fn reset(&self, d: Duration) -> bool {
        self.sh.reset(convert::duration_ns(d), None)
    }
}

/// Go: `time.AfterFunc(d, f)`: after at least `d`, starts `f` in a new
/// goroutine (`f` runs once per firing: again after each `reset`). Dropping
/// the returned handle does not cancel it. The last reference to `f` may be
/// dropped by the scheduler (on g0): its captures' destructors must not
/// block (channels, `Arc`s and the `sync` types' do not).
pub fn after_func<F: Fn() + Send + Sync + 'static>(d: Duration, f: F) -> AfterFunc {
    let sh = Shared::new(Action::Go(Arc::new(f)), 0);
    sh.start(convert::duration_ns(d));
    AfterFunc { sh }
}
