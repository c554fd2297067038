//! Timing behaviour of the sync primitives, under icount (deterministic
//! time) at -smp 2: the Mutex's starvation mode engages when a holder
//! keeps the mutex >= 2 ms while newcomers keep arriving, and the waiter
//! that switched the mode gets the mutex before every newcomer that came
//! after the switch; an RWMutex writer behind a stream of readers gets in
//! within a bound, while readers hold the lock together.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::testing::hw::now_ns;
use gmpos::{Mutex, RWMutex, WaitGroup, go, sleep};
use qemu_tests::spin_ns;

mod common;

gmpos::qemu_test! {
    config: "
        smp=2
        icount=1
        timeout=180
    ",
}

/// Log entry of who got the mutex: the holder, the starved waiter, or
/// newcomer `i` (with what it saw on arrival).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Holder,
    Waiter,
    /// `after_switch`: on arrival the mutex was starving and the waiter
    /// had not got it yet.
    Newcomer {
        i: u32,
        after_switch: bool,
    },
}

#[gmpos::test]
fn mutex_starvation_mode() {
    assert!(
        common::icount(),
        "this kernel's timing assertions need icount"
    );
    let m = Arc::new(Mutex::new(Vec::<Who>::new()));
    let holding = Arc::new(AtomicBool::new(false));
    let waiter_got = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());

    // The holder: holds >= 2 ms, relocks at once, 6 times (a newcomer
    // itself each time it relocks: in normal mode it wins, being on a CPU).
    wg.add(1);
    {
        let (m, holding, wg) = (m.clone(), holding.clone(), wg.clone());
        go(move || {
            for _ in 0..6 {
                let mut g = m.lock();
                g.push(Who::Holder);
                holding.store(true, Ordering::SeqCst);
                spin_ns(2_500_000);
                drop(g);
            }
            wg.done();
        });
    }
    while !holding.load(Ordering::SeqCst) {
        gmpos::gosched();
    }
    // The waiter that will starve.
    wg.add(1);
    {
        let (m, waiter_got, wg) = (m.clone(), waiter_got.clone(), wg.clone());
        go(move || {
            let mut g = m.lock();
            g.push(Who::Waiter);
            waiter_got.store(true, Ordering::SeqCst);
            drop(g);
            wg.done();
        });
    }
    // Newcomers: one every 300 us for 12 ms.
    for i in 0..40 {
        sleep(Duration::from_micros(300));
        wg.add(1);
        let (m, waiter_got, wg) = (m.clone(), waiter_got.clone(), wg.clone());
        go(move || {
            let after_switch = m.raw().is_starving() && !waiter_got.load(Ordering::SeqCst);
            let mut g = m.lock();
            g.push(Who::Newcomer { i, after_switch });
            drop(g);
            wg.done();
        });
    }
    wg.wait();
    let s = m.stats();
    let log = m.lock().clone();
    let w = log.iter().position(|&x| x == Who::Waiter).unwrap();
    let after: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, x)| {
            matches!(
                x,
                Who::Newcomer {
                    after_switch: true,
                    ..
                }
            )
        })
        .map(|(k, _)| k)
        .collect();
    gmpos::test_note!(
        "{:?}; waiter got it {}th of {}; {} newcomers arrived after the switch, first served at {:?}",
        s,
        w + 1,
        log.len(),
        after.len(),
        after.first()
    );
    assert!(
        s.starvation_entries > 0,
        "starvation mode never engaged: {s:?}"
    );
    assert!(s.handoffs > 0, "no direct hand-off: {s:?}");
    assert_eq!(s.starvation_entries, s.starvation_exits, "{s:?}");
    assert!(
        !after.is_empty(),
        "no newcomer arrived between the switch and the waiter's turn: the check below would be vacuous"
    );
    for k in after {
        assert!(
            k > w,
            "newcomer {:?} (log {k}) got the mutex before the starved waiter (log {w}): {log:?}",
            log[k]
        );
    }
}

#[gmpos::test]
fn rwmutex_readers_overlap_writer_bounded() {
    assert!(
        common::icount(),
        "this kernel's timing assertions need icount"
    );
    let rw = Arc::new(RWMutex::new(0u64));
    let inside = Arc::new(AtomicU32::new(0));
    let max_inside = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    // A stream of readers: 4 goroutines back to back, each holding 100 us
    // (2 CPUs: at every moment some reader holds the lock, so a writer
    // without priority would never get in).
    const READERS: u32 = 4;
    wg.add(READERS as i64);
    for _ in 0..READERS {
        let (rw, inside, max_inside, stop, rounds, wg) = (
            rw.clone(),
            inside.clone(),
            max_inside.clone(),
            stop.clone(),
            rounds.clone(),
            wg.clone(),
        );
        go(move || {
            while !stop.load(Ordering::Relaxed) {
                let g = rw.rlock();
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(n, Ordering::SeqCst);
                spin_ns(100_000);
                core::hint::black_box(*g);
                inside.fetch_sub(1, Ordering::SeqCst);
                drop(g);
                rounds.fetch_add(1, Ordering::Relaxed);
            }
            wg.done();
        });
    }
    sleep(Duration::from_millis(20));
    let before = rounds.load(Ordering::Relaxed);
    let t0 = now_ns();
    let mut g = rw.lock();
    let waited = now_ns() - t0;
    assert_eq!(
        inside.load(Ordering::SeqCst),
        0,
        "a reader inside with the writer"
    );
    *g += 1;
    drop(g);
    sleep(Duration::from_millis(10));
    let after = rounds.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    gmpos::test_note!(
        "max readers inside together: {}; writer waited {} us; reader rounds {} before, {} after",
        max_inside.load(Ordering::SeqCst),
        waited / 1000,
        before,
        after - before
    );
    assert!(
        max_inside.load(Ordering::SeqCst) >= 2,
        "readers never held the lock together"
    );
    assert!(
        before > 20 && after > before,
        "the reader stream did not run"
    );
    // Bound: the writer waits for the readers already inside (each holds
    // 100 us, but a reader preempted inside holds it up to a time slice,
    // 10 ms), plus scheduling; far below the 20 ms the stream had run.
    assert!(waited < 15_000_000, "writer waited {} us", waited / 1000);
}
