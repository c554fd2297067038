//! `park_memory` (BENCH.md 9, one repetition per fresh boot): N
//! goroutines each `started.Done(); <-ch; exited.Done()` on one unbuffered
//! channel nobody sends on. After `started.Wait()` and a 50 ms sleep (the
//! last ones reach the receive), the memory deltas per goroutine:
//! `stack_B_per_g` (mapped stack), `heap_B_per_g` (heap in use: G structs,
//! sudogs, closures), `sys_B_per_g` (frames: stacks and page tables) and
//! `total_B_per_g` (frames + heap, the figure compared with Go's
//! StackInuse+HeapInuse). Timed: `close(ch)` and `exited.Wait()`, / N;
//! `spawn_ns_per_g` = first spawn to `started.Wait()` returning, / N.
use alloc::sync::Arc;

use super::{now, report};
use crate::{Duration, WaitGroup, chan, go, read_mem_stats, sleep};

const N: u64 = 100_000;

pub fn run(procs: usize) {
    let m0 = read_mem_stats();
    let ch = chan::<()>(0);
    let started = Arc::new(WaitGroup::new());
    let exited = Arc::new(WaitGroup::new());
    started.add(N as i64);
    exited.add(N as i64);
    let t0 = now();
    for _ in 0..N {
        let (c, s, e) = (ch.clone(), started.clone(), exited.clone());
        go(move || {
            s.done();
            let _ = c.recv();
            e.done();
        });
    }
    started.wait();
    let spawn_ns = (now() - t0) as f64 / N as f64;
    sleep(Duration::from_millis(50));
    let m1 = read_mem_stats();
    let frames_b = (m0.frames_free - m1.frames_free) * 4096;
    let heap_b = m1.heap_in_use.saturating_sub(m0.heap_in_use);
    let stack_b = m1.stack_mapped - m0.stack_mapped;
    let t1 = now();
    ch.close();
    exited.wait();
    let wake_ns = (now() - t1) as f64 / N as f64;
    let extras = alloc::format!(
        "sys_B_per_g={} stack_B_per_g={} heap_B_per_g={} total_B_per_g={} spawn_ns_per_g={spawn_ns:.0} new_gs={} gcs=0 fresh_boot=1",
        frames_b / N,
        stack_b / N,
        heap_b / N,
        (frames_b + heap_b) / N,
        m1.goroutines_allocated - m0.goroutines_allocated
    );
    report("park_memory", procs, N, &[wake_ns], &extras);
}
