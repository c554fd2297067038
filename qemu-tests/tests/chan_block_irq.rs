//! A blocking channel operation in an interrupt handler is the named fatal
//! error, not a hang (expected-failure test); `try_recv` on the same
//! channel from the same handler works first.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, Ordering};

use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::{Chan, TryRecvError, chan_from_interrupts};

gmpos::qemu_test! {
    config: "
        smp=1
        expect=fatal error: chan receive called from an interrupt handler
    ",
}

const VECTOR: u8 = 0x70;
static CH: AtomicPtr<Chan<u32>> = AtomicPtr::new(core::ptr::null_mut());

fn handler(_frame: &mut TrapFrame) {
    // SAFETY: set (leaked) before the interrupt is raised.
    let ch = unsafe { &*CH.load(Ordering::Acquire) };
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    ch.recv();
}

#[gmpos::test]
fn blocking_receive_in_interrupt_handler() {
    let ch: &'static Chan<u32> = Box::leak(Box::new(chan_from_interrupts(0)));
    CH.store(ch as *const Chan<u32> as *mut Chan<u32>, Ordering::Release);
    trap::register(VECTOR, handler);
    // SAFETY: vector 0x70 has a handler registered just above.
    unsafe { core::arch::asm!("int 0x70") };
}
