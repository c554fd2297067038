//! COM1 (16550 UART at I/O port 0x3f8): the console device, and how `arch`
//! itself prints.
//!
//! The console (locking, the `log` facade) sits above `arch`, so `arch`
//! prints through two upcalls the console registers at boot
//! ([`set_writers`]): the ordinary one (boot messages: `arch_println!`) and
//! the emergency one (exception and NMI reports, which must get out even
//! when the console lock is held by the code that died). Before they are
//! registered, both write to COM1 directly.
use core::fmt::{self, Write};

use ::x86_64::instructions::port::Port;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

use crate::arch::Upcall;

pub const COM1: u16 = 0x3f8;

// SAFETY: a function pointer type.
static PRINT: Upcall<fn(fmt::Arguments)> = unsafe { Upcall::new() };
// SAFETY: a function pointer type.
static EMERGENCY: Upcall<fn(fmt::Arguments)> = unsafe { Upcall::new() };

/// Registers the console's writers: `print` for ordinary output (`print!`),
/// `emergency` for reports from fatal paths (`console::emergency`).
pub fn set_writers(print: fn(fmt::Arguments), emergency: fn(fmt::Arguments)) {
    PRINT.set(print);
    EMERGENCY.set(emergency);
}

/// Prints through the console (raw COM1 before it exists).
pub fn print(args: fmt::Arguments) {
    match PRINT.get() {
        Some(f) => f(args),
        None => raw_fmt(args),
    }
}

/// Prints a report from a fatal path or the NMI (see [`set_writers`]).
pub fn emergency(args: fmt::Arguments) {
    match EMERGENCY.get() {
        Some(f) => f(args),
        None => raw_fmt(args),
    }
}

fn raw_fmt(args: fmt::Arguments) {
    struct Raw;
    impl Write for Raw {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            raw_write(s.as_bytes());
            Ok(())
        }
    }
    let _ = Raw.write_fmt(args);
}

/// `println!` for `arch` (through the console's writer, see [`set_writers`]).
macro_rules! arch_println {
    ($($arg:tt)*) => ($crate::arch::serial::print(format_args!("{}\n", format_args!($($arg)*))));
}
pub(crate) use arch_println;

/// Opens and initialises COM1 (115200 8N1, the uart_16550 default).
pub fn open_com1() -> Option<Uart16550<PioBackend>> {
    // SAFETY: 0x3f8..0x3ff are COM1's registers on every PC (QEMU included)
    // and only the console owns them.
    let mut uart = unsafe { Uart16550::new_port(COM1) }.ok()?;
    uart.init(uart_16550::Config::default()).ok()?;
    Some(uart)
}

/// Writes bytes to COM1 by polling the line status register, with no lock and
/// no driver state: the emergency path (NMI, double fault, panic) uses it
/// when the console lock may be held by the code that died.
pub fn raw_write(bytes: &[u8]) {
    let mut lsr = Port::<u8>::new(COM1 + 5);
    let mut thr = Port::<u8>::new(COM1);
    for &b in bytes {
        let mut spins = 0u32;
        // SAFETY: reading COM1's line status register has no side effect.
        while unsafe { lsr.read() } & 0x20 == 0 && spins < 100_000 {
            core::hint::spin_loop();
            spins += 1;
        }
        // SAFETY: writing the transmit holding register sends one byte.
        unsafe { thr.write(b) };
    }
}

/// COM1's ISA IRQ line (routed through the IOAPIC, overrides applied).
pub const COM1_IRQ: u8 = 4;

/// Turns on COM1's "received data available" interrupt: IER bit 0, and
/// MCR's OUT2 (bit 3), which on a PC gates the UART's interrupt line onto
/// the ISA bus (QEMU models the gate). The transmit
/// side keeps polling (no THR-empty interrupt): output never waits for an
/// interrupt, so it works from any context.
pub fn enable_rx_interrupt() {
    let mut ier = Port::<u8>::new(COM1 + 1);
    let mut mcr = Port::<u8>::new(COM1 + 4);
    // SAFETY: COM1's interrupt-enable and modem-control registers; the
    // console set the line up (DLAB clear), and only receive interrupts are
    // enabled, which no other code expects to be off.
    unsafe {
        let m = mcr.read();
        mcr.write(m | 0x08); // OUT2 (the driver sets it too; kept on)
        ier.write(0x01);
    }
}

/// One received byte, if the UART holds one (LSR bit 0, then RBR). Reading
/// RBR acknowledges the receive interrupt once the FIFO is empty.
pub fn rx_byte() -> Option<u8> {
    let mut lsr = Port::<u8>::new(COM1 + 5);
    let mut rbr = Port::<u8>::new(COM1);
    // SAFETY: reading LSR has no side effect on the data; reading RBR takes
    // the byte LSR said is there (only the receive interrupt handler and
    // the shell's start-up drain read it).
    unsafe {
        if lsr.read() & 0x01 == 0 {
            return None;
        }
        Some(rbr.read())
    }
}
