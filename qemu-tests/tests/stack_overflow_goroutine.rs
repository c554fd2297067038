//! Recursing past `maxstack=64K` ends in Go's stack-overflow report
//! (expected-failure test: checks the text and exit status 2).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;

gmpos::qemu_test! {
    config: "
        smp=1,2
        args=maxstack=64K
        expect=stack overflow: limit 65536 bytes (used
    ",
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let mut buf = [0u8; 512];
    buf[(n % 512) as usize] = n as u8;
    core::hint::black_box(&mut buf);
    recurse(n + 1) + buf[0] as u64
}

#[gmpos::test]
fn recurse_past_limit() {
    let wg = Arc::new(gmpos::WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    gmpos::go(move || {
        core::hint::black_box(recurse(0));
        w.done();
    });
    wg.wait();
}
