//! The concurrent prime sieve from the Go tour, unchanged in spirit:
//! `make run EXAMPLE=sieve`. A generator goroutine sends 2, 3, 4, ... into
//! an unbuffered channel; each prime found starts a filter goroutine that
//! passes on what its prime does not divide. A daisy chain of goroutines,
//! every hand-off a direct copy from sender to receiver (Go's `sendDirect`).
//! Then a `select!` with a quit channel, Go's other classic.
#![no_std]
#![no_main]

extern crate alloc;

use gmpos::{Chan, Instant, chan, go, println, select};

gmpos::kernel_main!(main);

/// Sends 2, 3, 4, ... to `ch` (Go: `func generate(ch chan<- int)`).
fn generate(ch: Chan<u64>) {
    let mut i = 2;
    loop {
        // Go: for i := 2; ; i++
        ch.send(i);
        i += 1;
    }
}

/// Copies from `input` to `output` what `prime` does not divide.
fn filter(input: Chan<u64>, output: Chan<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 {
            output.send(i);
        }
    }
}

/// Fibonacci numbers until told to quit (Go tour: "select").
fn fibonacci(c: &Chan<u64>, quit: &Chan<()>) {
    let (mut x, mut y) = (0u64, 1u64);
    loop {
        select! {
            send(c, x) => {
                (x, y) = (y, x + y);
            },
            recv(quit) => {
                println!("fibonacci: quit");
                return;
            },
        }
    }
}

fn main() {
    let t = Instant::now();
    let mut ch = chan::<u64>(0);
    let gen_ch = ch.clone();
    go(move || generate(gen_ch));
    let mut last = 0;
    for n in 1..=100 {
        let prime = ch.recv().expect("the generator never closes");
        if n % 20 == 0 {
            println!("sieve: prime #{n} = {prime}");
        }
        last = prime;
        let next = chan::<u64>(0);
        let (input, output) = (ch.clone(), next.clone());
        go(move || filter(input, output, prime));
        ch = next;
    }
    assert_eq!(last, 541, "the 100th prime");
    println!(
        "sieve: 100 primes through 100 goroutines in {:?}",
        t.elapsed()
    );

    let c = chan::<u64>(0);
    let quit = chan::<()>(0);
    let (c2, q2) = (c.clone(), quit.clone());
    go(move || {
        for _ in 0..10 {
            let v = c2.recv().unwrap();
            println!("fibonacci: {v}");
        }
        q2.send(());
    });
    fibonacci(&c, &quit);
}
