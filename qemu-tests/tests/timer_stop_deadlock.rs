//! A goroutine receiving forever from a stopped timer's channel is in a
//! deadlock once nothing else can run: the stopped timer is gone, so no
//! pending timer keeps the check quiet (Go reports it too). Expected
//! failure: Go's message and main's dump line, status 2.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::{Duration, Timer};

gmpos::qemu_test! {
    config: "
        smp=1,2
        expect=fatal error: all goroutines are asleep - deadlock!
        expect=goroutine 1 [chan receive]:
    ",
}

#[gmpos::test]
fn receiving_from_a_stopped_timer_deadlocks() {
    let t = Timer::new(Duration::from_secs(3600));
    assert!(t.stop(), "the timer was pending");
    // Nothing will ever be sent: Go 1.23's stop guarantees no stale value.
    t.c().recv();
    unreachable!("a stopped timer fired");
}
