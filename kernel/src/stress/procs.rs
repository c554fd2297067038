//! Live `set_gomaxprocs` changes while the rest of the round runs: a
//! seeded sequence of P counts (clamped to the CPUs there are), each held
//! for a short sleep, then back to every CPU.
use core::time::Duration;

use super::checksum::fold;
use super::rng::Rng;
use super::round::{Cx, Ops};
use crate::sched::{gomaxprocs, set_gomaxprocs};

pub fn start(cx: &Cx, mut rng: Rng) {
    let steps = rng.range(1, 4);
    let plan: [(u64, u64); 4] = core::array::from_fn(|_| (rng.range(1, 4), rng.range(200, 3000)));
    // The plan is the seed's; what it becomes on this machine (the clamp)
    // is not, so only the plan goes into the checksum.
    for &(n, us) in &plan[..steps as usize] {
        fold(&cx.sum, n << 20 ^ us);
    }
    Ops::add(&cx.ops.procs_changes, steps);
    cx.ledger.go(move || {
        let ncpu = crate::arch::smp::ncpu();
        for &(n, us) in &plan[..steps as usize] {
            let n = (n as usize).min(ncpu);
            set_gomaxprocs(n);
            assert_eq!(gomaxprocs(), n, "stress: set_gomaxprocs({n}) did not take");
            crate::time::sleep(Duration::from_micros(us));
        }
        set_gomaxprocs(ncpu);
    });
}
