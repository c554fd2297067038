//! QEMU's debug console (`-debugcon`, I/O port 0xe9): the trace and profile
//! stream's device. A byte written to the port goes to whatever the runner
//! attached (a file on the host); without `-debugcon` the port is unassigned
//! and writes vanish, so tracing never depends on the host listening.
//!
//! Why not a second 16550: a UART needs its line status polled per byte (and
//! a driver); the debug console takes `rep outsb` of a whole buffer.

/// The debug console's port (QEMU's default `iobase`).
pub const PORT: u16 = 0xe9;

/// Writes `bytes` to the debug console. Callers serialise (one stream).
pub fn write(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // SAFETY: `rep outsb` reads `rcx` bytes at `rsi` (a valid slice) and
    // writes them to port 0xe9, which only the trace stream uses; the
    // direction flag is clear (the ABI guarantees it at function entry).
    unsafe {
        core::arch::asm!(
            "rep outsb",
            in("dx") PORT,
            inout("rsi") bytes.as_ptr() => _,
            inout("rcx") bytes.len() => _,
            options(nostack, preserves_flags, readonly)
        );
    }
}
