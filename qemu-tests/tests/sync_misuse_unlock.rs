//! Unlocking an unlocked mutex is Go's fatal error, with Go's first line
//! (`fatal error: sync: unlock of unlocked mutex`) and exit status 2
//! (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=1
        expect=fatal error: sync: unlock of unlocked mutex
    ",
}

#[gmpos::test]
fn unlock_of_unlocked_mutex() {
    let m = gmpos::RawMutex::new();
    m.lock();
    m.unlock();
    // The second unlock is the misuse.
    core::hint::black_box(&m).unlock();
    gmpos::println!("unreachable: the second unlock returned");
}
