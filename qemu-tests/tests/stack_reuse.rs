//! Free-G reuse bounds stack memory: 1,000,000 goroutines spawned in batches
//! of 1,000, each touching 12 KiB of stack (growing to 16 KiB), keep the
//! mapped stack bounded. One configuration: this is the slow one (~30 s).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use gmpos::testing::sched::stack::{self, STATS};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=2
        timeout=180
    ",
}

#[gmpos::test]
fn million_goroutines_bounded_stack() {
    let peak0 = STATS.peak.load(Ordering::Relaxed);
    let mapped0 = stack::mapped_bytes();
    for _ in 0..1000 {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1000);
        for j in 0..1000u64 {
            let w = wg.clone();
            go(move || {
                // Touch 12 KiB of stack.
                let mut buf = [0u8; 12 * 1024];
                buf[j as usize % 12288] = 1;
                core::hint::black_box(&mut buf);
                w.done();
            });
        }
        wg.wait();
    }
    let mapped = stack::mapped_bytes();
    let peak = STATS.peak.load(Ordering::Relaxed);
    gmpos::test_note!(
        "1000000 goroutines x 12 KiB: stack mapped {} KiB before, {} KiB after, peak {} MiB (was {} MiB)",
        mapped0 / 1024,
        mapped / 1024,
        peak >> 20,
        peak0 >> 20
    );
    // ~1,000 goroutines alive at a time with 16 KiB each, plus free-list
    // slack: far below one window per goroutine ever spawned.
    assert!(
        mapped < 64 << 20,
        "mapped stack not bounded: {mapped} bytes"
    );
}
