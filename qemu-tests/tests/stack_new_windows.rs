//! Regression test: many CPUs creating goroutine stack windows at once.
//! A spawn tree (every goroutine spawns ten and waits for them) makes
//! every CPU allocate new windows concurrently, several sharing a page
//! table. The `x86_64` crate publishes a new table's parent entry before it
//! zeroes the table, so a CPU that checked for the table without the
//! page-table lock could skip creating it and write its top-page PTE into a
//! table that was then zeroed: the new goroutine's first push faulted on a
//! page not present. `mem::paging::ensure_tables` now checks and creates
//! under the lock (failed at -smp 2 and 4 within a second before).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=2,4
        mem=2G
        args=heap=256M
        timeout=120
    ",
}

fn tree(sum: Arc<AtomicU64>, num: u64, size: u64) {
    if size == 1 {
        sum.fetch_add(num, Ordering::Relaxed);
        return;
    }
    let sub = size / 10;
    let wg = Arc::new(WaitGroup::new());
    for i in 0..10 {
        wg.add(1);
        let (w, s) = (wg.clone(), sum.clone());
        go(move || {
            tree(s, num + i * sub, sub);
            w.done();
        });
    }
    wg.wait();
}

#[gmpos::test]
fn tree_100k() {
    let sum = Arc::new(AtomicU64::new(0));
    tree(sum.clone(), 0, 100_000);
    assert_eq!(sum.load(Ordering::Relaxed), 4_999_950_000);
}
