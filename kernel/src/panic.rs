//! Panics and fatal errors. Like Go: print `panic: <message>` with its
//! location (or `fatal error: <message>`), then the context, then exit with
//! status 2.
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::console::{emergency, enter_panic_mode};

static IN_PANIC: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::arch::irq::disable();
    if IN_PANIC.swap(true, Ordering::SeqCst) {
        // A second panic (on another CPU, or while reporting): the first one
        // is reporting and will exit.
        emergency(format_args!(
            "panic: {} (while already panicking)\n",
            info.message()
        ));
        crate::arch::halt_forever();
    }
    enter_panic_mode();
    crate::testing::on_panic(info);
    match info.location() {
        Some(loc) => emergency(format_args!(
            "\npanic: {}\n\tat {}:{}:{} on cpu {}\n",
            info.message(),
            loc.file(),
            loc.line(),
            loc.column(),
            crate::arch::cpu_index()
        )),
        None => emergency(format_args!("\npanic: {}\n", info.message())),
    }
    report_context();
    crate::init::exit(2)
}

/// Prints what this CPU is running (the current goroutine, once the
/// scheduler exists) for panic, fault and NMI reports.
pub fn report_context() {
    let cpu = crate::arch::percpu::this();
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
    } else {
        // SAFETY: the current G is live while it runs on this CPU.
        let g = unsafe { &*(g as *const crate::sched::g::G) };
        crate::sched::dump::print_goroutine(g, "running");
    }
}

/// Stops the kernel with a `fatal error: <msg>` (Go's `throw`): status 2.
pub fn fatal(msg: core::fmt::Arguments) -> ! {
    crate::arch::irq::disable();
    enter_panic_mode();
    emergency(format_args!("\nfatal error: {msg}\n"));
    report_context();
    crate::init::exit(2)
}
