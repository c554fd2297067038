//! Sleeps and timers: sleepers check they slept at least what they asked,
//! a `Timer` is reset shorter and fires once, another is stopped before it
//! fires, a `Ticker` ticks a few times, an `after_func` runs once, and
//! yielders `gosched` in a loop.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use super::checksum::fold;
use super::rng::Rng;
use super::round::{Cx, Ops};
use crate::sync::WaitGroup;
use crate::time::{Instant, Ticker, Timer, after_func, sleep};

pub fn start(cx: &Cx, mut rng: Rng) {
    let sleepers = rng.range(4, 16);
    for _ in 0..sleepers {
        let d = Duration::from_micros(rng.range(100, 3000));
        fold(&cx.sum, d.as_micros() as u64);
        cx.ledger.go(move || {
            let t = Instant::now();
            sleep(d);
            let e = t.elapsed();
            assert!(e >= d, "stress: slept {e:?}, asked for {d:?}");
        });
    }

    let short = Duration::from_micros(rng.range(100, 1500));
    let ticks = rng.range(2, 5);
    let period = Duration::from_micros(rng.range(200, 1000));
    fold(&cx.sum, short.as_micros() as u64 ^ ticks << 32);
    // Each timer channel receive is a channel op.
    Ops::add(&cx.ops.chan, 1 + ticks);
    cx.ledger.go(move || {
        // Reset from an hour to `short`: fires once, after `short`.
        let t = Instant::now();
        let timer = Timer::new(Duration::from_secs(3600));
        timer.reset(short);
        timer.c().recv().expect("timer channel closed");
        assert!(t.elapsed() >= short, "stress: a reset timer fired early");
        // Stopped long before it is due: never fires (Go 1.23: no stale
        // value after stop).
        let stopped = Timer::new(Duration::from_secs(3600));
        assert!(
            stopped.stop(),
            "stress: stop of a pending timer said it had fired"
        );
        assert!(
            stopped.c().try_recv().is_err(),
            "stress: a stopped timer delivered"
        );
        // A ticker: `ticks` ticks; the first comes a period after the
        // start at the earliest (later ones may come sooner: a tick the
        // receiver was late for waits in the channel, as in Go).
        let started = Instant::now();
        let tk = Ticker::new(period);
        for _ in 0..ticks {
            tk.c().recv().expect("ticker channel closed");
        }
        let e = started.elapsed();
        assert!(
            e >= period,
            "stress: {ticks} ticks in {e:?}, period {period:?}"
        );
        tk.stop();
    });

    // `after_func`: runs once in its own goroutine (not the ledger's: the
    // runtime starts it); the ledger's goroutine waits for it.
    let fired = Arc::new(AtomicU64::new(0));
    let d = Duration::from_micros(rng.range(100, 2000));
    cx.ledger.go(move || {
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let (f, w) = (fired.clone(), wg.clone());
        let _af = after_func(d, move || {
            f.fetch_add(1, Ordering::Relaxed);
            w.done();
        });
        wg.wait();
        assert_eq!(
            fired.load(Ordering::Relaxed),
            1,
            "stress: after_func ran twice"
        );
    });

    let yielders = rng.range(2, 6);
    for _ in 0..yielders {
        let n = rng.range(10, 200);
        fold(&cx.sum, n << 8);
        cx.ledger.go(move || {
            for _ in 0..n {
                crate::sched::gosched();
            }
        });
    }
}
