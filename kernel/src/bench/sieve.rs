//! `sieve` (BENCH.md 7): the concurrent prime sieve made to terminate: a
//! generator sends 2..=17389 then closes; main takes 2000 primes, spawning
//! a filter after each but the last (1999 filters), then drains the last
//! channel, which must close empty (the close cascades down the chain). All
//! channels unbuffered. Verify the 2000th prime is 17389. ns/op = total;
//! extras `msgs` (sends in one run, computed by simulation outside the
//! timing) and `ns_per_msg`.
use alloc::vec::Vec;

use super::{median_min, now, repeat, report};
use crate::{Chan, chan, go};

const LAST: u64 = 17_389;
const PRIMES: usize = 2000;
const MSGS: u64 = 2_042_625;

fn generate(out: Chan<u64>) {
    for i in 2..=LAST {
        out.send(i);
    }
    out.close();
}

fn filter(input: Chan<u64>, out: Chan<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 {
            out.send(i);
        }
    }
    out.close();
}

fn once() -> f64 {
    let t0 = now();
    let mut ch = chan::<u64>(0);
    {
        let c = ch.clone();
        go(move || generate(c));
    }
    let mut p = 0;
    for k in 1..=PRIMES {
        p = ch
            .recv()
            .expect("sieve: channel closed before the 2000th prime");
        if k < PRIMES {
            let ch1 = chan::<u64>(0);
            let (i, o) = (ch.clone(), ch1.clone());
            go(move || filter(i, o, p));
            ch = ch1;
        }
    }
    assert!(ch.recv().is_none(), "sieve: a value after the 2000th prime");
    let dt = now() - t0;
    assert_eq!(p, LAST, "sieve: the 2000th prime");
    dt as f64
}

/// The channel sends of one run: every number is sent by the generator and
/// then by each filter it passes; a prime p_k passes the k-1 filters before
/// it (to main), a composite stops at the filter of its least prime factor.
fn simulate_msgs() -> u64 {
    let mut primes: Vec<u64> = Vec::with_capacity(PRIMES);
    let mut msgs = 0;
    for i in 2..=LAST {
        match primes.iter().position(|&q| i % q == 0) {
            // Dropped by filter j (0-based): sent by the generator and
            // filters 0..j.
            Some(j) => msgs += 1 + j as u64,
            None => {
                msgs += 1 + primes.len() as u64;
                if primes.len() < PRIMES - 1 {
                    primes.push(i);
                }
            }
        }
    }
    msgs
}

pub fn run(procs: usize) {
    let msgs = simulate_msgs();
    assert_eq!(msgs, MSGS, "sieve: simulated message count");
    let samples = repeat(1, 5, once);
    let (med, _) = median_min(&samples);
    let extras = alloc::format!("msgs={msgs} ns_per_msg={:.1} gcs=0", med / msgs as f64);
    report("sieve", procs, 1, &samples, &extras);
}
