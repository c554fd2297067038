//! Goroutines readied into a P's local queue are not starved by CPU hogs
//! cycling through the global queue (issue 10 B): with hogs on every P at
//! `slice=200us`, a goroutine at position k of the local queue (the Gs
//! already queued there first, then ours: `runnext` =
//! 0, then the ring) when it is readied runs within k + 2 slices of its P,
//! whether it was spawned (`go`) or woken (`goready` through a semaphore).
//! Asserted under icount, where host stalls cannot stretch a slice.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::sched::Sema;
use gmpos::testing::sched::WaitReason;
use gmpos::testing::sched::p;
use gmpos::testing::sched::preempt_disable;
use gmpos::{WaitGroup, go};
use qemu_tests::hog;

mod common;

gmpos::qemu_test! {
    config: "
        smp=2,4
        icount=1
        args=slice=200us
        timeout=240
    ",
}

const SLICE_NS: u64 = 200_000;
/// Goroutines readied per round.
const K: usize = 4;
const ROUNDS: usize = 20;

/// Starts two hogs per CPU and returns their stop flag and WaitGroup.
fn start_hogs() -> (Arc<AtomicBool>, Arc<WaitGroup>) {
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    for _ in 0..2 * gmpos::num_cpu() {
        let (s, w) = (stop.clone(), wg.clone());
        wg.add(1);
        go(move || {
            hog(&s, None);
            w.done();
        });
    }
    (stop, wg)
}

/// The position of the i-th goroutine readied in a row: each goes to
/// `runnext` and kicks the previous one to the ring's tail, so the last is
/// at position 0 and the i-th (i < K - 1) at position i + 1.
fn position(i: usize) -> usize {
    if i == K - 1 { 0 } else { i + 1 }
}

/// When and where a readied goroutine started: the time, its CPU, and that
/// CPU's P's `schedtick` (one per slice begun there).
struct Started {
    ns: AtomicU64,
    cpu: AtomicU64,
    tick: AtomicU64,
}

impl Started {
    const fn new() -> Self {
        Started {
            ns: AtomicU64::new(0),
            cpu: AtomicU64::new(0),
            tick: AtomicU64::new(0),
        }
    }

    /// Called first thing by the readied goroutine.
    fn record(&self) {
        let _pin = preempt_disable();
        let cpu = gmpos::testing::hw::percpu::cpu_index();
        self.cpu.store(cpu as u64, Ordering::Relaxed);
        self.tick.store(
            p(cpu).schedtick.load(Ordering::Relaxed) as u64,
            Ordering::Relaxed,
        );
        self.ns.store(now_ns(), Ordering::Release);
    }
}

/// Where the goroutines were readied: the CPU, its P's `schedtick`, the time,
/// and how many Gs were already in that P's local queue (hogs a global
/// batch put there: they are ahead of ours).
struct Readied {
    cpu: usize,
    ahead: usize,
    tick: u32,
    ns: u64,
}

/// Readies K goroutines on this P in a row (with preemption off, so they
/// all land in this P's local queue) through `ready(i)`.
fn ready_all(mut ready: impl FnMut(usize)) -> Readied {
    let _pin = preempt_disable();
    let cpu = gmpos::testing::hw::percpu::cpu_index();
    let r = Readied {
        cpu,
        ahead: p(cpu).runq.len(),
        tick: p(cpu).schedtick.load(Ordering::Relaxed),
        ns: now_ns(),
    };
    for i in 0..K {
        ready(i);
    }
    r
}

