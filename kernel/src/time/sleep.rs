//! `sleep` (Go: `time.Sleep` -> `timeSleep`): park the goroutine on a timer in
//! its P's heap; the timer interrupt readies it.
use core::ptr::NonNull;
use core::time::Duration;

use crate::clock::convert;
use crate::sched::timers::{self, Timer, TimerFn};
use crate::sched::{WaitReason, getg, gopark};

/// Pauses the current goroutine for at least `d` (never less). Other
/// goroutines run meanwhile; an idle CPU sleeps until the timer is due.
/// A sleep ending beyond the clock's range (`Duration::MAX`) never ends: its
/// timer's `when` saturates at `u64::MAX`, which no clock value reaches and
/// for which no CPU timer is programmed.
pub fn sleep(d: Duration) {
    let ns = convert::duration_ns(d);
    if ns == 0 {
        crate::sched::gosched();
        return;
    }
    let me = NonNull::new(getg()).expect("sleep outside a goroutine");
    let when = convert::deadline_after(super::now_ns(), ns);
    // The timer lives on our stack: we are parked until it fires.
    let t = Timer::new(TimerFn::Ready(me));
    // Go: resetForSleep runs as gopark's unlock function: the timer is added
    // only once we are off our stack, so it can never ready a running G.
    let add = || {
        timers::add_here(&t, when);
        true
    };
    gopark(Some(&add), WaitReason::Sleep);
}

/// `sleep` for `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    sleep(Duration::from_millis(ms))
}
