//! The work checksum: a commutative fold, so the order goroutines finish
//! in does not change it; only values the seed decides go in (sizes, sums,
//! recursion results, op counts), never timing-dependent outcomes (which
//! `select!` case won, how long a hog spun, how many timeouts fired).
use core::sync::atomic::{AtomicU64, Ordering};

/// Mixes `v` so that equal contributions from different tasks do not
/// cancel or collide trivially (the fold itself is a wrapping add).
pub fn mix(v: u64) -> u64 {
    // splitmix64's finaliser.
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Adds `v` to the fold `sum` (commutative and associative).
pub fn fold(sum: &AtomicU64, v: u64) {
    sum.fetch_add(mix(v), Ordering::Relaxed);
}

/// Chains round checksums in round order (rounds run one after another,
/// so their order is the seed's, not the schedule's).
pub fn chain(acc: u64, round: u64) -> u64 {
    acc.rotate_left(7) ^ round
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_is_order_independent() {
        let (a, b) = (AtomicU64::new(0), AtomicU64::new(0));
        for v in [1u64, 2, 3, 99, 1 << 40] {
            fold(&a, v);
        }
        for v in [1 << 40, 99, 3, 1, 2] {
            fold(&b, v);
        }
        assert_eq!(a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    }

    #[test]
    fn mix_separates_small_values() {
        assert_ne!(mix(1), mix(2));
        assert_ne!(mix(0), 0);
        // A value folded twice is not the same as two different values.
        assert_ne!(mix(5).wrapping_add(mix(5)), mix(4).wrapping_add(mix(6)));
    }

    #[test]
    fn chain_is_order_dependent() {
        assert_ne!(chain(chain(0, 1), 2), chain(chain(0, 2), 1));
    }
}
