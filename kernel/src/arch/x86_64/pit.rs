//! The 8254 PIT as a reference clock: channel 2, whose gate and output are
//! wired to port 0x61 on every PC, counts down at 1.193182 MHz
//! independently of the CPU. The TSC and the local APIC timer are calibrated
//! against it when CPUID does not give their frequencies (always under TCG).
//!
//! Used on the bootstrap CPU during boot only (nothing else touches the PIT:
//! gmpos's clock is the TSC and its timer the local APIC's).
use ::x86_64::instructions::port::Port;

/// The PIT's input clock.
pub const PIT_HZ: u64 = 1_193_182;

const CHANNEL2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const PORT_B: u16 = 0x61;
/// Port 0x61: gate of channel 2 (bit 0), speaker data (bit 1), channel 2's
/// output (bit 5).
const GATE2: u8 = 0x01;
const SPEAKER: u8 = 0x02;
const OUT2: u8 = 0x20;

/// The longest window one countdown can time (16-bit counter).
pub const MAX_WINDOW_US: u64 = 0xffff * 1_000_000 / PIT_HZ;

/// The PIT's output never changed: there is no PIT (or no port 0x61).
#[derive(Debug, Clone, Copy)]
pub struct NoPit;

/// Times a window of `us` microseconds (at most [`MAX_WINDOW_US`]): channel
/// 2 runs as a square wave (mode 3) whose period is the window, and
/// `sample` is called at two consecutive rising edges of its output; both
/// results are returned with the window's exact length in nanoseconds
/// (whole PIT ticks). Both ends are found the same way (polling port 0x61),
/// so the polling delay, which is large under TCG (a port read takes
/// microseconds), cancels out instead of lengthening the window.
pub fn window<T>(us: u64, mut sample: impl FnMut() -> T) -> Result<(T, T, u64), NoPit> {
    let ticks = (us * PIT_HZ / 1_000_000).clamp(2, 0xffff);
    let mut port_b = Port::<u8>::new(PORT_B);
    let mut cmd = Port::<u8>::new(COMMAND);
    let mut ch2 = Port::<u8>::new(CHANNEL2);
    // SAFETY: the PC's fixed PIT and port-B registers; only boot code uses
    // channel 2 and the speaker stays off.
    let b = unsafe { port_b.read() };
    // SAFETY: as above.
    unsafe {
        port_b.write((b & !SPEAKER) | GATE2);
        // Channel 2, lobyte/hibyte, mode 3 (square wave), binary.
        cmd.write(0b1011_0110);
        ch2.write(ticks as u8);
        ch2.write((ticks >> 8) as u8);
    }
    let result = (|| {
        wait_for(0)?;
        wait_for(OUT2)?;
        let start = sample();
        wait_for(0)?;
        wait_for(OUT2)?;
        let end = sample();
        Ok((start, end, ticks * 1_000_000_000 / PIT_HZ))
    })();
    // SAFETY: as above: gate off, speaker off.
    unsafe { port_b.write(b & !(SPEAKER | GATE2)) };
    result
}

/// Polls channel 2's output until it is at `level`. Between two port reads
/// the CPU spins a little: port accesses are slow under emulation (and
/// very slow under QEMU's icount), and polling every microsecond or so is
/// precise enough for a 10 ms window since both ends are found alike.
fn wait_for(level: u8) -> Result<(), NoPit> {
    let mut port_b = Port::<u8>::new(PORT_B);
    // A PIT that is there toggles OUT within 55 ms; this many polls take
    // far longer on any CPU, so running out means there is no PIT.
    for _ in 0..10_000_000u64 {
        // SAFETY: reading port B has no side effect.
        if unsafe { port_b.read() } & OUT2 == level {
            return Ok(());
        }
        for _ in 0..POLL_PACE {
            super::tsc::pace();
        }
    }
    Err(NoPit)
}

/// Busy-wait steps (`tsc::pace`) between two polls of port 0x61.
const POLL_PACE: u32 = 4;
