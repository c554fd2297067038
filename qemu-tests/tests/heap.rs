//! The kernel heap: many allocations and frees of mixed sizes.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::vec::Vec;
use gmpos::testing::mem::heap;
use qemu_tests::Rng;

gmpos::qemu_test! {
    config: "
        smp=1
        args=heap=32M
    ",
}

#[gmpos::test]
fn heap_100k_mixed() {
    let before = heap::stats();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<Vec<u8>> = Vec::with_capacity(1024);
    let mut checksum = 0u64;
    for i in 0..100_000u64 {
        // Sizes from 1 byte to 16 KiB, skewed small like real programs.
        let r = rng.next();
        let size = match r % 10 {
            0..=5 => (r >> 8) % 64 + 1,
            6..=8 => (r >> 8) % 1024 + 1,
            _ => (r >> 8) % 16384 + 1,
        } as usize;
        let mut v = Vec::with_capacity(size);
        v.resize(size, (i & 0xff) as u8);
        checksum = checksum.wrapping_add(v[size - 1] as u64);
        live.push(v);
        // Free a random live block about as often as we allocate.
        if live.len() > 512 || rng.next().is_multiple_of(2) {
            let idx = (rng.next() % live.len() as u64) as usize;
            let v = live.swap_remove(idx);
            assert!(v.iter().all(|&b| b == v[0]), "heap block corrupted");
        }
    }
    drop(live);
    let after = heap::stats();
    assert_eq!(
        after.in_use, before.in_use,
        "heap bytes in use did not return to the starting value"
    );
    assert!(
        after.allocs - before.allocs >= 100_000,
        "fewer allocations counted than made"
    );
    assert_eq!(
        after.allocs - before.allocs,
        after.frees - before.frees,
        "allocs and frees differ"
    );
    gmpos::test_note!(
        "100000 mixed allocations: {} allocs, {} frees, checksum {checksum}",
        after.allocs - before.allocs,
        after.frees - before.frees
    );
}

#[gmpos::test]
fn heap_size_from_cmdline() {
    assert_eq!(heap::stats().size, 32 << 20, "heap=32M not honoured");
}

/// Small objects freed in bulk stay in the size-class free lists (`cached`);
/// a large block that only fits once they are merged back must still be
/// served: the allocator drains the central lists into the first-fit heap
/// before it reports out of memory.
#[gmpos::test]
fn heap_cached_small_objects_serve_a_large_block() {
    const OBJ: usize = 64;
    let before = heap::stats();
    // 3/4 of the heap in 64-byte objects, chained through their first word
    // (a Vec of them would itself be a large block).
    let count = (heap::stats().size as usize / 4 * 3) / OBJ;
    let mut head: Option<alloc::boxed::Box<[usize; OBJ / 8]>> = None;
    for i in 0..count {
        let mut b = alloc::boxed::Box::new([i; OBJ / 8]);
        b[0] = head.map_or(0, |h| alloc::boxed::Box::into_raw(h) as usize);
        head = Some(b);
    }
    let mid = heap::stats();
    assert!(
        mid.in_use - before.in_use >= (count * OBJ) as u64,
        "in_use did not count the objects"
    );
    let mut freed = 0;
    while let Some(b) = head.take() {
        if b[0] != 0 {
            // SAFETY (test): b[0] came from Box::into_raw above.
            head = Some(unsafe { alloc::boxed::Box::from_raw(b[0] as *mut [usize; OBJ / 8]) });
        }
        drop(b);
        freed += 1;
    }
    assert_eq!(freed, count);
    let cached = heap::stats().cached;
    // Half the heap in one block: only possible from the drained objects.
    let big: alloc::vec::Vec<u8> = alloc::vec![7u8; heap::stats().size as usize / 2];
    assert_eq!(big[big.len() - 1], 7);
    let after = heap::stats();
    gmpos::test_note!(
        "{count} x {OBJ} B freed: {} KiB cached; then a {} KiB block (cached now {} KiB)",
        cached >> 10,
        big.len() >> 10,
        after.cached >> 10
    );
    drop(big);
    assert_eq!(heap::stats().in_use, before.in_use, "heap bytes leaked");
}
