//! The physical frame allocator: allocate everything, free everything.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::vec::Vec;
use gmpos::testing::mem::frame;

gmpos::qemu_test! {
    config: "
        smp=1
        mem=256M
    ",
}

#[gmpos::test]
fn allocate_all_free_all() {
    let (total, free0) = frame::stats();
    let mut frames = Vec::with_capacity(free0 as usize);
    while let Some(f) = frame::alloc() {
        // No frame below 1 MiB (frame 0, BIOS data, the AP trampoline).
        assert!(
            f.start_address().as_u64() >= frame::LOW_MEMORY_END,
            "low frame handed out"
        );
        frames.push(f);
    }
    let (_, free_empty) = frame::stats();
    assert_eq!(free_empty, 0, "allocator returned None with frames left");
    assert_eq!(
        frames.len() as u64,
        free0,
        "allocated count differs from the free counter"
    );
    // Every frame is distinct.
    let mut sorted: Vec<u64> = frames.iter().map(|f| f.start_address().as_u64()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), frames.len(), "a frame was handed out twice");
    for f in frames.drain(..) {
        // SAFETY: just allocated above, never mapped.
        unsafe { frame::free(f) };
    }
    let (total1, free1) = frame::stats();
    assert_eq!((total1, free1), (total, free0), "counters did not return");
    // Freed frames are handed out again.
    let f = frame::alloc().expect("no frame after freeing all");
    // SAFETY: just allocated.
    unsafe { frame::free(f) };
    gmpos::test_note!("allocated and freed {} frames of {}", free0, total);
}
