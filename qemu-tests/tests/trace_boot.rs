//! A small traced boot (`trace=1`): goroutines that block on channels and
//! timers, ready each other, get stolen by the other CPU and preempted,
//! and a GOMAXPROCS change. The kernel side only makes the events; the
//! stream is checked on the host by `make test-trace` (`gmpos-trace
//! check`: the stream ended, nothing dropped, every start has an end,
//! per-CPU slices never overlap, unblock flows go from the readier,
//! steals name a real victim, the JSON parses).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::time::Duration;

use gmpos::{Instant, WaitGroup, chan, go, gosched, set_gomaxprocs, sleep};

gmpos::qemu_test! {
    config: "
        smp=2
        args=trace=1 slice=1ms
        timeout=120
    ",
}

/// Ping-pong over channels (unblock flows), a fan-out that the idle CPU
/// steals from, sleepers (timer fires), spinners (preemptions).
#[gmpos::test]
fn traced_workload() {
    let (ping, pong) = (chan::<u32>(0), chan::<u32>(0));
    let (p2, q2) = (ping.clone(), pong.clone());
    let echo = go(move || {
        for _ in 0..50 {
            let v = p2.recv().unwrap();
            q2.send(v + 1);
        }
    });
    assert!(echo > 1);
    for i in 0..50 {
        ping.send(i);
        assert_eq!(pong.recv(), Some(i + 1));
    }
    let wg = Arc::new(WaitGroup::new());
    for i in 0..16u64 {
        wg.add(1);
        let wg = wg.clone();
        go(move || {
            if i % 4 == 0 {
                sleep(Duration::from_millis(1 + i / 4));
            }
            // A few ms of work: long enough to be preempted (slice=1ms).
            let t = Instant::now();
            let mut x = i;
            while t.elapsed() < Duration::from_millis(3) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            }
            core::hint::black_box(x);
            gosched();
            wg.done();
        });
    }
    wg.wait();
    let old = set_gomaxprocs(1);
    assert_eq!(old, 2);
    set_gomaxprocs(old);
}
