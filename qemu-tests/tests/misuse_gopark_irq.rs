//! `gopark` from an interrupt handler is a named fatal error (expected-failure
//! test). The interrupt is a software `int` to a vector whose handler parks.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::sched::WaitReason;

gmpos::qemu_test! {
    config: "
        smp=1
        expect=fatal error: gopark called from an interrupt handler
    ",
}

const VECTOR: u8 = 0x70;

fn handler(_frame: &mut TrapFrame) {
    gmpos::testing::sched::gopark(None, WaitReason::Park);
}

#[gmpos::test]
fn gopark_in_interrupt_handler() {
    trap::register(VECTOR, handler);
    // SAFETY: vector 0x70 has a handler registered just above.
    unsafe { core::arch::asm!("int 0x70") };
}
