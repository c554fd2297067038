//! A null dereference inside a goroutine is reported as a page fault that
//! names the goroutine (expected-failure test).
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
fn null_pointer_in_goroutine() {
    let wg = Arc::new(gmpos::WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    gmpos::go(move || {
        let p: *const u64 = core::hint::black_box(core::ptr::null());
        // SAFETY: not sound: this test exists to fault.
        let v = unsafe { p.read_volatile() };
        core::hint::black_box(v);
        w.done();
    });
    wg.wait();
}
