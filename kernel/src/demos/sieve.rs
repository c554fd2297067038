//! `sieve`: the concurrent prime sieve of the Go tour. A generator sends
//! 2, 3, 4, ... into an unbuffered channel; every prime found starts a
//! filter goroutine that passes on what its prime does not divide. A
//! daisy chain of `n` goroutines: each hand-off parks the sender until the
//! receiver takes the value (Go's `sendDirect` copies it straight into the
//! receiver's slot), so one number crosses many goroutines and Ps.
//!
//! Shutdown without killing anyone: every stage selects on its channels
//! *and* `done`, so cancelling `done` unblocks the whole chain at once.
use alloc::sync::Arc;

use super::args::{Param, parse};
use super::stopped;
use crate::context::Context;
use crate::sync::{Chan, WaitGroup, chan};
use crate::time::Instant;
use crate::{go, println, select};

const PARAMS: &[Param] = &[Param::count("n", 100, 1, 1_000_000)];

/// Sends 2, 3, 4, ... until `done` (Go: `func generate(ch chan<- int)`).
fn generate(out: Chan<u64>, done: Option<Chan<()>>) {
    let mut i = 2;
    loop {
        select! {
            send(&out, i) => i += 1,
            recv(done.as_ref()) => return,
        }
    }
}

/// Passes on what `prime` does not divide, until `done`.
fn filter(input: Chan<u64>, output: Chan<u64>, prime: u64, done: Option<Chan<()>>) {
    loop {
        let v = select! {
            v = recv(&input) => v.expect("sieve: channels are never closed"),
            recv(done.as_ref()) => return,
        };
        if v % prime != 0 {
            select! {
                send(&output, v) => {},
                recv(done.as_ref()) => return,
            }
        }
    }
}

/// The `n`th prime by trial division: the check of the chain's answer.
fn nth_prime(n: u64) -> u64 {
    let (mut found, mut k) = (0, 1u64);
    while found < n {
        k += 1;
        if (2..).take_while(|d| d * d <= k).all(|d| k % d != 0) {
            found += 1;
        }
    }
    k
}

pub fn run(ctx: &Context, args: &str) -> Result<(), alloc::string::String> {
    let [n] = parse("sieve", PARAMS, args)?[..] else {
        unreachable!()
    };
    println!(
        "sieve: a generator and one filter goroutine per prime, unbuffered channels between them"
    );
    // Our own cancel: stops the chain when we have our n primes, and when
    // the caller's ctx is done (a child of it).
    let (inner, cancel) = ctx.with_cancel();
    let done = inner.done().cloned();
    let wg = Arc::new(WaitGroup::new());
    let t0 = Instant::now();
    let mut ch = chan::<u64>(0);
    {
        let (out, done, wg) = (ch.clone(), done.clone(), wg.clone());
        wg.add(1);
        go(move || {
            generate(out, done);
            wg.done();
        });
    }
    let (mut found, mut last) = (0, 0);
    while found < n {
        let prime = select! {
            v = recv(&ch) => v.expect("sieve: channels are never closed"),
            recv(done.as_ref()) => break,
        };
        found += 1;
        last = prime;
        if found <= 10 || found % (n / 5).max(1) == 0 {
            println!(
                "sieve: prime #{found} = {prime} ({} goroutines)",
                crate::num_goroutine()
            );
        }
        let next = chan::<u64>(0);
        let (input, output, done, wg) = (ch.clone(), next.clone(), done.clone(), wg.clone());
        wg.add(1);
        go(move || {
            filter(input, output, prime, done);
            wg.done();
        });
        ch = next;
    }
    let took = t0.elapsed();
    let peak = crate::num_goroutine();
    cancel.cancel();
    wg.wait();
    if found < n {
        return Err(stopped("sieve", ctx, format_args!("{found} of {n} primes")));
    }
    let want = nth_prime(n);
    if last != want {
        return Err(alloc::format!(
            "demo sieve: prime #{n} came out as {last}, trial division says {want}"
        ));
    }
    println!(
        "demo sieve: {n} primes through a chain of {n} filter goroutines ({peak} goroutines at the end) in {took:?}; prime #{n} = {last}"
    );
    Ok(())
}
