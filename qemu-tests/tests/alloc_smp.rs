//! The heap and the frame allocator hammered from every CPU at once
//! (issue 3): no block or frame is handed out twice, contents survive, and
//! the counters add up afterwards.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

mod common;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::layout::phys_to_virt;
use gmpos::mem::{frame, heap};
use qemu_tests::Rng;

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        args=heap=64M
        timeout=120
    ",
    cases: [heap_from_all_cpus, frames_from_all_cpus],
}

static OPS: AtomicU64 = AtomicU64::new(0);

fn heap_share(cpu: usize) {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ ((cpu as u64 + 1) * 0x1234_5678));
    let mut live: Vec<Vec<u8>> = Vec::with_capacity(256);
    let tag = cpu as u8 + 1;
    for i in 0..20_000u64 {
        let r = rng.next();
        let size = match r % 8 {
            0..=4 => (r >> 8) % 64 + 1,
            5..=6 => (r >> 8) % 1024 + 1,
            _ => (r >> 8) % 8192 + 1,
        } as usize;
        let mut v = Vec::with_capacity(size);
        v.resize(size, tag ^ (i as u8));
        live.push(v);
        if live.len() > 200 || rng.next().is_multiple_of(2) {
            let v = live.swap_remove((rng.next() % live.len() as u64) as usize);
            assert!(
                v.iter().all(|&b| b == v[0]),
                "cpu {cpu}: a heap block was overwritten"
            );
        }
    }
    for v in live.drain(..) {
        assert!(
            v.iter().all(|&b| b == v[0]),
            "cpu {cpu}: a heap block was overwritten"
        );
    }
    OPS.fetch_add(20_000, Ordering::Relaxed);
}

fn heap_from_all_cpus() {
    let n = gmpos::arch::smp::ncpu() as u64;
    common::wait_for_all_ms();
    OPS.store(0, Ordering::Relaxed);
    let before = heap::stats();
    let t0 = gmpos::time::now_ns();
    common::on_all_cpus(heap_share);
    let ms = (gmpos::time::now_ns() - t0) / 1_000_000;
    let after = heap::stats();
    assert_eq!(OPS.load(Ordering::Relaxed), 20_000 * n);
    assert_eq!(
        after.in_use, before.in_use,
        "heap bytes in use did not come back ({:?} before, {:?} after)",
        before, after
    );
    let allocs = after.allocs - before.allocs;
    let frees = after.frees - before.frees;
    assert_eq!(allocs, frees, "allocs and frees differ");
    assert!(
        allocs >= 20_000 * n,
        "{allocs} allocations counted for {} made",
        20_000 * n
    );
    gmpos::test_note!(
        "{n} CPUs x 20000 mixed allocations at once: {allocs} allocs, {frees} frees in {ms} ms"
    );
}

fn frames_share(cpu: usize) {
    let tag = 0xf00d_0000_0000_0000 | (cpu as u64) << 32;
    let mut held = Vec::with_capacity(128);
    for round in 0..100u64 {
        for k in 0..128u64 {
            let f = frame::alloc().expect("out of frames");
            let pa = f.start_address().as_u64();
            // SAFETY: the frame is ours until freed below; it is mapped at
            // PHYS_OFFSET.
            unsafe { (phys_to_virt(pa) as *mut u64).write_volatile(tag | round << 8 | k) };
            held.push(f);
        }
        for (k, f) in held.iter().enumerate() {
            let pa = f.start_address().as_u64();
            // SAFETY: as above.
            let v = unsafe { (phys_to_virt(pa) as *const u64).read_volatile() };
            assert_eq!(
                v,
                tag | round << 8 | k as u64,
                "cpu {cpu}: frame {pa:#x} was handed out twice"
            );
        }
        for f in held.drain(..) {
            // SAFETY: allocated above, never mapped anywhere.
            unsafe { frame::free(f) };
        }
    }
    OPS.fetch_add(100 * 128, Ordering::Relaxed);
}

fn frames_from_all_cpus() {
    let n = gmpos::arch::smp::ncpu() as u64;
    common::wait_for_all_ms();
    OPS.store(0, Ordering::Relaxed);
    let (total, free0) = frame::stats();
    let t0 = gmpos::time::now_ns();
    common::on_all_cpus(frames_share);
    let ms = (gmpos::time::now_ns() - t0) / 1_000_000;
    let (total1, free1) = frame::stats();
    assert_eq!(OPS.load(Ordering::Relaxed), 12_800 * n);
    assert_eq!(
        (total1, free1),
        (total, free0),
        "frame counters did not come back"
    );
    gmpos::test_note!(
        "{n} CPUs x 12800 frame allocations and frees at once in {ms} ms; {free1} of {total1} free"
    );
}
