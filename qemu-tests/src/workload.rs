//! A seeded concurrent workload with checks, lighter than the stress run's
//! rounds (`gmpos::stress`: no live `set_gomaxprocs` changes, hogs or
//! cross-calls): the watchdog's no-false-alarm load (`watchdog_healthy`). One [`round`] runs,
//! at once: a spawn tree, a channel pipeline with fan-out and fan-in,
//! Mutex-protected bank transfers with an auditor, sleepers, yielders, and a
//! goroutine recursing deep and coming back. Every check panics with what
//! it saw (the test harness prints the goroutine dump). The checksum folds
//! only what the seed decides (sizes, values), never timing, so a seed gives
//! the same checksum on any schedule.
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::{Duration, Instant, Mutex, WaitGroup, chan, go, gosched, sleep};

/// xorshift64*: per-task streams (the stress run's generator).
pub use gmpos::stress::rng::Rng;

/// What a round did.
#[derive(Default, Clone, Copy, Debug)]
pub struct Counts {
    pub goroutines: u64,
    pub chan_ops: u64,
    pub transfers: u64,
    pub checksum: u64,
}

fn fold(sum: &AtomicU64, v: u64) {
    // Commutative: the order goroutines finish in does not matter.
    sum.fetch_add(v.wrapping_mul(0x100_0000_01b3), Ordering::Relaxed);
}

fn tree(
    rng: Rng,
    depth: u32,
    fan: u64,
    wg: Arc<WaitGroup>,
    n: Arc<AtomicU64>,
    sum: Arc<AtomicU64>,
) {
    n.fetch_add(1, Ordering::Relaxed);
    let mut r = rng;
    fold(&sum, r.next_u64() ^ depth as u64);
    if depth > 0 {
        for i in 0..fan {
            wg.add(1);
            let (wg, n, sum) = (wg.clone(), n.clone(), sum.clone());
            let child = rng.child(i << 8 | depth as u64);
            go(move || tree(child, depth - 1, fan, wg, n, sum));
        }
    }
    wg.done();
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let mut buf = [0u8; 1024];
    buf[(n % 1024) as usize] = n as u8;
    core::hint::black_box(&mut buf);
    if n == 0 {
        buf[0] as u64
    } else {
        recurse(n - 1) + buf[(n % 1024) as usize] as u64
    }
}

