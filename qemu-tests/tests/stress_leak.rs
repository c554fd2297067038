//! The stress run's leak check can fail (status 2): `stressbug=leak`
//! leaves one goroutine parked forever on a channel after the rounds, and
//! the check must name it (and its channel's heap bytes) and dump it.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=2
        args=stress seed=5 secs=1 stressbug=leak slice=1ms
        timeout=120
        expect=panic: stress: leak after the run: goroutines +1
        expect=[chan receive]
    ",
}

#[gmpos::test]
fn a_leaked_goroutine_is_caught() {
    gmpos::stress::run(&gmpos::config().stress);
}
