//! A negative WaitGroup counter is Go's panic, with Go's first line
//! (`panic: sync: negative WaitGroup counter`) and exit status 2
//! (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=1
        expect=panic: sync: negative WaitGroup counter
    ",
}

#[gmpos::test]
fn negative_waitgroup_counter() {
    let wg = gmpos::WaitGroup::new();
    wg.add(1);
    wg.done();
    // One done too many.
    core::hint::black_box(&wg).done();
    gmpos::println!("unreachable: done() on a zero counter returned");
}