/// One round with `seed`: returns its counts, panics if a check fails.
pub fn round(seed: u64) -> Counts {
    let mut rng = Rng::new(seed);
    let wg = Arc::new(WaitGroup::new());
    let sum = Arc::new(AtomicU64::new(0));
    let spawned = Arc::new(AtomicU64::new(0));
    let mut expect_spawned = 0u64;

    // Spawn tree: fan^0 + ... + fan^depth goroutines.
    let (depth, fan) = (rng.range(3, 6) as u32, rng.range(2, 3));
    let nodes: u64 = (0..=depth).map(|d| fan.pow(d)).sum();
    expect_spawned += nodes;
    wg.add(1);
    {
        let (wg, n, s) = (wg.clone(), spawned.clone(), sum.clone());
        go(move || tree(Rng::new(seed ^ 0x7733), depth, fan, wg, n, s));
    }

    // Pipeline: source -> `width` workers (fan-out) -> sink (fan-in).
    let items = rng.range(200, 2000);
    let width = rng.range(2, 6);
    let (cap_a, cap_b) = (rng.range(0, 4) as usize, rng.range(0, 4) as usize);
    let a = chan::<u64>(cap_a);
    let b = chan::<u64>(cap_b);
    let vals: Vec<u64> = (0..items).map(|_| rng.next_u64() >> 20).collect();
    let want: u64 = vals
        .iter()
        .map(|v| v.wrapping_mul(3))
        .fold(0, u64::wrapping_add);
    expect_spawned += 2 + width;
    wg.add(2 + width as i64);
    {
        let (a, wg, n) = (a.clone(), wg.clone(), spawned.clone());
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            for v in vals {
                a.send(v);
            }
            a.close();
            wg.done();
        });
    }
    let workers_left = Arc::new(AtomicU64::new(width));
    for _ in 0..width {
        let (a, b, wg, n, left) = (
            a.clone(),
            b.clone(),
            wg.clone(),
            spawned.clone(),
            workers_left.clone(),
        );
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            while let Some(v) = a.recv() {
                b.send(v.wrapping_mul(3));
            }
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                b.close();
            }
            wg.done();
        });
    }
    let got = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    {
        let (b, wg, n, got, received) = (
            b.clone(),
            wg.clone(),
            spawned.clone(),
            got.clone(),
            received.clone(),
        );
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            while let Some(v) = b.recv() {
                got.fetch_add(v, Ordering::Relaxed);
                received.fetch_add(1, Ordering::Relaxed);
            }
            wg.done();
        });
    }

    // Bank: transfers under one Mutex; the total never changes.
    const ACCOUNTS: usize = 16;
    let bank = Arc::new(Mutex::new([1000i64; ACCOUNTS]));
    let tellers = rng.range(2, 8);
    let per = rng.range(100, 500);
    expect_spawned += tellers + 1;
    wg.add(tellers as i64 + 1);
    for t in 0..tellers {
        let (bank, wg, n) = (bank.clone(), wg.clone(), spawned.clone());
        let mut r = Rng::new(seed ^ (t + 1) << 40);
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            for i in 0..per {
                let (from, to) = (r.range(0, 15) as usize, r.range(0, 15) as usize);
                let amount = r.range(1, 50) as i64;
                {
                    let mut acc = bank.lock();
                    acc[from] -= amount;
                    acc[to] += amount;
                }
                if i.is_multiple_of(64) {
                    gosched();
                }
            }
            wg.done();
        });
    }
    {
        let (bank, wg, n) = (bank.clone(), wg.clone(), spawned.clone());
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            for _ in 0..20 {
                let total: i64 = bank.lock().iter().sum();
                assert_eq!(total, 1000 * ACCOUNTS as i64, "bank total changed mid-run");
                sleep(Duration::from_micros(200));
            }
            wg.done();
        });
    }

    // Sleepers: each sleeps at least what it asked.
    let sleepers = rng.range(4, 16);
    expect_spawned += sleepers;
    wg.add(sleepers as i64);
    for _ in 0..sleepers {
        let d = Duration::from_micros(rng.range(100, 3000));
        let (wg, n) = (wg.clone(), spawned.clone());
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            let t = Instant::now();
            sleep(d);
            let e = t.elapsed();
            assert!(e >= d, "slept {e:?}, asked {d:?}");
            wg.done();
        });
    }

    // Deep recursion: the stack grows to ~`depth` KiB and shrinks after.
    let deep = rng.range(16, 200);
    expect_spawned += 1;
    wg.add(1);
    {
        let (wg, n, sum) = (wg.clone(), spawned.clone(), sum.clone());
        go(move || {
            n.fetch_add(1, Ordering::Relaxed);
            fold(&sum, recurse(deep));
            wg.done();
        });
    }

    wg.wait();
    assert_eq!(
        spawned.load(Ordering::Relaxed),
        expect_spawned,
        "goroutines run != spawned"
    );
    assert_eq!(
        received.load(Ordering::Relaxed),
        items,
        "pipeline lost or duplicated items"
    );
    assert_eq!(got.load(Ordering::Relaxed), want, "pipeline sum");
    let total: i64 = bank.lock().iter().sum();
    assert_eq!(total, 1000 * ACCOUNTS as i64, "bank total");
    let checksum = sum.load(Ordering::Relaxed) ^ want ^ items.rotate_left(17) ^ (tellers * per);
    Counts {
        goroutines: expect_spawned,
        chan_ops: 2 * items + width + 2,
        transfers: tellers * per,
        checksum,
    }
}

/// Rounds of seeds `seed, seed+1, ...` for about `ms` milliseconds (at
/// least one); the counts summed, checksums folded.
pub fn run_for(seed: u64, ms: u64) -> (u64, Counts) {
    let t = Instant::now();
    let mut c = Counts::default();
    let mut rounds = 0;
    while rounds == 0 || t.elapsed() < Duration::from_millis(ms) {
        let r = round(seed.wrapping_add(rounds));
        c.goroutines += r.goroutines;
        c.chan_ops += r.chan_ops;
        c.transfers += r.transfers;
        c.checksum = c.checksum.rotate_left(7) ^ r.checksum;
        rounds += 1;
    }
    (rounds, c)
}
