//! The kernel heap running out (`heap=2M`: each goroutine's G and a boxed
//! closure of 1 KiB live there) is the same named report as frames running
//! out: `fatal error: runtime: out of memory` and the failed block's size,
//! status 2 (expected-failure test), not Rust's bare allocation failure.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::{Duration, go, sleep};

gmpos::qemu_test! {
    config: "
        smp=2
        args=heap=2M traceback=single
        expect=fatal error: runtime: out of memory
        expect=^runtime: out of memory: cannot allocate a
        expect=^runtime: frames
        expect=^runtime: goroutine stacks
    ",
}

#[gmpos::test]
fn spawn_until_the_heap_runs_out() {
    for i in 0..1_000_000u64 {
        // Larger than a G's inline closure room: boxed on the heap.
        let big = [i; 128];
        go(move || {
            sleep(Duration::from_secs(3600));
            core::hint::black_box(big);
        });
    }
    panic!("1,000,000 goroutines with 1 KiB closures fit in a 2 MiB heap");
}
