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
    //! Benchmark lines in the format of `shared/BENCH.md`:
    //! `bench=<name> procs=<P> n=<count> ns_per_op=<median> min_ns_per_op=<min> reps=<r> [key=value ...]`
    use alloc::vec::Vec;

    /// Is this an emulator without hardware virtualisation (QEMU TCG)?
    pub fn emulated() -> bool {
        let id = raw_cpuid_vendor();
        id == *b"TCGTCGTCGTCG" || id == [0; 12]
    }

    fn raw_cpuid_vendor() -> [u8; 12] {
        // Leaf 0x4000_0000 is the hypervisor vendor leaf (meaningless on
        // bare metal, where the hypervisor bit is clear and we do not look).
        let f = core::arch::x86_64::__cpuid(1);
        let has_hv = f.ecx & (1 << 31) != 0;
        let r = core::arch::x86_64::__cpuid(0x4000_0000);
        if !has_hv {
            return [1; 12];
        }
        let mut v = [0u8; 12];
        v[0..4].copy_from_slice(&r.ebx.to_le_bytes());
        v[4..8].copy_from_slice(&r.ecx.to_le_bytes());
        v[8..12].copy_from_slice(&r.edx.to_le_bytes());
        v
    }

    /// Median and minimum of per-op figures.
    pub fn median_min(samples: &[f64]) -> (f64, f64) {
        let mut s: Vec<f64> = samples.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = s.len();
        let med = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        (med, s[0])
    }

    /// Prints one benchmark line. `per_op` holds one ns/op figure per
    /// measured repetition.
    pub fn report(name: &str, procs: usize, n: u64, per_op: &[f64], extras: &str) {
        let (med, min) = median_min(per_op);
        gmpos::println!(
            "bench={} procs={} n={} ns_per_op={:.1} min_ns_per_op={:.1} reps={}{}{}{}",
            name,
            procs,
            n,
            med,
            min,
            per_op.len(),
            if extras.is_empty() { "" } else { " " },
            extras,
            if emulated() { " emulated=1" } else { "" }
        );
    }
}
