//! `gosched` while holding a runtime spin lock is a named fatal error, not a
//! deadlock (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::lock::SpinLock;

gmpos::qemu_test! {
    config: "
        smp=1
        expect=fatal error: gosched: holding locks
    ",
    cases: [gosched_holding_a_spin_lock],
}

static LOCK: SpinLock<u32> = SpinLock::new(0);

fn gosched_holding_a_spin_lock() {
    let mut guard = LOCK.lock();
    *guard += 1;
    gmpos::gosched();
    drop(guard);
}
