//! A page fault on an unmapped address is reported with that address
//! (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=1
        expect=page fault at address 0x00000deadbeef000: page not present on write
    ",
}

#[gmpos::test]
fn write_to_unmapped_address() {
    let p = 0x0dea_dbee_f000 as *mut u64;
    // SAFETY: not sound at all: this test exists to fault.
    unsafe { p.write_volatile(7) };
}
