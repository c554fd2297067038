//! A Rust panic inside a goroutine prints Go's report (`panic: <message>`,
//! then `goroutine N [running]:` with the entry function) and exits with
//! status 2 (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;

gmpos::qemu_test! {
    config: "
        smp=1
        expect=goroutine 2 [running]:
    ",
}

#[gmpos::test]
fn panic_in_goroutine() {
    let wg = Arc::new(gmpos::WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    gmpos::go(move || {
        let v: [u32; 3] = core::hint::black_box([1, 2, 3]);
        if v[1] == 2 {
            panic!("boom in a goroutine");
        }
        w.done();
    });
    wg.wait();
}
