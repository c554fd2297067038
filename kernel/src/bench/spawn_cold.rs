//! `spawn_cold` (BENCH.md 1b): exactly `spawn`, one repetition per fresh
//! boot, so every G and stack is newly allocated (no free G, no cached
//! stack: only the handful of Gs the boot itself freed exist). The runner
//! boots once per repetition (`make bench` does three per procs) and
//! `scripts/bench.sh` folds the `reps=1` lines into one.
use super::report;
use crate::read_mem_stats;

pub fn run(procs: usize) {
    let m0 = read_mem_stats();
    let ns = super::spawn::once();
    let m1 = read_mem_stats();
    // The point of a cold run: the Gs were allocated, not reused.
    let new_gs = m1.goroutines_allocated - m0.goroutines_allocated;
    let extras = alloc::format!("new_gs={new_gs} gcs=0 fresh_boot=1");
    report("spawn_cold", procs, super::spawn::N, &[ns], &extras);
}
