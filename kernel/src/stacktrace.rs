//! Go's `runtime/debug.PrintStack`.
use crate::arch::frames::WalkStart;
use crate::sched::{dump, m};

/// Go: `debug.PrintStack`. Prints the running goroutine's traceback
/// (`goroutine N [running]:`, its frames from the caller of `print_stack`
/// on, its creator), through the same code as the scheduler's dumps so the
/// format is the same (the runner symbolises the frames). On g0 (the
/// scheduler, an interrupt before any goroutine) it prints
/// `goroutine 0 [running]:` only: there is no goroutine to describe.
#[inline(never)]
pub fn print_stack() {
    let start = WalkStart::here();
    let g = m::getg();
    if g.is_null() || m::on_g0() {
        crate::console::emergency(format_args!("\ngoroutine 0 [running]:\n"));
        return;
    }
    // SAFETY: the running G stays alive while it runs this function (a G
    // is freed only after it exits, and this is it).
    dump::print_goroutine_from(unsafe { &*g }, "running", start);
}
