//! The `sync` primitives under contention at -smp 2 and 4: Mutex
//! (4 x 50,000 increments), WaitGroup over 10,000 goroutines, Once under 64
//! contenders, Cond broadcast to 1,000 waiters, Semaphore capping
//! concurrency, and a goroutine dump showing Go's wait-reason strings while
//! goroutines wait on each primitive.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use core::time::Duration;

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::write_goroutine_dump;
use gmpos::{Cond, Mutex, Once, RWMutex, Semaphore, WaitGroup, go, gosched, sleep};

gmpos::qemu_test! {
    config: "
        smp=2,4
        timeout=120
    ",
}

/// 4 goroutines x 50,000 increments of a Mutex-guarded counter: exactly
/// 200,000 (a lost update means two holders at once).
#[gmpos::test]
fn mutex_4x50k_increments() {
    const G: u64 = 4;
    const N: u64 = 50_000;
    let m = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    wg.add(G as i64);
    let t0 = now_ns();
    for _ in 0..G {
        let (m, wg) = (m.clone(), wg.clone());
        go(move || {
            for _ in 0..N {
                let mut g = m.lock();
                // A read-modify-write the compiler cannot merge.
                *g = core::hint::black_box(*g) + 1;
            }
            wg.done();
        });
    }
    wg.wait();
    let total = *m.lock();
    let s = m.stats();
    gmpos::test_note!(
        "{} increments in {} ms on {} CPUs; {:?}",
        total,
        (now_ns() - t0) / 1_000_000,
        gmpos::num_cpu(),
        s
    );
    assert_eq!(total, G * N, "lost updates: two holders at once");
    assert!(
        !m.raw().is_locked() && m.raw().state() == 0,
        "state word not clean"
    );
    assert!(m.try_lock().is_some(), "try_lock of a free mutex failed");
}

/// 10,000 goroutines each `done()` once; several waiters all return, and
/// only after the last `done`.
#[gmpos::test]
fn waitgroup_10k_goroutines() {
    const N: u64 = 10_000;
    let wg = Arc::new(WaitGroup::new());
    let ran = Arc::new(AtomicU64::new(0));
    let waiters_out = Arc::new(WaitGroup::new());
    let early = Arc::new(AtomicBool::new(false));
    wg.add(N as i64);
    // Three extra waiters besides main.
    waiters_out.add(3);
    for _ in 0..3 {
        let (wg, ran, out, early) = (wg.clone(), ran.clone(), waiters_out.clone(), early.clone());
        go(move || {
            wg.wait();
            if ran.load(Ordering::SeqCst) != N {
                early.store(true, Ordering::SeqCst);
            }
            out.done();
        });
    }
    for _ in 0..N {
        let (wg, ran) = (wg.clone(), ran.clone());
        go(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        N,
        "wait returned before every done"
    );
    waiters_out.wait();
    assert!(!early.load(Ordering::SeqCst), "a waiter returned early");
    assert_eq!(wg.count(), 0);
}

/// 64 goroutines race into `call_once` with a slow `f`: it runs exactly
/// once, and nobody returns before it has finished.
#[gmpos::test]
fn once_64_contenders() {
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicU32::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let early = Arc::new(AtomicU32::new(0));
    let start = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    wg.add(64);
    for _ in 0..64 {
        let (once, runs, finished, early, start, wg) = (
            once.clone(),
            runs.clone(),
            finished.clone(),
            early.clone(),
            start.clone(),
            wg.clone(),
        );
        go(move || {
            while !start.load(Ordering::Acquire) {
                gosched();
            }
            once.call_once(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                // Slow enough that the others arrive and park meanwhile.
                sleep(Duration::from_millis(2));
                finished.store(true, Ordering::SeqCst);
            });
            if !finished.load(Ordering::SeqCst) {
                early.fetch_add(1, Ordering::SeqCst);
            }
            wg.done();
        });
    }
    start.store(true, Ordering::Release);
    wg.wait();
    assert_eq!(runs.load(Ordering::SeqCst), 1, "f ran more than once");
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "call_once returned before f finished"
    );
    assert!(once.is_completed());
}

