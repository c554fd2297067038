//! `switch` (gmpos's own, not in Go's program): the floor of a context
//! switch. Two goroutines hand the CPU to each other directly
//! (`gohandoff`: park self, run the other; one `mcall` and one `gogo`, no
//! run queue, no channel), 1,000,000 times each. ns/op = elapsed / the
//! 2,000,000 switches. `yield` and `pingpong` minus this is what their
//! queues and channels cost.
use alloc::sync::Arc;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use super::{now, repeat, report};
use crate::sched::g::{G, WaitReason};
use crate::sched::park::gohandoff;
use crate::sched::{getg, gopark, goready};
use crate::{WaitGroup, go, gosched};

const N: u64 = 1_000_000;

static A: AtomicPtr<G> = AtomicPtr::new(core::ptr::null_mut());
static B: AtomicPtr<G> = AtomicPtr::new(core::ptr::null_mut());
static B_PARKED: AtomicBool = AtomicBool::new(false);

fn g_of(slot: &AtomicPtr<G>) -> NonNull<G> {
    NonNull::new(slot.load(Ordering::Acquire)).expect("switch: partner not published")
}

fn once() -> f64 {
    B_PARKED.store(false, Ordering::SeqCst);
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    // B first, parked before A starts (outside the timing): A's first
    // hand-off resumes it.
    let w = wg.clone();
    go(move || {
        B.store(getg(), Ordering::Release);
        // Published on g0, once B is fully parked (its context saved).
        gopark(
            Some(&|| {
                B_PARKED.store(true, Ordering::Release);
                true
            }),
            WaitReason::Park,
        );
        let a = g_of(&A);
        for _ in 0..N - 1 {
            gohandoff(a, WaitReason::Park);
        }
        // The last one: A, parked in its last hand-off, goes on normally.
        goready(a);
        w.done();
    });
    while !B_PARKED.load(Ordering::Acquire) {
        gosched();
    }
    let t0 = now();
    let w = wg.clone();
    go(move || {
        A.store(getg(), Ordering::Release);
        let b = g_of(&B);
        for _ in 0..N {
            gohandoff(b, WaitReason::Park);
        }
        w.done();
    });
    wg.wait();
    (now() - t0) as f64 / (2 * N) as f64
}

pub fn run(procs: usize) {
    let samples = repeat(1, 5, once);
    report("switch", procs, 2 * N, &samples, "gcs=0");
}
