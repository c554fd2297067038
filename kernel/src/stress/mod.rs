//! The seeded stress workload (`stress seed=S secs=T` on the command line,
//! `make stress`, and a short run in `make test`): every kind of work the
//! scheduler does, at once, from one seed, with checks that fail with the
//! goroutine dump (the panic path prints it).
//!
//! A **round** (`round.rs`) runs, concurrently: a spawn tree with nested
//! WaitGroups (`tree.rs`), a channel pipeline and a select network with
//! timeouts (`chans.rs`), Mutex bank transfers with an auditor
//! (`bank.rs`), sleeps, timers, a ticker, an `after_func` and `gosched`
//! loops (`timers.rs`), deep recursion (`deep.rs`), tight-loop CPU hogs
//! only asynchronous preemption interrupts (`hogs.rs`), live
//! `set_gomaxprocs` changes (`procs.rs`) and cross-calls (`xcall.rs`).
//! `storm=1` adds IPI and cross-call floods from every CPU (`storm.rs`).
//!
//! **The run** ([`run`]): a warm-up round, the baseline (`leak.rs`), then
//! pass A (rounds `seed, seed+1, ...` for half of `secs`), pass B (the same
//! rounds again), then the checks: every round's goroutines each ran
//! exactly once (`ledger.rs`), each kind's invariants held (in its
//! goroutines), both passes gave the same checksum (`checksum.rs`: only
//! what the seed decides), async preemptions happened, and after the
//! goroutines and timers drained the counters are back at the baseline
//! with the kept structures accounted (`leak.rs`). One line reports it
//! (`report.rs`).
//!
//! The watchdog (`watchdog=1`, its own word) runs beside the workload
//! unchanged: the run only adds load.
pub mod checksum;
pub mod leak;
pub mod report;
pub mod rng;