/// Busy-waits (as a CPU hog itself) until all K started or 50 slices have
/// passed, then checks each goroutine's delay in slices of its P: at most
/// position + 2 (plus one when Go's 61st-tick global check fell in
/// between). Under icount the time is asserted too, with one slice of
/// slack.
fn check_round(round: usize, r: &Readied, started: &[Started; K], worst: &mut u64) {
    let t0 = now_ns();
    while started.iter().any(|s| s.ns.load(Ordering::Acquire) == 0) && now_ns() - t0 < 50 * SLICE_NS
    {
        core::hint::spin_loop();
    }
    for (i, st) in started.iter().enumerate() {
        let ns = st.ns.load(Ordering::Acquire);
        assert!(
            ns != 0,
            "round {round}: goroutine {i} (local position {}) did not run within 50 slices behind the hogs",
            position(i)
        );
        let delay = ns - r.ns;
        *worst = (*worst).max(delay * 100 / SLICE_NS);
        if st.cpu.load(Ordering::Relaxed) as usize != r.cpu {
            continue; // stolen by another P: not this P's order
        }
        let ticks = (st.tick.load(Ordering::Relaxed) as u32).wrapping_sub(r.tick);
        let sixty_first = (r.tick + 1..=r.tick + ticks).any(|t| t % 61 == 0);
        let bound = (r.ahead + position(i)) as u32 + 2 + sixty_first as u32;
        assert!(
            ticks <= bound,
            "round {round}: goroutine {i} at local position {} ran {ticks} slices of its P after it was readied (bound {bound})",
            (r.ahead + position(i))
        );
        // In time: the same bound plus one slice of slack for switch costs,
        // timer latency and icount's round-robin between vCPUs (the slices
        // themselves are counted exactly above).
        let time_bound = (bound as u64 + 1) * SLICE_NS;
        if common::icount() {
            assert!(
                delay <= time_bound,
                "round {round}: goroutine {i} at local position {} ran {} us after it was readied (bound {} us)",
                (r.ahead + position(i)),
                delay / 1000,
                time_bound / 1000
            );
        }
    }
}

#[gmpos::test]
fn spawned_gs_run_behind_hogs() {
    let (stop, hogs) = start_hogs();
    // Let the hogs spread and fill the global queue.
    qemu_tests::spin_ns(5 * SLICE_NS);
    let mut worst = 0;
    for round in 0..ROUNDS {
        let started = Arc::new([const { Started::new() }; K]);
        let r = ready_all(|i| {
            let st = started.clone();
            go(move || st[i].record());
        });
        check_round(round, &r, &started, &mut worst);
    }
    stop.store(true, Ordering::Relaxed);
    hogs.wait();
    gmpos::test_note!(
        "{ROUNDS} rounds of {K} spawned goroutines behind {} hogs: worst delay {}.{:02} slices",
        2 * gmpos::num_cpu(),
        worst / 100,
        worst % 100
    );
}

#[gmpos::test]
fn woken_gs_run_behind_hogs() {
    let (stop, hogs) = start_hogs();
    qemu_tests::spin_ns(5 * SLICE_NS);
    let mut worst = 0;
    let done = Arc::new(WaitGroup::new());
    for round in 0..ROUNDS {
        let started = Arc::new([const { Started::new() }; K]);
        // K goroutines each parked on its own semaphore.
        let semas: Arc<Vec<Sema>> = Arc::new((0..K).map(|_| Sema::new(0)).collect());
        let parked = Arc::new(AtomicU64::new(0));
        for i in 0..K {
            let (st, se, pk, d) = (started.clone(), semas.clone(), parked.clone(), done.clone());
            done.add(1);
            go(move || {
                pk.fetch_add(1, Ordering::Release);
                se[i].acquire(WaitReason::Park);
                st[i].record();
                d.done();
            });
        }
        // Wait until all K are parked (they may have to wait behind hogs).
        while parked.load(Ordering::Acquire) < K as u64
            || gmpos::testing::sched::nwaiting() < K as u64
        {
            gmpos::gosched();
        }
        let r = ready_all(|i| semas[i].release());
        check_round(round, &r, &started, &mut worst);
    }
    done.wait();
    stop.store(true, Ordering::Relaxed);
    hogs.wait();
    gmpos::test_note!(
        "{ROUNDS} rounds of {K} woken goroutines behind {} hogs: worst delay {}.{:02} slices",
        2 * gmpos::num_cpu(),
        worst / 100,
        worst % 100
    );
}
