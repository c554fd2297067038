//! Mutex-protected bank transfers: tellers move money between accounts
//! under one `Mutex`, an auditor sums the accounts meanwhile, and the last
//! teller checks the total at the end: it never changes.
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use super::checksum::fold;
use super::rng::Rng;
use super::round::{Cx, Ops};
use crate::cmdline::StressBug;
use crate::sync::Mutex;

const ACCOUNTS: usize = 16;
const START: i64 = 1000;
const TOTAL: i64 = START * ACCOUNTS as i64;

pub fn start(cx: &Cx, mut rng: Rng) {
    let bank = Arc::new(Mutex::new([START; ACCOUNTS]));
    let tellers = rng.range(2, 8);
    let per = rng.range(100, 500);
    let left = Arc::new(AtomicU64::new(tellers));
    let audits_done = Arc::new(AtomicU64::new(0));
    // `stressbug=transfer`: teller 0's first transfer forgets the credit.
    let broken = cx.bug == Some(StressBug::Transfer);
    Ops::add(&cx.ops.transfers, tellers * per);
    for t in 0..tellers {
        let (bank, left, audits) = (bank.clone(), left.clone(), audits_done.clone());
        let mut r = rng.child(t);
        let sum = cx.sum.clone();
        cx.ledger.go(move || {
            let mut moved = 0u64;
            for i in 0..per {
                let (from, to) = (r.range(0, 15) as usize, r.range(0, 15) as usize);
                let amount = r.range(1, 50) as i64;
                {
                    let mut acc = bank.lock();
                    acc[from] -= amount;
                    if !(broken && t == 0 && i == 0) {
                        acc[to] += amount;
                    }
                }
                moved += amount as u64;
                if i % 64 == 63 {
                    crate::sched::gosched();
                }
            }
            fold(&sum, moved ^ t << 48);
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let total: i64 = bank.lock().iter().sum();
                assert_eq!(
                    total,
                    TOTAL,
                    "stress: the bank's total changed ({} audits ran)",
                    audits.load(Ordering::Relaxed)
                );
            }
        });
    }
    cx.ledger.go(move || {
        for _ in 0..20 {
            let total: i64 = bank.lock().iter().sum();
            assert_eq!(total, TOTAL, "stress: the bank's total changed mid-run");
            audits_done.fetch_add(1, Ordering::Relaxed);
            crate::time::sleep(Duration::from_micros(200));
        }
    });
}
