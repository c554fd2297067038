//! The CPU profiler (`prof=1000`) on a kernel that spins in one function:
//! `make test-trace` checks on the host (`gmpos-trace prof --expect-top`)
//! that the symbolised profile's top function is that loop.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::Instant;
use gmpos::testing::hw::now_ns;

gmpos::qemu_test! {
    config: "
        smp=1
        args=prof=1000
        timeout=120
    ",
}

/// The loop the profile must find on top: plain arithmetic, no calls but
/// the clock every 4096 rounds, so nearly every sample lands in it.
#[inline(never)]
fn prof_spin_loop(ms: u64) -> u64 {
    let end = now_ns() + ms * 1_000_000;
    let mut x = 1u64;
    while now_ns() < end {
        let mut i = 0;
        while i < 4096 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
            i += 1;
        }
    }
    x
}

#[gmpos::test]
fn spin_is_profiled() {
    let t = Instant::now();
    core::hint::black_box(prof_spin_loop(400));
    assert!(t.elapsed().as_millis() >= 400);
}
