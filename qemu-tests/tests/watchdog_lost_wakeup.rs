//! The watchdog's lost-wake-up check fires (expected failure, status 2): a
//! test hook makes the `semrelease` of `WaitGroup::done` add its unit and
//! wake no one, so the waiter stays parked although its WaitGroup is at 0
//! and its semaphore has a unit; the watchdog (`watchdog=1`) reads both
//! from the primitives' own state and names the goroutine.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::{nwaiting, watchdog_lose_next_wakeup};
use gmpos::{WaitGroup, go, gosched};

gmpos::qemu_test! {
    config: "
        smp=2
        args=watchdog=1 slice=1ms
        timeout=60
        expect=fatal error: watchdog: lost wake-up: goroutine 2 [sync.WaitGroup.Wait]: semaphore has a unit while it is still queued (it could proceed for
    ",
}

#[gmpos::test]
fn lost_wakeup_is_named() {
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    go(move || w.wait());
    while nwaiting() == 0 {
        gosched();
    }
    watchdog_lose_next_wakeup();
    wg.done();
    // Busy (not parked): the tick keeps scanning.
    let deadline = now_ns() + 2_000_000_000;
    while now_ns() < deadline {
        core::hint::spin_loop();
    }
    panic!("watchdog did not report the lost wake-up");
}