/// 1,000 goroutines wait on a Cond; one broadcast wakes all of them. Then a
/// signal wakes exactly one of two waiters.
#[gmpos::test]
fn cond_broadcast_wakes_1000() {
    const N: u32 = 1_000;
    // (go: the broadcast happened, waiting: goroutines inside wait)
    let m = Arc::new(Mutex::new((false, 0u32)));
    let cond = Arc::new(Cond::new());
    let woken = Arc::new(AtomicU32::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    for _ in 0..N {
        let (m, cond, woken, wg) = (m.clone(), cond.clone(), woken.clone(), wg.clone());
        go(move || {
            let mut g = m.lock();
            g.1 += 1;
            while !g.0 {
                g = cond.wait(g);
            }
            drop(g);
            woken.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    // Every waiter has its ticket (counted under the Mutex before waiting).
    while m.lock().1 != N {
        gosched();
    }
    m.lock().0 = true;
    cond.broadcast();
    wg.wait();
    assert_eq!(woken.load(Ordering::SeqCst), N);

    // Signal: one of two parked waiters, then the other.
    let m = Arc::new(Mutex::new(0u32)); // tokens
    let woken = Arc::new(AtomicU32::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    for _ in 0..2 {
        let (m, cond, woken, wg) = (m.clone(), cond.clone(), woken.clone(), wg.clone());
        go(move || {
            let mut g = m.lock();
            while *g == 0 {
                g = cond.wait(g);
            }
            *g -= 1;
            drop(g);
            woken.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    // Let both park (a wait with no token parks; nothing else wakes them).
    sleep(Duration::from_millis(5));
    *m.lock() += 1;
    cond.signal();
    sleep(Duration::from_millis(5));
    assert_eq!(
        woken.load(Ordering::SeqCst),
        1,
        "signal woke other than one"
    );
    *m.lock() += 1;
    cond.signal();
    wg.wait();
    assert_eq!(woken.load(Ordering::SeqCst), 2);
}

/// A Semaphore of 3 and 50 goroutines that hold a unit across a sleep: at
/// most 3 inside at once, and 3 are reached.
#[gmpos::test]
fn semaphore_caps_concurrency() {
    const CAP: u32 = 3;
    let sem = Arc::new(Semaphore::new(CAP));
    let inside = Arc::new(AtomicU32::new(0));
    let max = Arc::new(AtomicU32::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(50);
    for _ in 0..50 {
        let (sem, inside, max, wg) = (sem.clone(), inside.clone(), max.clone(), wg.clone());
        go(move || {
            let permit = sem.acquire();
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            // Hold across a park, so holders do not need a CPU each.
            sleep(Duration::from_micros(300));
            inside.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            wg.done();
        });
    }
    wg.wait();
    gmpos::test_note!("max inside: {}", max.load(Ordering::SeqCst));
    assert_eq!(max.load(Ordering::SeqCst), CAP, "max observed != capacity");
    assert_eq!(sem.available(), CAP, "units lost or gained");
    assert!(sem.try_acquire().is_some());
}

/// A goroutine dump while goroutines wait on each primitive shows Go's
/// wait-reason strings (gmpos's `sync.Once.Do` for Once).
#[gmpos::test]
fn dump_shows_wait_reasons() {
    let mutex = Arc::new(Mutex::new(()));
    let rw_w = Arc::new(RWMutex::new(())); // held for writing: a reader waits
    let rw_r = Arc::new(RWMutex::new(())); // held for reading: a writer waits
    let wg = Arc::new(WaitGroup::new());
    let cond = Arc::new(Cond::new());
    let cond_m = Arc::new(Mutex::new(false));
    let gate = Arc::new(Semaphore::new(0));
    let once = Arc::new(Once::new());
    let all = Arc::new(WaitGroup::new());

    let held_m = mutex.lock();
    let held_w = rw_w.lock();
    let held_r = rw_r.rlock();
    wg.add(1);

    let mut expect: Vec<(u64, &str)> = Vec::new();
    macro_rules! waiter {
        ($reason:expr, $body:expr) => {{
            let all2 = all.clone();
            all.add(1);
            let id = go(move || {
                $body;
                all2.done();
            });
            expect.push((id, $reason));
        }};
    }
    let m = mutex.clone();
    waiter!("sync.Mutex.Lock", drop(m.lock()));
    let r = rw_w.clone();
    waiter!("sync.RWMutex.RLock", drop(r.rlock()));
    let r = rw_r.clone();
    waiter!("sync.RWMutex.Lock", drop(r.lock()));
    let w = wg.clone();
    waiter!("sync.WaitGroup.Wait", w.wait());
    let (c, cm) = (cond.clone(), cond_m.clone());
    waiter!("sync.Cond.Wait", {
        let mut g = cm.lock();
        while !*g {
            g = c.wait(g);
        }
    });
    // The Once's `f` waits on the gate (a Semaphore: `semacquire`); a
    // second caller waits for `f` (`sync.Once.Do`).
    let (o, g) = (once.clone(), gate.clone());
    waiter!("semacquire", o.call_once(|| drop(g.acquire())));
    // Let the first call_once get inside before the second arrives.
    while gate_waiting(&expect) {
        gosched();
    }
    let o = once.clone();
    waiter!("sync.Once.Do", o.call_once(|| panic!("Once ran f twice")));

    let deadline = now_ns() + 2_000_000_000;
    let mut dump = String::new();
    let missing = loop {
        dump.clear();
        write_goroutine_dump(&mut dump).unwrap();
        let missing: Vec<String> = expect
            .iter()
            .map(|(id, why)| format!("goroutine {id} [{why}]:"))
            .filter(|line| !dump.contains(line.as_str()))
            .collect();
        if missing.is_empty() || now_ns() > deadline {
            break missing;
        }
        sleep(Duration::from_millis(1));
    };
    assert!(missing.is_empty(), "dump lacks {missing:?}:\n{dump}");
    gmpos::test_note!("all {} wait reasons in the dump", expect.len());

    // Release everyone.
    drop(held_m);
    drop(held_w);
    drop(held_r);
    wg.done();
    *cond_m.lock() = true;
    cond.broadcast();
    gate.release();
    all.wait();
}

/// Until the first `call_once` caller (the `semacquire` waiter) is parked
/// on the gate: the dump shows it.
fn gate_waiting(expect: &[(u64, &str)]) -> bool {
    let (id, _) = expect.last().unwrap();
    let mut dump = String::new();
    write_goroutine_dump(&mut dump).unwrap();
    !dump.contains(format!("goroutine {id} [semacquire]:").as_str())
}
