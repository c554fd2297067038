//! The gmpos kernel that `make run` boots: the banner, then a short demo of
//! the scheduler (goroutines on every CPU, a WaitGroup, sleep, preemption of
//! a spinning goroutine), the scheduler and memory statistics. With `exit`
//! on the command line it powers off afterwards; otherwise it stays up.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::time::{Instant, sleep};
use gmpos::{WaitGroup, go, println};

gmpos::kernel_main!(main);

fn main() {
    println!(
        "main: goroutine {} on {} CPU(s), gomaxprocs {}",
        gmpos::current_goid(),
        gmpos::num_cpu(),
        gmpos::gomaxprocs()
    );

    // 10,000 goroutines, each adding to a counter.
    let t = Instant::now();
    let wg = Arc::new(WaitGroup::new());
    let sum = Arc::new(AtomicU64::new(0));
    wg.add(10_000);
    for i in 0..10_000u64 {
        let (w, s) = (wg.clone(), sum.clone());
        go(move || {
            s.fetch_add(i, Ordering::Relaxed);
            w.done();
        });
    }
    wg.wait();
    println!(
        "demo: 10000 goroutines summed to {} in {:?}",
        sum.load(Ordering::Relaxed),
        t.elapsed()
    );

    // A goroutine that never yields cannot starve a sleeper: the timer
    // interrupt preempts it.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    go(move || {
        let mut x = 0u64;
        while !s.load(Ordering::Relaxed) {
            x = x.wrapping_add(1);
        }
        core::hint::black_box(x);
    });
    let t = Instant::now();
    for _ in 0..10 {
        sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    println!(
        "demo: 10 x sleep(1ms) next to a spinning goroutine took {:?}",
        t.elapsed()
    );

    gmpos::sched::dump::print_sched_state();
    gmpos::mem::print_stats();
    gmpos::sched::dump::print_stack_stats();
    if !gmpos::config().exit {
        println!("gmpos: demo done; staying up (boot with ARGS=exit to power off)");
        loop {
            sleep(Duration::from_secs(3600));
        }
    }
}
