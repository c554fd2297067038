//! Demos that teach GMP: small goroutine programs, one file each, that
//! print what the scheduler did (steals, preemptions, mutex starvation,
//! switch costs, Go's deadlock report) and end with a one-line summary
//! `demo NAME: ...`. The kernel binary runs one with `demo=NAME` on the
//! command line; the serial shell's `run NAME [args]` runs them too; the
//! `demos` test kernel cancels each one.
//!
//! # The contract every demo keeps
//!
//! - `run(ctx, args)` runs on the calling goroutine. `args` are optional
//!   `key=value` words ([`args::parse`]): an unknown key or a bad value is
//!   `Err` with one line naming the word, before anything starts.
//! - Goroutines cannot be killed (Go has no `kill` either), so a demo
//!   watches `ctx`: every goroutine it starts waits in `select!` with
//!   `ctx.done()` or checks `ctx.err()` in its loop. When `ctx` is done the
//!   demo winds down and returns `Err("demo NAME: context canceled ...")`
//!   (Go's `return ctx.Err()`); finished, it prints its summary and
//!   returns `Ok(())`.
//! - Every goroutine it started has finished its work when it returns (a
//!   `WaitGroup` whose `done` is each goroutine's last act), so
//!   `num_goroutine` goes back to its value before the demo.
//! - It takes a couple of seconds at most at -smp 2 under TCG by default.
//!
//! The table below is the one list of demos: `find`, the shell's `run`, the
//! `demo=` word, `make test-demos` (which greps the `name:` lines here) and
//! the `demos` test kernel all read it.
pub mod args;

#[cfg(target_os = "none")]
mod deadlock;
#[cfg(target_os = "none")]
mod fanout;
#[cfg(target_os = "none")]
mod philosophers;
#[cfg(target_os = "none")]
mod pingpong;
#[cfg(target_os = "none")]
mod pipeline;
#[cfg(target_os = "none")]
mod pool;
#[cfg(target_os = "none")]
mod preempt;
#[cfg(target_os = "none")]
mod sieve;

#[cfg(target_os = "none")]
pub use runtime::*;

#[cfg(target_os = "none")]
mod runtime {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use crate::context::Context;

    /// One demo: its name (`run NAME`, `demo=NAME`), a line about what it
    /// shows (the shell's `help`), and its entry point (see the module
    /// documentation for the contract).
    pub struct Demo {
        pub name: &'static str,
        pub about: &'static str,
        pub run: fn(&Context, &str) -> Result<(), String>,
    }

    /// Every demo, in the order a reader meets GMP: channels, Ps and
    /// stealing, preemption, select, the pool, mutexes, switch cost, the
    /// deadlock detector.
    static DEMOS: &[Demo] = &[
        Demo {
            name: "sieve",
            about: "the channel prime sieve: a daisy chain of goroutines over unbuffered channels",
            run: super::sieve::run,
        },
        Demo {
            name: "fanout",
            about: "parallel fib over goroutines: idle Ps steal work, steal counts per P",
            run: super::fanout::run,
        },
        Demo {
            name: "preempt",
            about: "spinning goroutines vs. a ticker: async preemption keeps it on time (compare preempt=coop)",
            run: super::preempt::run,
        },
        Demo {
            name: "pipeline",
            about: "generator, workers and a consumer with select!, per-value timeouts and a deadline",
            run: super::pipeline::run,
        },
        Demo {
            name: "pool",
            about: "the goroutine pool: priorities, extra workers that retire, shutdown",
            run: super::pool::run,
        },
        Demo {
            name: "philosophers",
            about: "dining philosophers on Mutexes: parking, hand-offs and starvation mode",
            run: super::philosophers::run,
        },
        Demo {
            name: "pingpong",
            about: "two goroutines over unbuffered channels: the cost of a hand-off",
            run: super::pingpong::run,
        },
        Demo {
            name: "deadlock",
            about: "goroutines all blocked in select! with no timer pending: Go's deadlock report",
            run: super::deadlock::run,
        },
    ];

    /// Every demo (the table above).
    pub fn all() -> &'static [Demo] {
        DEMOS
    }

    /// The demo called `name`.
    pub fn find(name: &str) -> Option<&'static Demo> {
        DEMOS.iter().find(|d| d.name == name)
    }

    /// The names, blank-separated (for "unknown demo" messages).
    pub fn names() -> String {
        let v: Vec<&str> = DEMOS.iter().map(|d| d.name).collect();
        v.join(" ")
    }

    /// One line for a name that is no demo: names it and lists the demos.
    pub fn unknown(name: &str) -> String {
        format!("unknown demo `{name}` (demos: {})", names())
    }

    /// The `Err` a demo returns when `ctx` ended it early: Go's `ctx.Err()`
    /// text and how far it got.
    pub(super) fn stopped(demo: &str, ctx: &Context, progress: core::fmt::Arguments) -> String {
        let why = ctx
            .err()
            .map_or(String::from("stopped"), |e| format!("{e}"));
        format!("demo {demo}: {why} after {progress}")
    }

    /// One counter of every P in use, P0 first (`delta` of two such
    /// snapshots is what a demo did).
    pub(super) fn per_p(field: fn(&crate::sched::p::PCounters) -> u64) -> Vec<u64> {
        (0..crate::sched::schedt::gomaxprocs())
            .map(|i| field(&crate::sched::p::p(i).counters))
            .collect()
    }

    /// `after - before`, element-wise (`before` may be shorter if
    /// gomaxprocs grew meanwhile).
    pub(super) fn delta(after: &[u64], before: &[u64]) -> Vec<u64> {
        after
            .iter()
            .enumerate()
            .map(|(i, a)| a.saturating_sub(before.get(i).copied().unwrap_or(0)))
            .collect()
    }
}
