//! Closing a closed channel panics with Go's message (expected-failure
//! test): `panic: close of closed channel`, exit status 2.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::{Chan, chan};

gmpos::qemu_test! {
    config: "
        smp=1
        expect=panic: close of closed channel
    ",
}

#[gmpos::test]
fn close_of_closed_channel() {
    let c: Chan<u32> = chan(0);
    c.close();
    c.close();
}
