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

/// The PIT's output never went high: there is no PIT (or no port 0x61).
#[derive(Debug, Clone, Copy)]
pub struct NoPit;

/// Times a window of `us` microseconds (at most [`MAX_WINDOW_US`]) with
/// channel 2 in mode 0 (interrupt on terminal count): `sample` is called
/// right after the countdown starts and right after it ends, and both
/// results are returned with the window's exact length in nanoseconds
/// (whole PIT ticks).
pub fn window<T>(us: u64, mut sample: impl FnMut() -> T) -> Result<(T, T, u64), NoPit> {
    let ticks = (us * PIT_HZ / 1_000_000).clamp(1, 0xffff);
    let mut port_b = Port::<u8>::new(PORT_B);
    let mut cmd = Port::<u8>::new(COMMAND);
    let mut ch2 = Port::<u8>::new(CHANNEL2);
    // SAFETY: the PC's fixed PIT and port-B registers; only boot code uses
    // channel 2 and the speaker stays off.
    let (start, end) = unsafe {
        let b = port_b.read();
        port_b.write((b & !SPEAKER) | GATE2);
        // Channel 2, lobyte/hibyte, mode 0, binary.
        cmd.write(0b1011_0000);
        ch2.write(ticks as u8);
        ch2.write((ticks >> 8) as u8);
        let start = sample();
        // A PIT that is there counts 0xffff ticks in 55 ms; a loop this long
        // takes far longer even on the fastest CPU, so running out means
        // there is no PIT.
        let mut spins = 0u64;
        while port_b.read() & OUT2 == 0 {
            spins += 1;
            if spins > 500_000_000 {
                return Err(NoPit);
            }
            core::hint::spin_loop();
        }
        let end = sample();
        port_b.write(b & !(SPEAKER | GATE2));
        (start, end)
    };
    Ok((start, end, ticks * 1_000_000_000 / PIT_HZ))
}
