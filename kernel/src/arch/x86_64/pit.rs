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

/// The longest square-wave period (16-bit counter).
pub const MAX_PERIOD_US: u64 = 0xffff * 1_000_000 / PIT_HZ;

/// The PIT's output never changed: there is no PIT (or no port 0x61).
#[derive(Debug, Clone, Copy)]
pub struct NoPit;

/// Channel 2 running as a square wave (mode 3): its output, read from port
/// 0x61, rises once per period. Stopped (gate off) when dropped.
pub struct SquareWave {
    ticks: u64,
    saved_port_b: u8,
}

impl SquareWave {
    /// Starts a square wave of period `us` microseconds (at most
    /// [`MAX_PERIOD_US`]).
    pub fn start(us: u64) -> SquareWave {
        // Even, so that both halves are whole ticks (see `phase`).
        let ticks = (us * PIT_HZ / 1_000_000).clamp(2, 0xfffe) & !1;
        let mut port_b = Port::<u8>::new(PORT_B);
        let mut cmd = Port::<u8>::new(COMMAND);
        let mut ch2 = Port::<u8>::new(CHANNEL2);
        // SAFETY: the PC's fixed PIT and port-B registers; only boot code
        // uses channel 2, and the speaker stays off.
        let saved_port_b = unsafe {
            let b = port_b.read();
            port_b.write((b & !SPEAKER) | GATE2);
            // Channel 2, lobyte/hibyte, mode 3 (square wave), binary.
            cmd.write(0b1011_0110);
            ch2.write(ticks as u8);
            ch2.write((ticks >> 8) as u8);
            b
        };
        SquareWave {
            ticks,
            saved_port_b,
        }
    }

    /// The period in PIT ticks (of 1/`PIT_HZ` s).
    pub fn period_ticks(&self) -> u64 {
        self.ticks
    }

    /// Ticks since the last rising edge of the output (0..period), read
    /// with the read-back command, which latches the output level and the
    /// count together. In mode 3 the count runs down by 2 per tick from the
    /// period, twice per period, with the output high during the first run.
    pub fn phase(&self) -> u64 {
        let mut cmd = Port::<u8>::new(COMMAND);
        let mut ch2 = Port::<u8>::new(CHANNEL2);
        // SAFETY: read-back of channel 2 (count and status latched), then
        // status, count low and high bytes: reading only consumes latches.
        let (status, lo, hi) = unsafe {
            cmd.write(0b1100_1000);
            (ch2.read(), ch2.read(), ch2.read())
        };
        let count = (u16::from_le_bytes([lo, hi]) as u64).min(self.ticks);
        let half = (self.ticks - count) / 2;
        if status & 0x80 != 0 {
            half
        } else {
            self.ticks / 2 + half
        }
    }

    /// Is the output high now?
    pub fn high(&self) -> bool {
        // SAFETY: reading port B has no side effect.
        unsafe { Port::<u8>::new(PORT_B).read() & OUT2 != 0 }
    }

    /// Waits until the output is `high`. `tight` polls as fast as the port
    /// allows (to time an edge); otherwise the CPU spins a little between
    /// polls (port accesses are slow under emulation, very slow under
    /// QEMU's icount).
    pub fn wait(&self, high: bool, tight: bool) -> Result<(), NoPit> {
        // A PIT that is there toggles within 55 ms; this many polls take far
        // longer on any CPU, so running out means there is no PIT.
        for _ in 0..20_000_000u64 {
            if self.high() == high {
                return Ok(());
            }
            if tight {
                core::hint::spin_loop();
            } else {
                for _ in 0..4 {
                    super::tsc::pace();
                }
            }
        }
        Err(NoPit)
    }
}

impl Drop for SquareWave {
    fn drop(&mut self) {
        // SAFETY: as in `start`: gate off, speaker off.
        unsafe { Port::<u8>::new(PORT_B).write(self.saved_port_b & !(SPEAKER | GATE2)) };
    }
}
