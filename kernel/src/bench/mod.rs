//! The benchmark workloads of `shared/BENCH.md`, one file each, in the
//! kernel library so that every kernel can run them: the bench kernels
//! (`qemu-tests/benches/suite.rs`, `make bench`) and the kernel binary's
//! shell. Each workload is a faithful copy of its definition there (same
//! N, same verification, no batching) and prints BENCH.md's line:
//!
//! `bench=<name> procs=<P> n=<count> ns_per_op=<median> min_ns_per_op=<min> reps=<r> [key=value ...]`
//!
//! Time is the invariant TSC (`clock::now_ns`); under QEMU's
//! `-icount shift=0` one virtual ns is one guest instruction. `emulated=1`
//! is added to every line when there is no hardware virtualisation.
//!
//! Two workloads need a clean state per repetition (BENCH.md protocol 5):
//! `spawn_cold` and `park_memory` run **one repetition per boot**
//! ([`Workload::fresh_boot`]): the runner boots a fresh kernel for each and
//! `scripts/bench.sh` folds the `reps=1` lines into one line per procs.
use alloc::string::String;
use alloc::vec::Vec;

mod chan_buffered;
mod fanout;
mod mutex;
mod park_memory;
mod paths;
mod pingpong;
mod preempt_latency;
mod sieve;
mod sleep_accuracy;
mod spawn;
mod spawn_cold;
mod switch;
mod r#yield;

pub use r#yield::round as yield_round;

/// One workload of the suite.
pub struct Workload {
    pub name: &'static str,
    /// Runs it at `procs` Ps (the caller has set them), printing its line.
    pub run: fn(procs: usize),
    /// The procs counts it is defined for (BENCH.md).
    pub procs: &'static [usize],
    /// One repetition per fresh boot (the line says `reps=1`).
    pub fresh_boot: bool,
}

const P12: &[usize] = &[1, 2];
const P1: &[usize] = &[1];

/// Every workload, in BENCH.md's order (plus `switch`, the floor of a
/// context switch, after `yield`).
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn",
        run: spawn::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "spawn_cold",
        run: spawn_cold::run,
        procs: P12,
        fresh_boot: true,
    },
    Workload {
        name: "yield",
        run: r#yield::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "switch",
        run: switch::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "pingpong",
        run: pingpong::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "chan_buffered",
        run: chan_buffered::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "mutex",
        run: mutex::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "fanout",
        run: fanout::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "sieve",
        run: sieve::run,
        procs: P12,
        fresh_boot: false,
    },
    Workload {
        name: "preempt_latency",
        run: preempt_latency::run,
        procs: P1,
        fresh_boot: false,
    },
    Workload {
        name: "park_memory",
        run: park_memory::run,
        procs: P12,
        fresh_boot: true,
    },
    Workload {
        name: "paths",
        run: paths::run,
        procs: P1,
        fresh_boot: false,
    },
    Workload {
        name: "sleep_accuracy",
        run: sleep_accuracy::run,
        procs: P1,
        fresh_boot: false,
    },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// Runs workload `w` at each of its procs counts that this machine has
/// CPUs for (procs=1 first), then restores gomaxprocs. `only` restricts it
/// to one procs count (a fresh-boot repetition is one boot per procs).
pub fn run(w: &Workload, only: Option<usize>) {
    let before = crate::sched::gomaxprocs();
    for &procs in w.procs {
        if only.is_some_and(|p| p != procs) {
            continue;
        }
        if procs > crate::num_cpu() {
            crate::println!(
                "# bench {}: procs={procs} skipped ({} CPU(s))",
                w.name,
                crate::num_cpu()
            );
            continue;
        }
        crate::set_gomaxprocs(procs);
        (w.run)(procs);
    }
    crate::set_gomaxprocs(before);
}

/// Nanoseconds since boot (the TSC; Go: `nanotime`).
#[inline]
pub fn now() -> u64 {
    crate::clock::now_ns()
}

/// Runs `rep` `warm` times (discarded) then `reps` times, collecting the
/// ns/op figure each measured repetition returns.
pub fn repeat(warm: usize, reps: usize, mut rep: impl FnMut() -> f64) -> Vec<f64> {
    for _ in 0..warm {
        rep();
    }
    (0..reps).map(|_| rep()).collect()
}

/// Is this an emulator without hardware virtualisation (QEMU TCG)? Under
/// KVM the hypervisor leaf says `KVMKVMKVM`; TCG says `TCGTCGTCGTCG`
/// (or nothing, for an old QEMU).
pub fn emulated() -> bool {
    let f = core::arch::x86_64::__cpuid(1);
    if f.ecx & (1 << 31) == 0 {
        // No hypervisor bit: bare metal.
        return false;
    }
    let r = core::arch::x86_64::__cpuid(0x4000_0000);
    let mut v = [0u8; 12];
    v[0..4].copy_from_slice(&r.ebx.to_le_bytes());
    v[4..8].copy_from_slice(&r.ecx.to_le_bytes());
    v[8..12].copy_from_slice(&r.edx.to_le_bytes());
    &v == b"TCGTCGTCGTCG" || v == [0; 12]
}

/// Median and minimum (a median of an even count is the mean of the two
/// middle values).
pub fn median_min(samples: &[f64]) -> (f64, f64) {
    let mut s: Vec<f64> = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    (med, s[0])
}

/// The median of integer samples (the upper middle one of an even count).
pub fn median_u64(samples: &[u64]) -> u64 {
    let mut s = samples.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(0)
}

/// Prints one benchmark line; `per_op` holds one figure per measured
/// repetition, `extras` the `key=value` pairs after `reps=`.
pub fn report(name: &str, procs: usize, n: u64, per_op: &[f64], extras: &str) {
    let (med, min) = median_min(per_op);
    crate::println!(
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

/// A progress line (`# ` lines are echoed by the runner; they are not
/// benchmark lines).
pub fn progress(name: &str, procs: usize, what: &str) {
    crate::println!("# bench {name} procs={procs}: {what}");
}

/// `"a=1 b=2"` from pairs.
pub fn extras(pairs: &[(&str, String)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}
