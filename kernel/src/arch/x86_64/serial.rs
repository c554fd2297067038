//! COM1 (16550 UART at I/O port 0x3f8): the console device.
use ::x86_64::instructions::port::Port;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

pub const COM1: u16 = 0x3f8;

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
