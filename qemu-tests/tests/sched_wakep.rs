//! `wakep`'s hand-off of an idle P to its M (issue 10 D). Rounds of short
//! goroutines at -smp 4 with a delay injected inside `wakep`, between taking
//! the idle P and waking its M (the window where the old code had marked
//! the P busy but not yet its M spinning): afterwards `nmspinning` must match
//! the Ms really spinning, and new CPU-bound goroutines must spread over the
//! CPUs (a leaked `nmspinning` silences every later `wakep`).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::sleep;
use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::SCHED;
use gmpos::testing::sched::WAKEP_WINDOW_DELAY_NS;
use gmpos::{WaitGroup, go};

mod common;

gmpos::qemu_test! {
    config: "
        smp=4
        icount=0,1
        args=slice=100us
        timeout=300
    ",
}

/// Ms spinning right now, by their own flags.
fn spinning_ms() -> u32 {
    (0..gmpos::num_cpu())
        .filter(|&i| SCHED.idle.is_spinning(i))
        .count() as u32
}

#[gmpos::test]
fn wakeups_survive_a_stalled_wakep() {
    WAKEP_WINDOW_DELAY_NS.store(3_000, Ordering::Relaxed);
    let rounds = 3_000;
    for _ in 0..rounds {
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..8 {
            let w = wg.clone();
            wg.add(1);
            go(move || {
                let mut x = 0u64;
                for i in 0..200 {
                    x = core::hint::black_box(x.wrapping_add(i));
                }
                w.done();
            });
        }
        wg.wait();
    }
    WAKEP_WINDOW_DELAY_NS.store(0, Ordering::Relaxed);
    // Quiesce: every other CPU goes idle (main sleeps, nothing else runs).
    sleep(Duration::from_millis(20));
    // A wake-up in flight (main's own, from its sleep's timer) counts one M
    // in nmspinning until that M runs: look a few times. A leaked count
    // stays.
    let mut consistent = false;
    let (mut nm, mut real) = (0, 0);
    for _ in 0..50 {
        (nm, real) = (SCHED.idle.nmspinning(), spinning_ms());
        if nm <= real {
            consistent = true;
            break;
        }
        qemu_tests::spin_ns(1_000_000);
    }
    gmpos::test_note!(
        "after {rounds} rounds: nmspinning={nm}, spinning Ms={real}, idle Ps={}",
        SCHED.idle.npidle()
    );
    assert!(
        consistent,
        "nmspinning={nm} but only {real} M(s) spin: a leaked count silences wakep"
    );
    // Three CPU-bound goroutines must run in parallel on three CPUs.
    let stop = Arc::new(AtomicBool::new(false));
    let cpus = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..3 {
        let (s, c, w) = (stop.clone(), cpus.clone(), wg.clone());
        wg.add(1);
        go(move || {
            while !s.load(Ordering::Relaxed) {
                c.fetch_or(
                    1 << gmpos::testing::hw::percpu::cpu_index(),
                    Ordering::Relaxed,
                );
                core::hint::spin_loop();
            }
            w.done();
        });
    }
    let t0 = now_ns();
    while cpus.load(Ordering::Relaxed).count_ones() < 3 && now_ns() - t0 < 200_000_000 {
        sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    let seen = cpus.load(Ordering::Relaxed);
    gmpos::test_note!("CPU-bound goroutines ran on CPUs {seen:#b}");
    assert!(
        seen.count_ones() >= 3,
        "3 CPU-bound goroutines ran only on CPUs {seen:#b}: idle CPUs were not woken"
    );
}
