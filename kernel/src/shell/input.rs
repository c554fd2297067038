//! The UART wake-up: COM1's receive interrupt feeds the shell, the way
//! Go's netpoller readies a goroutine blocked on a file descriptor.
//!
//! # Protocol
//!
//! - COM1's "received data available" interrupt (ISA IRQ 4, routed through
//!   the IOAPIC to CPU 0) runs [`on_com1`]. It reads every byte the UART
//!   holds and `try_send`s each into [`input`], a `chan_from_interrupts`
//!   channel of 256 bytes. The shell's goroutine is parked in `recv` on it:
//!   the send readies it (to the global run queue, with a wake-up IPI to an
//!   idle CPU: the interrupt path of `goready`). A full channel drops the
//!   byte and counts it ([`dropped`]): a handler never waits.
//! - Ctrl-\ (0x1c) does not go to the shell: the handler `try_send`s a
//!   token into [`quit`] (capacity 1; a dump already pending absorbs more
//!   presses), which readies the SIGQUIT goroutine (`mod.rs`). It prints
//!   every goroutine's traceback on a goroutine, not in the handler:
//!   printing from the interrupt would hold interrupts off for the whole
//!   dump and could meet the console lock held by the code it interrupted.
//! - Nothing prints from the handler, and it takes no lock but the
//!   channels' interrupt-safe ones.
//! - Deadlock detection: the readers are system goroutines, which
//!   `park::external_wait` does not count, so a deadlocked demo is still
//!   reported while the shell waits for a key.
//!
//! Other code may push [`Input::Redraw`] into the same channel (from a
//! goroutine, with `try_send`) to have the shell reprint its prompt after
//! asynchronous output (a demo's end).
use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::arch::{TrapFrame, apic, ioapic, serial, trap};
use crate::sync::{Chan, chan_from_interrupts};

/// What the shell's goroutine receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A byte from the UART.
    Byte(u8),
    /// Reprint the prompt and the line being typed.
    Redraw,
}

/// Ctrl-\: the SIGQUIT key.
pub const CTRL_BACKSLASH: u8 = 0x1c;
/// The input channel's capacity (bytes typed ahead of the shell).
const INPUT_CAP: usize = 256;
/// The vector COM1's IRQ is routed to.
const VECTOR: u8 = ioapic::ISA_VECTOR_BASE + serial::COM1_IRQ;

static INPUT: AtomicPtr<Chan<Input>> = AtomicPtr::new(core::ptr::null_mut());
static QUIT: AtomicPtr<Chan<()>> = AtomicPtr::new(core::ptr::null_mut());
static DROPPED: AtomicU64 = AtomicU64::new(0);
static RECEIVED: AtomicU64 = AtomicU64::new(0);

fn leaked<T>(slot: &AtomicPtr<Chan<T>>) -> Option<&'static Chan<T>> {
    let p = slot.load(Ordering::Acquire);
    // SAFETY: the slots only ever hold channels leaked by `init` (never
    // freed).
    (!p.is_null()).then(|| unsafe { &*p })
}

/// The channel the shell reads (after [`init`]).
pub fn input() -> &'static Chan<Input> {
    leaked(&INPUT).expect("shell input read before input::init")
}

/// The channel the SIGQUIT goroutine reads (after [`init`]).
pub fn quit() -> &'static Chan<()> {
    leaked(&QUIT).expect("shell quit channel read before input::init")
}

/// Bytes dropped because the shell was 256 bytes behind.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Bytes received (Ctrl-\ included).
pub fn received() -> u64 {
    RECEIVED.load(Ordering::Relaxed)
}

/// Makes the channels, then registers the handler, routes IRQ 4 to CPU 0
/// and enables the UART's receive interrupt, in that order (a byte that
/// arrived before finds everything in place when its interrupt comes).
/// Only CPU 0's handler reads the UART, so bytes keep their order.
/// Once: the caller (`shell::start`) guards it.
pub fn init() -> Result<(), ioapic::RouteError> {
    let input = Box::leak(Box::new(chan_from_interrupts::<Input>(INPUT_CAP)));
    let quit = Box::leak(Box::new(chan_from_interrupts::<()>(1)));
    INPUT.store(input, Ordering::Release);
    QUIT.store(quit, Ordering::Release);
    trap::register(VECTOR, on_com1);
    ioapic::route_isa(serial::COM1_IRQ, VECTOR, 0)?;
    // Bytes already waiting raise the interrupt as soon as it is enabled
    // (the UART's condition is a level; enabling it makes the edge).
    serial::enable_rx_interrupt();
    Ok(())
}

/// COM1's interrupt handler.
fn on_com1(_: &mut TrapFrame) {
    drain();
    apic::eoi();
}

/// Moves every byte the UART holds into the channels.
fn drain() {
    let (Some(input), Some(quit)) = (leaked(&INPUT), leaked(&QUIT)) else {
        // Not set up: read and drop, so the line does not stay asserted.
        while serial::rx_byte().is_some() {}
        return;
    };
    while let Some(b) = serial::rx_byte() {
        RECEIVED.fetch_add(1, Ordering::Relaxed);
        if b == CTRL_BACKSLASH {
            let _ = quit.try_send(());
        } else if input.try_send(Input::Byte(b)).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}
