//! The scheduler across CPUs: work stealing, no lost wake-ups (park/ready
//! hand-offs, a goroutine readied from an interrupt handler while every CPU
//! is halted), and idle CPUs really halting.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::hw::{cpu_index, rdtsc};
use gmpos::testing::sched::Sema;
use gmpos::testing::sched::WaitReason;
use gmpos::testing::sched::m;
use gmpos::testing::sched::p;
use gmpos::{WaitGroup, go, gomaxprocs, num_cpu};
use qemu_tests::spin_ns;

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        timeout=120
    ",
}

const MAX: usize = 64;

#[gmpos::test]
fn work_stealing() {
    let ran_on: Arc<[AtomicU64; MAX]> = Arc::new([const { AtomicU64::new(0) }; MAX]);
    let steals0: u64 = (0..gomaxprocs())
        .map(|i| p(i).counters.steals.load(Ordering::Relaxed))
        .sum();
    let wg = Arc::new(WaitGroup::new());
    wg.add(1000);
    let t0 = now_ns();
    for _ in 0..1000 {
        let (w, r) = (wg.clone(), ran_on.clone());
        go(move || {
            r[cpu_index()].fetch_add(1, Ordering::Relaxed);
            // Busy for 1 ms of TSC time, no yields.
            spin_ns(1_000_000);
            w.done();
        });
    }
    wg.wait();
    let dt = now_ns() - t0;
    let steals: u64 = (0..gomaxprocs())
        .map(|i| p(i).counters.steals.load(Ordering::Relaxed))
        .sum::<u64>()
        - steals0;
    let mut line = alloc::string::String::new();
    for i in 0..gomaxprocs() {
        use core::fmt::Write;
        let _ = write!(line, " P{}={}", i, ran_on[i].load(Ordering::Relaxed));
    }
    gmpos::test_note!(
        "1000 x 1 ms goroutines in {} ms; ran on:{}; steals {}",
        dt / 1_000_000,
        line,
        steals
    );
    if gomaxprocs() > 1 {
        for i in 0..gomaxprocs() {
            assert!(
                ran_on[i].load(Ordering::Relaxed) > 0,
                "P{i} ran none of the goroutines: no stealing"
            );
        }
        assert!(steals > 0, "steal counters did not move");
    }
}

#[gmpos::test]
fn handoffs_100k() {
    // Two ping-pong pairs; each round trip is two park/ready hand-offs.
    const ROUNDS: u64 = 25_000;
    let cross = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    let t0 = now_ns();
    for _ in 0..2 {
        let ping = Arc::new(Sema::new(0));
        let pong = Arc::new(Sema::new(0));
        let last_cpu = Arc::new(AtomicU64::new(0));
        wg.add(2);
        {
            let (w, ping, pong, last, x) = (
                wg.clone(),
                ping.clone(),
                pong.clone(),
                last_cpu.clone(),
                cross.clone(),
            );
            go(move || {
                for _ in 0..ROUNDS {
                    ping.release();
                    pong.acquire(WaitReason::Park);
                    if last.swap(cpu_index() as u64, Ordering::Relaxed) != cpu_index() as u64 {
                        x.fetch_add(1, Ordering::Relaxed);
                    }
                }
                w.done();
            });
        }
        {
            let (w, x) = (wg.clone(), cross.clone());
            go(move || {
                for _ in 0..ROUNDS {
                    ping.acquire(WaitReason::Park);
                    if last_cpu.swap(cpu_index() as u64, Ordering::Relaxed) != cpu_index() as u64 {
                        x.fetch_add(1, Ordering::Relaxed);
                    }
                    pong.release();
                }
                w.done();
            });
        }
    }
    wg.wait();
    let dt = now_ns() - t0;
    gmpos::test_note!(
        "100000 park/ready hand-offs in {} ms ({} ns each); {} crossed CPUs",
        dt / 1_000_000,
        dt / 100_000,
        cross.load(Ordering::Relaxed)
    );
}

#[gmpos::test]
fn ready_from_interrupt_while_all_halted() {
    let n = num_cpu();
    let halted0: alloc::vec::Vec<u64> = (0..n).map(|i| m(i).halted_cycles_now()).collect();
    let halts0: alloc::vec::Vec<u64> = (0..n).map(|i| m(i).halts.load(Ordering::Relaxed)).collect();
    let wg = Arc::new(WaitGroup::new());
    let late = Arc::new(AtomicU64::new(0));
    wg.add(1);
    let (w, l) = (wg.clone(), late.clone());
    let c0 = rdtsc();
    go(move || {
        // `sleep` parks us on a timer; the timer interrupt readies us (the
        // interrupt-safe path: global queue + wake-up IPI) while every CPU
        // is halted.
        let t0 = now_ns();
        gmpos::sleep(core::time::Duration::from_millis(200));
        l.store(now_ns() - t0 - 200_000_000, Ordering::Relaxed);
        w.done();
    });
    wg.wait();
    let c1 = rdtsc();
    let late = late.load(Ordering::Relaxed);
    let mut line = alloc::string::String::new();
    for i in 0..n {
        use core::fmt::Write;
        let halted = m(i).halted_cycles_now() - halted0[i];
        let halts = m(i).halts.load(Ordering::Relaxed) - halts0[i];
        let pct = halted * 100 / (c1 - c0).max(1);
        let _ = write!(
            line,
            " cpu{i}: {pct}% halted ({halts} halts, {} idle-path returns)",
            [&m(i).idle_rechecks, &m(i).idle_work_seen, &m(i).idle_handed]
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<u64>()
        );
        assert!(
            halts > 0 || m(i).is_halted(),
            "cpu {i} never halted while idle"
        );
        assert!(
            pct >= 50,
            "cpu {i} was halted only {pct}% of an idle 200 ms: it spins"
        );
    }
    gmpos::test_note!(
        "readied from the timer interrupt {} us after its deadline;{}",
        late / 1000,
        line
    );
}
