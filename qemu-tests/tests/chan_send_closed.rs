//! A send on a closed channel panics with Go's message (expected-failure
//! test): `panic: send on closed channel`, exit status 2.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::{Chan, chan};

gmpos::qemu_test! {
    config: "
        smp=1
        expect=panic: send on closed channel
    ",
}

#[gmpos::test]
fn send_on_closed_channel() {
    let c: Chan<u32> = chan(1);
    c.close();
    c.send(1);
}
