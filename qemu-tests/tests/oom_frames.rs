//! Physical memory running out under goroutines (`-m 128M`, each parked
//! goroutine holding a stack page and a share of a page table) ends in
//! Go's `fatal error: runtime: out of memory` with the frame, heap and
//! stack counters, status 2: never a hang or a triple fault
//! (expected-failure test).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::{Duration, go, sleep};

gmpos::qemu_test! {
    config: "
        smp=1,2
        mem=128M
        args=traceback=single
        timeout=120
        expect=fatal error: runtime: out of memory
        expect=^runtime: out of memory: no frame for
        expect=^runtime: frames 
        expect=^runtime: goroutine stacks
        expect=goroutine 1 [running]:
    ",
}

#[gmpos::test]
fn spawn_until_frames_run_out() {
    // 128 MiB holds fewer than 30,000 frames: a million sleepers cannot fit.
    for _ in 0..1_000_000 {
        go(|| sleep(Duration::from_secs(3600)));
    }
    panic!("1,000,000 goroutines fit in 128 MiB: the out-of-memory path was not reached");
}
