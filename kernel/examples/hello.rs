//! The smallest goroutine program: `make run EXAMPLE=hello`.
//!
//! Ten goroutines each sleep a little and report; `main` waits for all of
//! them with a WaitGroup (Go: `sync.WaitGroup`), then returns, which powers
//! the machine off with status 0, like a Go program whose main returns.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use gmpos::{Duration, WaitGroup, go, println, sleep};

gmpos::kernel_main!(main);

fn main() {
    println!(
        "hello: {} CPUs, gomaxprocs {}",
        gmpos::num_cpu(),
        gmpos::gomaxprocs()
    );
    let wg = Arc::new(WaitGroup::new());
    for i in 0..10u64 {
        wg.add(1);
        let wg = wg.clone();
        go(move || {
            sleep(Duration::from_millis(10 * (10 - i)));
            println!("goroutine {i} woke after {} ms", 10 * (10 - i));
            wg.done();
        });
    }
    wg.wait();
    println!("hello: all {} goroutines done", 10);
}
