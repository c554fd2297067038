//! The watchdog's lost-wake-up check on a channel (expected failure,
//! status 2): a test hook makes the send that finds a parked receiver hand
//! over its value and dequeue it but never ready it; the watchdog
//! (`watchdog=1`) finds the receiver parked, no longer queued on its
//! channel, for several scans and progress epochs, and names it.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::{nwaiting, watchdog_lose_next_wakeup};
use gmpos::{chan, go, gosched};

gmpos::qemu_test! {
    config: "
        smp=2
        args=watchdog=1 slice=1ms
        timeout=60
        expect=fatal error: watchdog: lost wake-up: goroutine 2 [chan receive]: channel: dequeued by its partner but never readied (it could proceed for
    ",
}

#[gmpos::test]
fn lost_channel_wakeup_is_named() {
    let ch = chan::<u64>(0);
    let rx = ch.clone();
    go(move || {
        let v = rx.recv();
        gmpos::println!("unreachable: the receiver was woken with {v:?}");
    });
    while nwaiting() == 0 {
        gosched();
    }
    watchdog_lose_next_wakeup();
    ch.send(7);
    // Busy (not parked): the tick keeps scanning.
    let deadline = now_ns() + 5_000_000_000;
    while now_ns() < deadline {
        core::hint::spin_loop();
    }
    panic!("watchdog did not report the lost wake-up");
}
