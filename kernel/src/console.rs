//! The console: `print!`/`println!` on COM1, safe from any CPU and from
//! interrupt context (the lock is held with interrupts off), a `log` facade
//! (level, CPU, time since boot), and an emergency writer for the NMI,
//! double-fault, machine-check and panic paths that works even when the
//! console lock is held by the code that died.
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

use crate::arch::{percpu, serial};
use crate::lock::IrqSpinLock;

static CONSOLE: IrqSpinLock<Option<Uart16550<PioBackend>>> = IrqSpinLock::new(None);

/// Set once the system is going down: every later write goes through the
/// emergency path.
static PANICKING: AtomicBool = AtomicBool::new(false);

struct Writer<'a>(&'a mut Option<Uart16550<PioBackend>>);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.0 {
            Some(uart) => uart.send_bytes_exact(s.as_bytes()),
            None => serial::raw_write(s.as_bytes()),
        }
        Ok(())
    }
}

/// Opens COM1 and becomes `arch`'s writer (`arch` prints its boot messages
/// and exception reports through `serial::set_writers`: it sits below the
/// console). Output before this goes through the raw writer.
pub fn init() {
    let uart = serial::open_com1();
    *CONSOLE.lock() = uart;
    serial::set_writers(_print, emergency);
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    if PANICKING.load(Ordering::Relaxed) {
        emergency(args);
        return;
    }
    let mut guard = CONSOLE.lock();
    let _ = Writer(&mut guard).write_fmt(args);
}

/// Writes without the console lock if it cannot be had quickly: for NMI,
/// fatal exceptions and panics. Lines from several dying CPUs may interleave;
/// losing the report would be worse.
pub fn emergency(args: fmt::Arguments) {
    struct Raw;
    impl Write for Raw {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            serial::raw_write(s.as_bytes());
            Ok(())
        }
    }
    for _ in 0..100_000 {
        if let Some(mut guard) = CONSOLE.try_lock() {
            let _ = Writer(&mut guard).write_fmt(args);
            return;
        }
        core::hint::spin_loop();
    }
    let _ = Raw.write_fmt(args);
}

/// Switches every later write to the emergency path (panic, fatal error).
pub fn enter_panic_mode() {
    PANICKING.store(true, Ordering::SeqCst);
}

/// Has a panic or fatal report begun?
pub fn in_panic_mode() -> bool {
    PANICKING.load(Ordering::Relaxed)
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::_print(format_args!("{}\n", format_args!($($arg)*))));
}

static LEVEL: AtomicU8 = AtomicU8::new(log::LevelFilter::Info as u8);

struct KernelLogger;

impl log::Log for KernelLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() as u8 <= LEVEL.load(Ordering::Relaxed)
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = crate::clock::now_ns();
        crate::println!(
            "[{:>4}.{:06}] cpu{} {:<5} {}",
            ns / 1_000_000_000,
            (ns / 1000) % 1_000_000,
            percpu::cpu_index(),
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: KernelLogger = KernelLogger;

/// Installs the `log` facade at `level`.
pub fn init_log(level: log::LevelFilter) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
