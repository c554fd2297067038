//! Victim order for work stealing and the per-M cheap PRNG.
//!
//! Go: `randomOrder` / `randomEnum` and `cheaprand` / `cheaprandn` in
//! runtime/proc.go and runtime/rand.go.
//!
//! A spinning M must visit every other P once per stealing round, but all
//! spinning Ms starting at P 0 and walking upwards would pile onto the same
//! victims. Go therefore walks the Ps as `pos, pos+inc, pos+2*inc, ... (mod
//! count)` with a random start `pos` and a random stride `inc` coprime to
//! `count`: a coprime stride generates the whole cyclic group Z/count, so the
//! walk is a permutation (every P exactly once) that differs between Ms.
//!
//! Everything here is fixed-size (at most [`MAX_PROCS`] Ps) and allocation
//! free, and the constructors are `const` so the order can live in a static.

/// Maximum number of Ps (GOMAXPROCS) the kernel supports.
///
/// Bounded so that [`RandomOrder`] can keep its coprime table inline: the
/// scheduler never allocates.
pub const MAX_PROCS: usize = crate::arch::MAX_CPUS;

/// The set of strides coprime to the current P count.
///
/// Go: `randomOrder`. Rebuilt by [`reset`](Self::reset) whenever GOMAXPROCS
/// changes (Go: `procresize` calls `stealOrder.reset(uint32(nprocs))`).
#[derive(Clone, Copy, Debug)]
pub struct RandomOrder {
    count: u32,
    /// The first `ncoprimes` entries are the numbers in `1..=count` that are
    /// coprime to `count`, ascending. `u8` suffices since `count <= 64`.
    coprimes: [u8; MAX_PROCS],
    ncoprimes: u8,
}

impl RandomOrder {
    /// An empty order (count 0): every enumeration is immediately done.
    pub const fn new() -> Self {
        RandomOrder {
            count: 0,
            coprimes: [0; MAX_PROCS],
            ncoprimes: 0,
        }
    }

    /// An order over `count` Ps.
    ///
    /// # Panics
    /// If `count > MAX_PROCS`.
    pub const fn with_count(count: u32) -> Self {
        let mut ord = Self::new();
        ord.reset(count);
        ord
    }

    /// Go: `randomOrder.reset`. Recomputes the coprime strides for `count` Ps.
    ///
    /// # Panics
    /// If `count > MAX_PROCS`.
    pub const fn reset(&mut self, count: u32) {
        assert!(count as usize <= MAX_PROCS, "randomOrder: too many Ps");
        self.count = count;
        self.ncoprimes = 0;
        let mut i = 1;
        while i <= count {
            if gcd(i, count) == 1 {
                self.coprimes[self.ncoprimes as usize] = i as u8;
                self.ncoprimes += 1;
            }
            i += 1;
        }
    }

    /// Number of Ps enumerated.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Go: `randomOrder.start`. Starts an enumeration from the random value
    /// `i` (Go passes `cheaprand()`): the start position is `i % count` and
    /// the stride is chosen from the coprimes by `i / count`, so both vary.
    pub const fn start(&self, i: u32) -> RandomEnum {
        if self.count == 0 {
            // Go never enumerates zero Ps; make it an empty walk rather than
            // dividing by zero.
            return RandomEnum {
                i: 0,
                count: 0,
                pos: 0,
                inc: 0,
            };
        }
        RandomEnum {
            i: 0,
            count: self.count,
            pos: i % self.count,
            inc: self.coprimes[((i / self.count) % self.ncoprimes as u32) as usize] as u32,
        }
    }
}

impl Default for RandomOrder {
    fn default() -> Self {
        Self::new()
    }
}

/// One walk over all Ps in a pseudo-random order.
///
/// Go: `randomEnum`. Use either Go's style (`while !e.done() { e.position();
/// e.next() }`) or the `Iterator` impl, which yields the positions.
#[derive(Clone, Copy, Debug)]
pub struct RandomEnum {
    i: u32,
    count: u32,
    pos: u32,
    inc: u32,
}

impl RandomEnum {
    /// Go: `randomEnum.done`. True once every P has been visited.
    pub const fn done(&self) -> bool {
        self.i == self.count
    }

    /// Go: `randomEnum.next`. Advances to the next P.
    pub const fn next(&mut self) {
        self.i += 1;
        // `pos < count <= 64` and `inc <= count`, so the sum cannot overflow.
        self.pos = (self.pos + self.inc) % self.count;
    }

    /// Go: `randomEnum.position`. Index of the current P (into `allp`).
    pub const fn position(&self) -> u32 {
        self.pos
    }
}

impl Iterator for RandomEnum {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.done() {
            return None;
        }
        let p = self.pos as usize;
        RandomEnum::next(self);
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.count - self.i) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for RandomEnum {}

/// Go: `gcd`.
const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = b;
        b = a % b;
        a = t;
    }
    a
}

/// A cheap, non-cryptographic per-M PRNG.
///
/// Go: `m.cheaprand` with `cheaprand` / `cheaprandn` / `cheaprand64`. Go uses
/// wyrand on 64-bit targets (one 64x64->128 multiply per number, passes
/// BigCrush) and so do we. Each M owns one, so no atomics are needed; seed it
/// differently per M (Go: `mcommoninit` seeds from the global random source
/// and the M id), or all spinning Ms would pick the same victims.
#[derive(Clone, Debug)]
pub struct CheapRand {
    state: u64,
}

