//! Whether the kernel outlives `main`: a console (the serial shell) that
//! the user drives holds it up.
//!
//! Go has no such thing (a Go program ends when `main` returns). gmpos's
//! shell is a system goroutine, and `main` hands over to it by starting it
//! and returning, rather than by parking: a parked `main` is a user
//! goroutine asleep, so every idle moment of the shell would look like a
//! deadlock (all user goroutines parked) to `checkdead`. With `main` gone
//! and no demo running there are no user goroutines at all, which
//! `checkdead` never calls a deadlock; a demo's goroutines are user ones,
//! so a demo that deadlocks is still reported.
use core::sync::atomic::{AtomicBool, Ordering};

static HELD: AtomicBool = AtomicBool::new(false);

/// From now on, `main` returning does not power the machine off: the
/// holder ends the kernel itself (the shell's `halt`).
pub fn hold() {
    HELD.store(true, Ordering::Release);
}

/// Does something hold the kernel up after `main`?
pub fn held() -> bool {
    HELD.load(Ordering::Acquire)
}
