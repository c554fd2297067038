//! The legacy 8259 PICs: remapped away from the exception vectors (a
//! spurious IRQ 7/15 must not look like a #DF) and fully masked. gmpos uses
//! the local APIC and the IOAPIC.
use ::x86_64::instructions::port::Port;

/// Vectors the PICs are remapped to (masked, so only spurious IRQs can come).
pub const PIC_BASE: u8 = 0x20;

pub fn disable() {
    let mut cmd1 = Port::<u8>::new(0x20);
    let mut data1 = Port::<u8>::new(0x21);
    let mut cmd2 = Port::<u8>::new(0xa0);
    let mut data2 = Port::<u8>::new(0xa1);
    // SAFETY: the standard 8259 initialisation sequence (ICW1-ICW4) on the
    // PC's fixed PIC ports, followed by masking every line.
    unsafe {
        cmd1.write(0x11);
        cmd2.write(0x11);
        data1.write(PIC_BASE);
        data2.write(PIC_BASE + 8);
        data1.write(4);
        data2.write(2);
        data1.write(1);
        data2.write(1);
        data1.write(0xff);
        data2.write(0xff);
    }
}
