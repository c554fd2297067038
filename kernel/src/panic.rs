//! Panics and fatal errors: the kernel's single exit path (like xv6's
//! `panic`). Like Go: print `panic: <message>` with its location (or
//! `fatal error: <message>`), then the context, then exit with status 2.
//! Every way the kernel stops goes through here: Rust panics, [`fatal`]
//! (Go's `throw`), fatal exceptions ([`fatal_exit`], after `arch` printed
//! the report) and a normal end ([`exit`]).
//!
//! Below the scheduler and the test harness: what the running goroutine
//! looks like in a report, and what a test kernel does when it dies, are
//! upcalls registered by `init` ([`set_goroutine_reporter`],
//! [`set_test_hooks`]).
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::frames::WalkStart;
use crate::arch::report_lock::report_block;
use crate::arch::{self, Upcall, qemu};
use crate::console::{emergency, enter_panic_mode};

static IN_PANIC: AtomicBool = AtomicBool::new(false);

/// Prints the goroutine at the given address, the one running on this CPU,
/// its frames from the given start, and (if dying) the other goroutines
/// `traceback=` asks for (the scheduler's `print_running`).
// SAFETY: a function pointer type.
static GOROUTINE_REPORTER: Upcall<fn(usize, WalkStart, bool)> = unsafe { Upcall::new() };
/// The test harness's hook on a panic (marks the running test failed).
// SAFETY: a function pointer type.
static ON_PANIC: Upcall<fn(&PanicInfo)> = unsafe { Upcall::new() };
/// The test harness's hook on a fatal exception.
// SAFETY: a function pointer type.
static ON_FATAL: Upcall<fn()> = unsafe { Upcall::new() };

/// Registers how a report prints the goroutine running on this CPU:
/// `f(g, start, dying)` with `g` the per-CPU current-G pointer (not g0),
/// `start` where its traceback begins, `dying` for panics and fatal errors
/// (which show the other goroutines too, per `traceback=`).
pub fn set_goroutine_reporter(f: fn(usize, WalkStart, bool)) {
    GOROUTINE_REPORTER.set(f);
}

/// Registers the test harness's hooks: `on_panic` runs first on a panic,
/// `on_fatal` on a fatal exception.
pub fn set_test_hooks(on_panic: fn(&PanicInfo), on_fatal: fn()) {
    ON_PANIC.set(on_panic);
    ON_FATAL.set(on_fatal);
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    // The traceback starts at this handler's caller (Go's `panic` frame is
    // the top one too): the report's own frames are left out.
    let start = WalkStart::here();
    arch::irq::disable();
    if IN_PANIC.swap(true, Ordering::SeqCst) {
        // A second panic (on another CPU, or while reporting): the first one
        // is reporting and will exit.
        emergency(format_args!(
            "panic: {} (while already panicking)\n",
            info.message()
        ));
        arch::halt_forever();
    }
    enter_panic_mode();
    // Held until the kernel exits: no other CPU's report interleaves.
    core::mem::forget(report_block());
    if let Some(f) = ON_PANIC.get() {
        f(info);
    }
    match info.location() {
        Some(loc) => emergency(format_args!(
            "\npanic: {}\n\tat {}:{}:{} on cpu {}\n",
            info.message(),
            loc.file(),
            loc.line(),
            loc.column(),
            arch::cpu_index()
        )),
        None => emergency(format_args!("\npanic: {}\n", info.message())),
    }
    report(start, true);
    exit(2)
}

/// Prints what this CPU is running (the current goroutine, once the
/// scheduler exists, its frames from `start`) for NMI reports.
pub fn report_context(start: WalkStart) {
    report(start, false)
}

/// [`report_context`] for a fatal exception's report (the arch's context
/// upcall): the other goroutines follow, as `traceback=` says.
pub fn report_fatal_context(start: WalkStart) {
    report(start, true)
}

fn report(start: WalkStart, dying: bool) {
    let cpu = arch::percpu::this();
    let g = cpu.g.load(Ordering::Relaxed);
    let g0 = cpu.g0.load(Ordering::Relaxed);
    if g == 0 {
        emergency(format_args!(
            "\n(cpu {}: before the scheduler started)\n",
            cpu.index
        ));
    } else if g == g0 {
        emergency(format_args!(
            "\n(cpu {}: on g0, the scheduler's stack; locks={})\n",
            cpu.index,
            cpu.locks.load(Ordering::Relaxed)
        ));
    } else if let Some(f) = GOROUTINE_REPORTER.get() {
        f(g, start, dying);
    }
}

/// Stops the kernel with a `fatal error: <msg>` (Go's `throw`): status 2.
pub fn fatal(msg: core::fmt::Arguments) -> ! {
    fatal_with(msg, &|| {})
}

/// [`fatal`] with `detail` printed right after the `fatal error:` line,
/// before this CPU's context (the out-of-memory counters).
#[inline(never)]
pub fn fatal_with(msg: core::fmt::Arguments, detail: &dyn Fn()) -> ! {
    let start = WalkStart::here();
    arch::irq::disable();
    enter_panic_mode();
    core::mem::forget(report_block());
    emergency(format_args!("\nfatal error: {msg}\n"));
    detail();
    report(start, true);
    exit(2)
}

/// [`fatal`] with a report of its own instead of this CPU's context (the
/// deadlock report prints every parked goroutine): Go's `fatal` + traceback.
pub fn fatal_report(msg: core::fmt::Arguments, report: fn()) -> ! {
    arch::irq::disable();
    if IN_PANIC.swap(true, Ordering::SeqCst) {
        arch::halt_forever();
    }
    enter_panic_mode();
    core::mem::forget(report_block());
    emergency(format_args!("\nfatal error: {msg}\n"));
    report();
    if let Some(f) = ON_FATAL.get() {
        f();
    }
    exit(2)
}

/// Exit path of fatal exceptions (their report is printed): status 2, like
/// a Go program dying.
pub fn fatal_exit() -> ! {
    if let Some(f) = ON_FATAL.get() {
        f();
    }
    exit(2)
}

/// Is a panic or fatal error being reported? (The watchdog stands down.)
pub fn panicking() -> bool {
    IN_PANIC.load(Ordering::Relaxed) || crate::console::in_panic_mode()
}

/// Powers QEMU off with `code` (0 success, 2 panic or fatal error).
pub fn exit(code: u32) -> ! {
    qemu::exit(code)
}