impl CheapRand {
    /// A generator seeded with `seed`. Any seed, including 0, is fine: the
    /// state is advanced by an odd constant before every use.
    pub const fn new(seed: u64) -> Self {
        CheapRand { state: seed }
    }

    /// Go: `cheaprand`. A uniformly distributed `u32`.
    #[inline]
    pub const fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let m = (self.state as u128) * ((self.state ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((m >> 64) as u64 ^ m as u64) as u32
    }

    /// Go: `cheaprand64`. A uniformly distributed `u64` (two draws).
    #[inline]
    pub const fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    /// Go: `cheaprandn`. A number in `0..n` (0 when `n == 0`), by Lemire's
    /// multiply-shift reduction: no division, and the bias is negligible for
    /// the small `n` the scheduler uses.
    #[inline]
    pub const fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn is_permutation(count: u32, start: u32) -> bool {
        let ord = RandomOrder::with_count(count);
        let mut seen = [false; MAX_PROCS];
        let mut e = ord.start(start);
        let mut n = 0;
        while !e.done() {
            let p = e.position() as usize;
            if p >= count as usize || seen[p] {
                return false;
            }
            seen[p] = true;
            n += 1;
            e.next();
        }
        n == count
    }

    #[test]
    fn random_order_visits_every_p_once_for_every_start_and_stride() {
        for count in 1..=MAX_PROCS as u32 {
            let ord = RandomOrder::with_count(count);
            // `start(i)` uses pos = i % count and stride index (i / count) %
            // ncoprimes: this range covers every (pos, stride) pair.
            let span = count * ord.ncoprimes as u32;
            for start in 0..span {
                assert!(is_permutation(count, start), "count {count} start {start}");
            }
            // Large random starts (cheaprand values) as well.
            for start in [u32::MAX, u32::MAX - 1, 0x8000_0000, 0xdead_beef] {
                assert!(is_permutation(count, start), "count {count} start {start}");
            }
        }
    }

    #[test]
    fn coprimes_are_correct() {
        let ord = RandomOrder::with_count(12);
        assert_eq!(&ord.coprimes[..ord.ncoprimes as usize], &[1, 5, 7, 11]);
        let ord = RandomOrder::with_count(1);
        assert_eq!(&ord.coprimes[..ord.ncoprimes as usize], &[1]);
        let ord = RandomOrder::with_count(64);
        assert_eq!(ord.ncoprimes, 32); // phi(64)
    }

    #[test]
    fn strides_vary_with_start() {
        let ord = RandomOrder::with_count(8);
        let incs: std::collections::BTreeSet<u32> = (0..64).map(|i| ord.start(i).inc).collect();
        assert_eq!(incs.into_iter().collect::<Vec<_>>(), vec![1, 3, 5, 7]);
    }

    #[test]
    fn iterator_matches_go_style_walk() {
        let ord = RandomOrder::with_count(10);
        let e = ord.start(0x1234_5678);
        assert_eq!(e.len(), 10);
        let via_iter: Vec<usize> = e.collect();
        let mut via_go = Vec::new();
        let mut e = ord.start(0x1234_5678);
        while !e.done() {
            via_go.push(e.position() as usize);
            e.next();
        }
        assert_eq!(via_iter, via_go);
    }

    #[test]
    fn empty_order_is_done_immediately() {
        let ord = RandomOrder::new();
        assert!(ord.start(7).done());
        assert_eq!(ord.start(7).count(), 0);
        let mut ord = RandomOrder::with_count(5);
        ord.reset(0);
        assert!(ord.start(3).done());
    }

    #[test]
    #[should_panic(expected = "too many Ps")]
    fn too_many_ps_panics() {
        RandomOrder::with_count(MAX_PROCS as u32 + 1);
    }

    #[test]
    fn order_in_const_context() {
        static ORD: RandomOrder = RandomOrder::with_count(4);
        assert_eq!(ORD.count(), 4);
        assert_eq!(ORD.start(5).len(), 4);
    }

    #[test]
    fn cheaprand_is_deterministic_per_seed_and_differs_across_seeds() {
        let a: Vec<u32> = {
            let mut r = CheapRand::new(1);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let b: Vec<u32> = {
            let mut r = CheapRand::new(1);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let c: Vec<u32> = {
            let mut r = CheapRand::new(2);
            (0..8).map(|_| r.next_u32()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut z = CheapRand::new(0);
        assert_ne!(z.next_u64(), z.next_u64());
    }

    #[test]
    fn cheaprandn_stays_in_range_and_covers_it() {
        let mut r = CheapRand::new(0x5eed);
        assert_eq!(r.below(0), 0);
        for n in [1u32, 2, 3, 7, 61, 64] {
            let mut hits = [0u32; 64];
            for _ in 0..10_000 {
                let x = r.below(n);
                assert!(x < n);
                hits[x as usize] += 1;
            }
            // Roughly uniform: every bucket gets at least half its share.
            for &h in &hits[..n as usize] {
                assert!(h >= 10_000 / n / 2, "n {n}: {hits:?}");
            }
        }
    }
}
