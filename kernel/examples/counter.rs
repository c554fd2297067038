//! Four goroutines increment one counter behind a `Mutex` (Go's
//! `sync.Mutex`, with its starvation mode), `main` waits with a
//! `WaitGroup`: `make run EXAMPLE=counter`. The README's `sync` snippet.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use gmpos::{Instant, Mutex, WaitGroup, go, println};

gmpos::kernel_main!(main);

fn main() {
    let t = Instant::now();
    let total = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..4 {
        wg.add(1); // before `go`, as in Go
        let (total, wg) = (total.clone(), wg.clone());
        go(move || {
            for _ in 0..50_000 {
                *total.lock() += 1; // the guard unlocks at the end of the statement
            }
            wg.done();
        });
    }
    wg.wait();
    let n = *total.lock();
    let s = total.stats();
    println!(
        "counter: {n} increments by 4 goroutines in {:?} ({:?})",
        t.elapsed(),
        s
    );
    assert_eq!(n, 200_000);
}
