//! Deadlock detection (Go's `checkdead`, issue 12; the lead's part): `main`
//! receiving on a channel nobody sends on is `fatal error: all goroutines
//! are asleep - deadlock!` with the dump of every user goroutine
//! (`goroutine 1 [chan receive]:`), exit status 2 (expected-failure test:
//! the fatal line, then main's dump line, then goroutine 2's).
//! Before it, a goroutine blocked forever while `main` sleeps (a pending
//! timer will ready `main`) is not a deadlock, and neither is one waiting
//! on a channel interrupt handlers feed.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::boxed::Box;

use gmpos::{Chan, Duration, chan, chan_from_interrupts, go, sleep};

gmpos::qemu_test! {
    config: "
        smp=1,2
        expect=fatal error: all goroutines are asleep - deadlock!
        expect=goroutine 1 [chan receive]:
        expect=goroutine 2 [chan receive]:
    ",
}

#[gmpos::test]
fn blocked_goroutine_while_main_sleeps_is_no_deadlock() {
    let c: &'static Chan<u32> = Box::leak(Box::new(chan(0)));
    go(move || {
        c.recv();
    });
    // Everything else is asleep, but main's timer is pending.
    sleep(Duration::from_millis(50));
}

#[gmpos::test]
fn waiting_on_an_interrupt_fed_channel_is_no_deadlock() {
    let irq: &'static Chan<u32> = Box::leak(Box::new(chan_from_interrupts(1)));
    let done: &'static Chan<()> = Box::leak(Box::new(chan(0)));
    go(move || {
        assert_eq!(irq.recv(), None);
        done.send(());
    });
    sleep(Duration::from_millis(50));
    // Close wakes the waiter (None), which reports back: it must not stay
    // parked as an external waiter, or the deadlock below would never be
    // reported.
    irq.close();
    done.recv();
}

#[gmpos::test]
fn main_receiving_from_nobody_deadlocks() {
    let c: Chan<u32> = chan(0);
    c.recv();
}
