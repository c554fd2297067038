//! The workload's random numbers: xorshift64*, one stream per task, each
//! seeded from the task's position in the spawn tree (never from a shared
//! generator whose draw order would depend on the schedule).

/// xorshift64* (Vigna): small, fast, good enough to pick sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The stream of the `i`-th child of the task whose stream is `self`
    /// (its position in the spawn tree): independent of how many numbers
    /// the parent drew, and of when the child runs.
    pub fn child(&self, i: u64) -> Rng {
        Rng::new(self.0 ^ (i + 1).wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn children_do_not_depend_on_the_parents_draws() {
        let a = Rng::new(3);
        let mut b = a;
        b.next_u64();
        assert_ne!(a.child(0), a.child(1));
        assert_eq!(a.child(2), Rng::new(3).child(2));
        assert_ne!(a.child(2), b.child(2));
    }

    #[test]
    fn range_is_inclusive_and_bounded() {
        let mut r = Rng::new(1);
        let mut seen = [false; 4];
        for _ in 0..1000 {
            let v = r.range(2, 5);
            assert!((2..=5).contains(&v));
            seen[(v - 2) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