#[cfg(target_os = "none")]
mod bank;
#[cfg(target_os = "none")]
mod chans;
#[cfg(target_os = "none")]
mod deep;
#[cfg(target_os = "none")]
mod hogs;
#[cfg(target_os = "none")]
mod ledger;
#[cfg(target_os = "none")]
mod procs;
#[cfg(target_os = "none")]
pub mod round;
#[cfg(target_os = "none")]
pub mod storm;
#[cfg(target_os = "none")]
mod timers;
#[cfg(target_os = "none")]
mod tree;
#[cfg(target_os = "none")]
mod xcall;

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use core::sync::atomic::Ordering;
    use core::time::Duration;

    use super::leak::{self, Costs, Leaks, Snapshot};
    use super::report::Report;
    use super::{checksum, round, storm};
    use crate::clock::now_ns;
    use crate::cmdline::{Stress, StressBug};
    use crate::layout::PAGE_SIZE;
    use crate::mem::{frame, heap, tlb_epoch};
    use crate::sched::schedt::{SCHED, nwaiting};
    use crate::sched::{latency, p, stack, sudog};

    /// How long the run waits for the goroutines and timers of the last
    /// round to drain before the leak check calls what is left a leak.
    const DRAIN_LIMIT_NS: u64 = 10_000_000_000;
    /// Reads of the counters before a mismatch counts as a leak.
    const LEAK_READS: u32 = 5;

    /// The `stress` command-line words' entry (main.rs): runs, prints the
    /// line, panics (goroutine dump, status 2) if a check failed.
    pub fn main() {
        let r = run(&crate::init::config().stress);
        crate::println!("{r}");
    }

    fn snapshot() -> Snapshot {
        let (total, free) = frame::stats();
        let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
        let g = crate::sched::getg();
        // SAFETY: the running goroutine's G is valid while it runs; its
        // stack bounds are written only by itself and its own faults.
        let own = unsafe {
            (*g).stack_hi.load(Ordering::Relaxed) - (*g).stack_lo.load(Ordering::Relaxed)
        };
        Snapshot {
            frames_used: total - free,
            heap_in_use: heap::stats().in_use,
            stack_mapped: stack::mapped_bytes(),
            goroutines: crate::sched::num_goroutine(),
            timers: (0..ncpu).map(|i| p::p(i).timers.pending() as u64).sum(),
            gs_allocated: SCHED.nallocated.load(Ordering::Relaxed),
            sudogs_allocated: sudog::allocated(),
            table_frames: frame::table_frames(),
            limbo_frames: tlb_epoch::limbo_frames(),
            reserve_frames: stack::reserved_frames(),
            timer_heap_bytes: (0..ncpu)
                .map(|i| p::p(i).timers.capacity_bytes() as u64)
                .sum(),
            own_stack: own,
        }
    }

    /// (async, cooperative) preemptions and steals, over every P that can
    /// exist (`set_gomaxprocs` changes which are in use).
    fn sched_counters() -> (u64, u64, u64) {
        let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
        let mut t = (0, 0, 0);
        for i in 0..ncpu {
            let c = &p::p(i).counters;
            t.0 += c.async_preempts.load(Ordering::Relaxed);
            t.1 += c.coop_preempts.load(Ordering::Relaxed);
            t.2 += c.steals.load(Ordering::Relaxed);
        }
        t
    }

    /// Waits until the goroutines and pending timers are back at `base`'s
    /// (then the TLB epoch is forced, so limbo lets go of what it can), or
    /// until what is left can never finish: every goroutine but this one
    /// parked with no timer pending (nothing but this goroutine could wake
    /// them, and it will not), or after `DRAIN_LIMIT_NS`.
    fn drain(base: &Snapshot) {
        let t = now_ns();
        loop {
            let s = snapshot();
            if s.goroutines == base.goroutines && s.timers <= base.timers {
                break;
            }
            let stuck = s.timers <= base.timers && nwaiting() + 1 == s.goroutines;
            if stuck || now_ns() - t > DRAIN_LIMIT_NS {
                break; // the leak check names what is left
            }
            crate::time::sleep(Duration::from_millis(1));
        }
        tlb_epoch::force_epoch();
    }

    /// One pass: rounds `seed..seed+n` (or as many as fit in `ms` when `n`
    /// is `None`); returns (rounds, chained checksum, summed counts; their
    /// `checksum` is the first round's, comparable between boots and CPU
    /// counts whatever the number of rounds).
    fn pass(seed: u64, n: Option<u64>, ms: u64, bug: Option<StressBug>) -> (u64, u64, round::Done) {
        let t = now_ns();
        let (mut i, mut acc, mut tot) = (0u64, 0u64, round::Done::default());
        loop {
            match n {
                Some(n) if i >= n => break,
                None if i > 0 && now_ns() - t >= ms * 1_000_000 => break,
                _ => {}
            }
            let d = round::run(seed.wrapping_add(i), bug);
            acc = checksum::chain(acc, d.checksum);
            if i == 0 {
                tot.checksum = d.checksum;
            }
            tot.goroutines += d.goroutines;
            tot.chan_ops += d.chan_ops;
            tot.transfers += d.transfers;
            tot.xcalls += d.xcalls;
            tot.procs_changes += d.procs_changes;
            tot.timeouts += d.timeouts;
            i += 1;
        }
        (i, acc, tot)
    }

    /// The run (see the module documentation); panics if a check fails.
    pub fn run(o: &Stress) -> Report {
        let t0 = now_ns();
        let ncpu = crate::arch::smp::ncpu();
        // What is live before the run (main, and whatever the caller runs).
        let before = snapshot();
        // The warm-up round fills the caches the baseline then includes.
        round::run(o.seed ^ 0x5741_524d, None);
        let costs = Costs {
            page: PAGE_SIZE,
            g_bytes: core::mem::size_of::<crate::sched::G>() as u64,
            sudog_bytes: core::mem::size_of::<sudog::KSudog>() as u64,
        };
        drain(&before);
        let base = snapshot();
        assert_eq!(
            base.goroutines, before.goroutines,
            "stress: the warm-up round left goroutines behind"
        );

        latency::reset();
        latency::set_tracking(true);
        let storm = o.storm.then(storm::start);
        let storm_tick_hz = if storm.is_some() {
            storm::probe(300)
        } else {
            0
        };
        let (a0, c0, s0) = sched_counters();
        let half = o.secs * 1000 / 2;
        let (rounds, sum_a, tot_a) = pass(o.seed, None, half, None);
        let (_, sum_b, tot_b) = pass(o.seed, Some(rounds), 0, o.bug);
        let (a1, c1, s1) = sched_counters();
        let storm_xcalls = storm.map(storm::Storm::stop).unwrap_or(0);
        latency::set_tracking(false);
        let (max_lat, _) = latency::max();
        let mut sum_b = sum_b;
        if o.bug == Some(StressBug::Checksum) {
            sum_b = checksum::chain(sum_b, 1);
        }

        // `stressbug=leak`: a goroutine parked forever on a channel nobody
        // sends on (its sender kept alive, so it is a leak, not a deadlock).
        if o.bug == Some(StressBug::Leak) {
            let c = crate::sync::chan::<u8>(0);
            let keep = c.clone();
            core::mem::forget(keep);
            crate::sched::go(move || {
                c.recv();
            });
        }
        drain(&base);
        // The counters are read one after another while other CPUs may
        // still move a frame between the free list, their reserve and the
        // limbo: a mismatch that goes away when read again was that, not
        // a leak (a leak stays).
        let (mut now, mut leaks) = (snapshot(), Leaks::default());
        for i in 0..LEAK_READS {
            now = snapshot();
            leaks = leak::leaks(&base, &now, &costs);
            if leaks.count() == 0 {
                break;
            }
            crate::println!("stress: leak check, read {}: {leaks}", i + 1);
            crate::time::sleep(Duration::from_millis(10));
            tlb_epoch::force_epoch();
        }

        let r = Report {
            seed: o.seed,
            secs: o.secs,
            ms: (now_ns() - t0) / 1_000_000,
            cpus: ncpu,
            slice_us: crate::init::config().slice_ns / 1000,
            rounds,
            goroutines: tot_a.goroutines + tot_b.goroutines,
            chan_ops: tot_a.chan_ops + tot_b.chan_ops,
            transfers: tot_a.transfers + tot_b.transfers,
            xcalls: tot_a.xcalls + tot_b.xcalls,
            timeouts: tot_a.timeouts + tot_b.timeouts,
            procs_changes: tot_a.procs_changes + tot_b.procs_changes,
            async_preempts: a1 - a0,
            coop_preempts: c1 - c0,
            steals: s1 - s0,
            max_latency_us: max_lat / 1000,
            storm_xcalls,
            storm_tick_hz,
            checksum: sum_a,
            first_checksum: tot_a.checksum,
            leaks,
        };
        // Print the line before judging: a failure shows what the run did.
        if sum_a != sum_b || leaks.count() != 0 || r.async_preempts == 0 {
            crate::println!("{r}");
            crate::println!("stress: leak check: {leaks}");
        }
        assert_eq!(
            sum_a, sum_b,
            "stress: seed {} gave two checksums in one boot ({rounds} rounds each)",
            o.seed
        );
        assert!(
            r.async_preempts > 0,
            "stress: the CPU hogs ran without one asynchronous preemption"
        );
        assert!(
            leaks.count() == 0,
            "stress: leak after the run: {leaks} (baseline {base:?}, now {now:?})"
        );
        r
    }
}
