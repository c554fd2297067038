//! Interrupt storm (status 0): the busy tick at 2 kHz on every CPU
//! (`tick=500us`), every CPU flooding the others with wake-up IPIs and
//! cross-calls, while the seeded workload (`qemu_tests::workload`: spawn
//! trees, channel pipelines, Mutex bank transfers, sleeps, deep stacks)
//! runs; every check of the workload holds, every cross-call is served
//! exactly once per target, the same seed gives the same checksum, and
//! afterwards only main is left.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::testing::hw::{ipi, now_ns, smp, timer};
use gmpos::{Duration, WaitGroup, go, gomaxprocs, num_goroutine, sleep, test_note};
use qemu_tests::workload;

gmpos::qemu_test! {
    config: "
        smp=2
        args=tick=500us slice=1ms
        timeout=180
    ",
}

const SEED: u64 = 19;
const RUN_MS: u64 = 3000;

/// Calls served by cross-call closures, to check none is lost or doubled.
static SERVED: AtomicU64 = AtomicU64::new(0);

#[gmpos::test]
fn workload_holds_under_an_interrupt_storm() {
    // The reference: the same seeds, no storm.
    let (calm_rounds, calm) = workload::run_for(SEED, 0);
    assert_eq!(calm_rounds, 1);

    let ncpu = smp::ncpu();
    let ticks0: Vec<u64> = (0..ncpu).map(timer::interrupts).collect();
    let wake0: Vec<u64> = (0..ncpu).map(ipi::wakeups).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let flooders = Arc::new(WaitGroup::new());
    for _ in 0..gomaxprocs() {
        flooders.add(1);
        let (stop, issued, wg) = (stop.clone(), issued.clone(), flooders.clone());
        go(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ipi::send_all_but_self(ipi::WAKEUP_VECTOR);
                if n.is_multiple_of(16) {
                    ipi::run_on_others(&|| {
                        SERVED.fetch_add(1, Ordering::Relaxed);
                    });
                    issued.fetch_add(ncpu as u64 - 1, Ordering::Relaxed);
                }
                n += 1;
                // ~2 us between floods: the targets take an interrupt
                // every few microseconds of their own work.
                let t = now_ns();
                while now_ns() - t < 2_000 {
                    core::hint::spin_loop();
                }
            }
            wg.done();
        });
    }
    let t = now_ns();
    let (rounds, stormy) = workload::run_for(SEED, RUN_MS);
    let ms = (now_ns() - t) / 1_000_000;
    stop.store(true, Ordering::Relaxed);
    flooders.wait();
    assert_eq!(
        SERVED.load(Ordering::Relaxed),
        issued.load(Ordering::Relaxed),
        "cross-calls served != issued"
    );
    // Determinism: round 0 of the storm run is the calm round.
    let (_, again) = workload::run_for(SEED, 0);
    assert_eq!(
        again.checksum, calm.checksum,
        "same seed, different checksum"
    );
    let ticks: Vec<u64> = (0..ncpu)
        .map(|c| timer::interrupts(c) - ticks0[c])
        .collect();
    let wakes: Vec<u64> = (0..ncpu).map(|c| ipi::wakeups(c) - wake0[c]).collect();
    test_note!(
        "storm: {rounds} rounds in {ms} ms, {} goroutines, {} channel ops, {} transfers; timer interrupts per CPU {ticks:?}, wake-up IPIs {wakes:?}, cross-calls {}",
        stormy.goroutines,
        stormy.chan_ops,
        stormy.transfers,
        SERVED.load(Ordering::Relaxed)
    );
    // Every CPU really ticked faster than the default 1 kHz while busy
    // (the flooders keep every P running): at least 1 per ms of the run.
    for (cpu, &n) in ticks.iter().enumerate() {
        assert!(n >= ms, "cpu {cpu}: {n} timer interrupts in {ms} ms");
    }
    for (cpu, &n) in wakes.iter().enumerate() {
        assert!(n > 0, "cpu {cpu} got no wake-up IPI");
    }
    // No goroutine left behind (the flooders and workers exit after done()).
    let t = now_ns();
    while num_goroutine() != 1 && now_ns() - t < 2_000_000_000 {
        sleep(Duration::from_millis(1));
    }
    assert_eq!(num_goroutine(), 1, "goroutines left after the storm");
}
