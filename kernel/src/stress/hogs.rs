//! CPU hogs: tight loops with no calls, no yields and no allocation, so
//! only asynchronous preemption (the timer interrupt) takes the CPU from
//! them. A fixed number of iterations each, so the result is the seed's.
use super::checksum::fold;
use super::rng::Rng;
use super::round::Cx;

/// The hog's loop, kept out of line so its code is the loop alone.
#[inline(never)]
fn spin(seed: u64, iters: u64) -> u64 {
    let mut x = seed;
    let mut i = 0;
    while i < iters {
        // `black_box`: the loop must really run, not be folded away.
        x = core::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        i += 1;
    }
    x
}

pub fn start(cx: &Cx, mut rng: Rng) {
    for _ in 0..rng.range(1, 3) {
        let iters = rng.range(500_000, 3_000_000);
        let seed = rng.next_u64();
        let sum = cx.sum.clone();
        cx.ledger.go(move || fold(&sum, spin(seed, iters)));
    }
}
