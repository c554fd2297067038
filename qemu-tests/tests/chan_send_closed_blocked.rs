//! A sender blocked on a channel that is then closed panics with Go's
//! message (expected-failure test): `panic: send on closed channel`, in the
//! sender's goroutine, exit status 2.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::sched::nwaiting;
use gmpos::{Chan, chan, go, gosched};

gmpos::qemu_test! {
    config: "
        smp=2
        expect=panic: send on closed channel
    ",
}

#[gmpos::test]
fn blocked_sender_then_close() {
    let c: Chan<u32> = chan(0);
    let waiting0 = nwaiting();
    let c2 = c.clone();
    go(move || c2.send(1));
    // The sender is parked in the channel's sendq before the close.
    while nwaiting() < waiting0 + 1 {
        gosched();
    }
    c.close();
    loop {
        gosched();
    }
}
