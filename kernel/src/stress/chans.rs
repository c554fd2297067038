//! Channel networks: a pipeline (source -> `width` workers (fan-out) ->
//! sink (fan-in)) on buffered or unbuffered channels, and a select
//! network (a dispatcher choosing between two workers with `select!`
//! sends, a collector selecting over three producers and a timeout).
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::checksum::fold;
use super::rng::Rng;
use super::round::{Cx, Ops};
use crate::sync::{Chan, chan};
use crate::time::after;
use core::time::Duration;

/// The pipeline; the sink checks nothing was lost or duplicated.
pub fn start_pipeline(cx: &Cx, mut rng: Rng) {
    let items = rng.range(200, 2000);
    let width = rng.range(2, 6);
    let a = chan::<u64>(rng.range(0, 4) as usize);
    let b = chan::<u64>(rng.range(0, 4) as usize);
    let vals: Vec<u64> = (0..items).map(|_| rng.next_u64() >> 20).collect();
    let want = vals
        .iter()
        .map(|v| v.wrapping_mul(3))
        .fold(0, u64::wrapping_add);
    fold(&cx.sum, want ^ items);
    // Each item: a send and a receive on `a`, the same on `b`.
    Ops::add(&cx.ops.chan, 4 * items);
    {
        let a = a.clone();
        cx.ledger.go(move || {
            for v in vals {
                a.send(v);
            }
            a.close();
        });
    }
    let left = Arc::new(AtomicU64::new(width));
    for _ in 0..width {
        let (a, b, left) = (a.clone(), b.clone(), left.clone());
        cx.ledger.go(move || {
            while let Some(v) = a.recv() {
                b.send(v.wrapping_mul(3));
            }
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                b.close();
            }
        });
    }
    cx.ledger.go(move || {
        let (mut got, mut n) = (0u64, 0u64);
        while let Some(v) = b.recv() {
            got = got.wrapping_add(v);
            n += 1;
        }
        assert_eq!(n, items, "stress: the pipeline lost or duplicated items");
        assert_eq!(got, want, "stress: the pipeline's sum is wrong");
    });
}

/// The select network.
pub fn start_select_network(cx: &Cx, mut rng: Rng) {
    // Dispatcher: `select!` sends each item to whichever worker is ready.
    let items = rng.range(100, 600);
    let (w0, w1) = (chan::<u64>(rng.range(0, 2) as usize), chan::<u64>(0));
    let results = chan::<u64>(2);
    let want: u64 = (1..=items).sum();
    fold(&cx.sum, want);
    Ops::add(&cx.ops.chan, 2 * items + 4);
    {
        let (w0, w1) = (w0.clone(), w1.clone());
        cx.ledger.go(move || {
            for v in 1..=items {
                crate::select! {
                    send(&w0, v) => {},
                    send(&w1, v) => {},
                }
            }
            w0.close();
            w1.close();
        });
    }
    for w in [w0, w1] {
        let results = results.clone();
        cx.ledger.go(move || {
            let mut s = 0u64;
            for v in &w {
                s += v;
            }
            results.send(s);
        });
    }
    cx.ledger.go(move || {
        let total = results.recv().unwrap() + results.recv().unwrap();
        assert_eq!(
            total, want,
            "stress: select dispatch lost or duplicated items"
        );
    });

    // Collector: three producers, a timeout case, closed channels turned
    // off (Go's nil channel).
    let per: [u64; 3] = core::array::from_fn(|_| rng.range(20, 200));
    let timeout = Duration::from_micros(rng.range(50, 2000));
    let chans: [Chan<u64>; 3] = core::array::from_fn(|i| chan::<u64>(i % 2));
    let want: u64 = per.iter().map(|&n| n * (n + 1) / 2).sum();
    fold(&cx.sum, want.rotate_left(9));
    Ops::add(&cx.ops.chan, 2 * per.iter().sum::<u64>() + 3);
    for (c, &n) in chans.iter().zip(per.iter()) {
        let c = c.clone();
        let mut r = rng.child(n);
        cx.ledger.go(move || {
            for v in 1..=n {
                c.send(v);
                if r.range(0, 15) == 0 {
                    crate::sched::gosched();
                }
            }
            c.close();
        });
    }
    let ops = cx.ops.clone();
    cx.ledger.go(move || {
        let [c0, c1, c2] = &chans;
        let mut open = [true; 3];
        let (mut got, mut timeouts) = (0u64, 0u64);
        let mut to = after(timeout);
        while open.iter().any(|&o| o) {
            let on = |i: usize, c| if open[i] { Some(c) } else { None };
            let (a, b, c) = (on(0, c0), on(1, c1), on(2, c2));
            crate::select! {
                v = recv(a) => match v { Some(v) => got += v, None => open[0] = false },
                v = recv(b) => match v { Some(v) => got += v, None => open[1] = false },
                v = recv(c) => match v { Some(v) => got += v, None => open[2] = false },
                recv(&to) => { timeouts += 1; to = after(timeout); },
            }
        }
        assert_eq!(got, want, "stress: the select collector's sum is wrong");
        Ops::add(&ops.timeouts, timeouts);
    });
}
