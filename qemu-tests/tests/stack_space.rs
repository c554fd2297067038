//! Running out of goroutine stack address space is a named fatal error
//! (status 2), not a wrap into other mappings: `stackspace=4M` with
//! `maxstack=64K` holds 64 windows; goroutines that stay alive take one
//! each until the 65th spawn finds none (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::sched::stack;
use gmpos::{Duration, go, sleep};

gmpos::qemu_test! {
    config: "
        smp=2
        args=maxstack=64K stackspace=4M
        expect=fatal error: out of memory: no goroutine stack address space left: all 64 windows of 65536 bytes (maxstack=) in use, stackspace=4194304 bytes
        expect=goroutine 1 [running]:
    ",
}

#[gmpos::test]
fn spawn_past_the_stack_region() {
    assert_eq!(stack::max_windows(), 64);
    // Sleepers keep their windows (and keep checkdead quiet: a timer will
    // wake them); main itself holds the first window.
    for _ in 0..100 {
        go(|| sleep(Duration::from_secs(3600)));
    }
    panic!(
        "100 goroutines spawned in {} windows: the region's end was not enforced",
        stack::max_windows()
    );
}
