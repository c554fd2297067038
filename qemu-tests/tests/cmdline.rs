//! Command-line parsing in the booted kernel: good words take effect, bad
//! ones are reported and ignored (the pure parser is unit-tested on the host).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::cmdline;

gmpos::qemu_test! {
    config: "
        smp=1
        args=heap=24M maxstack=64K slice=200us log=warn bogus=1 heap=tiny slice=5 gomaxprocs=0 slice=abc maxstack=3K
    ",
}

#[gmpos::test]
fn good_and_bad_words() {
    let c = gmpos::config();
    assert_eq!(c.heap_size, 24 << 20);
    // `maxstack=3K` and `slice=abc` come later: rejected, the good values stay.
    assert_eq!(c.maxstack, 64 << 10);
    assert_eq!(c.slice_ns, 200_000);
    assert_eq!(c.log_level, cmdline::LogLevel::Warn);
    assert_eq!(c.gomaxprocs, None, "gomaxprocs=0 must be rejected");
    assert_eq!(gmpos::testing::mem::heap::stats().size, 24 << 20);
}
