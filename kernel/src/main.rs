//! The gmpos kernel that `make run` boots: the banner, then a short demo of
//! the scheduler (goroutines on every CPU, a WaitGroup, sleep, preemption of
//! a spinning goroutine), the scheduler and memory statistics. With `exit`
//! on the command line it powers off afterwards; otherwise it stays up.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use gmpos::{Duration, Instant, WaitGroup, go, println, sleep};

gmpos::kernel_main!(main);

fn main() {
    println!(
        "main: goroutine {} on {} CPU(s), gomaxprocs {}",
        gmpos::testing::sched::current_goid(),
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

    gmpos::testing::sched::print_sched_state();
    let ms = gmpos::read_mem_stats();
    println!(
        "demo: {} goroutines ({} allocated), {} KiB heap in use, {} KiB of stacks, {} of {} frames free",
        ms.goroutines,
        ms.goroutines_allocated,
        ms.heap_in_use >> 10,
        ms.stack_mapped >> 10,
        ms.frames_free,
        ms.frames_total
    );
    gmpos::print_stack();
    if !gmpos::config().exit {
        println!("gmpos: demo done; staying up (boot with ARGS=exit to power off)");
        loop {
            sleep(Duration::from_secs(3600));
        }
    }
}
