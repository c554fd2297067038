//! Goroutines recursing deep and coming back: each stack grows by page
//! faults to ~`depth` KiB and shrinks again when the goroutine is
//! preempted or parks (`sched/stack.rs`).
use super::checksum::fold;
use super::rng::Rng;
use super::round::Cx;

/// 1 KiB of frame per level, touched so the pages really fault in.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    let mut buf = [0u8; 1024];
    buf[(n % 1024) as usize] = n as u8;
    core::hint::black_box(&mut buf);
    if n == 0 {
        buf[0] as u64
    } else {
        recurse(n - 1).wrapping_mul(31) + buf[(n % 1024) as usize] as u64
    }
}

pub fn start(cx: &Cx, mut rng: Rng) {
    for _ in 0..rng.range(1, 4) {
        let depth = rng.range(16, 256);
        let sum = cx.sum.clone();
        cx.ledger.go(move || {
            let a = recurse(depth);
            // Back down, then again: the second descent refaults what the
            // shrink (if one ran in between) unmapped.
            crate::sched::gosched();
            let b = recurse(depth);
            assert_eq!(a, b, "stress: the same recursion gave two results");
            fold(&sum, a ^ depth);
        });
    }
}
