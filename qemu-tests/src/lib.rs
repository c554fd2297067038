//! Helpers shared by the QEMU test and benchmark kernels.
#![no_std]

extern crate alloc;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::testing::hw::{now_ns, tsc};

pub mod workload;

/// A CPU hog: a tight loop with no calls and no yields, until `stop`, so
/// only asynchronous preemption takes the CPU from it (the preemption and
/// fairness tests rely on that). Adds 1 to `work`, if given, every 4096
/// iterations (progress without an atomic per iteration); returns the
/// iteration count.
pub fn hog(stop: &AtomicBool, work: Option<&AtomicU64>) -> u64 {
    let mut x = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // `black_box`: the loop must really run, not be folded away.
        x = core::hint::black_box(x.wrapping_add(1));
        if x & 0xfff == 0
            && let Some(w) = work
        {
            w.fetch_add(1, Ordering::Relaxed);
        }
    }
    x
}

/// Busy-waits `ns` nanoseconds of TSC time without yielding (interrupts
/// stay as they are, so a goroutine doing this is preempted like a hog).
/// Paced (`tsc::pace`) so that emulated time advances under QEMU's TCG.
pub fn spin_ns(ns: u64) {
    let until = now_ns() + ns;
    while now_ns() < until {
        tsc::pace();
    }
}

/// A small xorshift64 PRNG: deterministic, seeded sequences for tests (sizes,
/// depths, sleep times).
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next value of the sequence.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub mod bench {
    //! Benchmark lines in the format of `shared/BENCH.md`: the kernel's
    //! own (`gmpos::bench`, where the suite's workloads live).
    pub use gmpos::bench::{emulated, median_min, report};
}

/// Go's concurrent prime sieve (a daisy chain of filter goroutines over
/// unbuffered channels), bounded so it ends: the generator stops after
/// `max` and each filter closes its output when its input is closed. The
/// channel and knob test kernels check its 500th prime (3571).
pub fn sieve(n: usize, max: u64) -> alloc::vec::Vec<u64> {
    let mut ch: gmpos::Chan<u64> = gmpos::chan(0);
    let gen_out = ch.clone();
    gmpos::go(move || {
        for i in 2..=max {
            gen_out.send(i);
        }
        gen_out.close();
    });
    let mut primes = alloc::vec::Vec::new();
    for _ in 0..n {
        let p = ch.recv().expect("the sieve ran dry");
        primes.push(p);
        let next: gmpos::Chan<u64> = gmpos::chan(0);
        let (inp, out) = (ch.clone(), next.clone());
        gmpos::go(move || {
            for v in &inp {
                if v % p != 0 {
                    out.send(v);
                }
            }
            out.close();
        });
        ch = next;
    }
    // Drain the tail so every goroutine of the chain ends.
    for _ in &ch {}
    primes
}
