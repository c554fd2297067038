//! A P's timer heap: a 4-ary min-heap ordered by `when` (Go: `p.timers`,
//! `siftupTimer`, `siftdownTimer` in runtime/time.go), and the periodic
//! re-add arithmetic. Pure: built and tested on the host; the kernel's
//! timers (`timers.rs`) store `NonNull<Timer>` in it.
//!
//! Each element remembers its own index (Go: `t.heapIndex`... in older Go,
//! `t.idx`), so that a timer can be removed from the middle of the heap in
//! O(log n) when it is stopped.
use alloc::vec::Vec;

/// What the heap needs of its elements.
pub trait HeapTimer: Copy {
    /// When it fires (ns since boot).
    fn when(&self) -> u64;
    /// Records the element's position in the heap (called on every move).
    fn set_index(&self, i: usize);
}

/// A 4-ary min-heap of timers by `when` (Go uses 4-ary heaps: shallower than
/// binary ones, and the four children share a cache line).
pub struct TimerHeap<T: HeapTimer> {
    heap: Vec<T>,
}

impl<T: HeapTimer> TimerHeap<T> {
    pub const fn new() -> TimerHeap<T> {
        TimerHeap { heap: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Heap bytes the storage holds (it keeps its capacity when it
    /// shrinks: a per-P cache the stress run's leak check accounts for).
    pub fn capacity_bytes(&self) -> usize {
        self.heap.capacity() * core::mem::size_of::<T>()
    }

    /// The earliest `when`, or `u64::MAX` for an empty heap (the value the
    /// lock-free mirror `timer0_when` holds: "nothing due, ever").
    pub fn earliest(&self) -> u64 {
        self.heap.first().map_or(u64::MAX, HeapTimer::when)
    }

    /// Every element, in heap order (not sorted).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.heap.iter()
    }

    /// The element with the earliest `when`.
    pub fn first(&self) -> Option<T> {
        self.heap.first().copied()
    }

    fn set(&mut self, i: usize, t: T) {
        self.heap[i] = t;
        t.set_index(i);
    }

    /// Go: `siftupTimer`.
    fn sift_up(&mut self, mut i: usize) {
        let t = self.heap[i];
        let when = t.when();
        while i > 0 {
            let parent = (i - 1) / 4;
            if when >= self.heap[parent].when() {
                break;
            }
            let pt = self.heap[parent];
            self.set(i, pt);
            i = parent;
        }
        self.set(i, t);
    }

    /// Go: `siftdownTimer`.
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let t = self.heap[i];
        let when = t.when();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + 4).min(n) {
                if self.heap[c].when() < self.heap[best].when() {
                    best = c;
                }
            }
            if self.heap[best].when() >= when {
                break;
            }
            let bt = self.heap[best];
            self.set(i, bt);
            i = best;
        }
        self.set(i, t);
    }

    /// Adds `t` (Go: `doaddtimer`).
    pub fn push(&mut self, t: T) {
        self.heap.push(t);
        let i = self.heap.len() - 1;
        self.set(i, t);
        self.sift_up(i);
    }

    /// Removes and returns the element at index `i` (Go: `deltimer`'s
    /// `dodeltimer`): the last element takes its place and moves up or down.
    pub fn remove(&mut self, i: usize) -> T {
        let t = self.heap[i];
        let last = self.heap.pop().expect("remove from an empty timer heap");
        if i < self.heap.len() {
            self.set(i, last);
            if i > 0 && self.heap[i].when() < self.heap[(i - 1) / 4].when() {
                self.sift_up(i);
            } else {
                self.sift_down(i);
            }
        }
        t
    }
}

/// Go: a periodic timer fired at `now` is re-added `period` after its
/// `when`, skipping the periods it missed (a late CPU does not fire a burst
/// of catch-up ticks). Saturating, like every deadline: a period that
/// would pass the clock's range ends at `u64::MAX` (never).
pub fn next_period(when: u64, period: u64, now: u64) -> u64 {
    debug_assert!(period != 0);
    let next = when.saturating_add(period);
    if next > now {
        return next;
    }
    now.saturating_add(period - (now - when) % period)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A test timer: its `when` and the index the heap last gave it.
    struct T(Rc<(u64, Cell<usize>)>);

    /// `HeapTimer` wants `Copy`: the heap holds plain pointers to `T`s.
    #[derive(Clone, Copy)]
    struct TRef(*const (u64, Cell<usize>));

    impl HeapTimer for TRef {
        fn when(&self) -> u64 {
            // SAFETY: every TRef points into a `T` the test keeps alive.
            unsafe { (*self.0).0 }
        }
        fn set_index(&self, i: usize) {
            // SAFETY: as above.
            unsafe { (*self.0).1.set(i) }
        }
    }

    fn timer(when: u64) -> T {
        T(Rc::new((when, Cell::new(usize::MAX))))
    }

    fn r(t: &T) -> TRef {
        TRef(Rc::as_ptr(&t.0))
    }

    /// The heap property, and every element knows its index.
    fn check(h: &TimerHeap<TRef>) {
        for (i, t) in h.heap.iter().enumerate() {
            // SAFETY: as above.
            let recorded = unsafe { (*t.0).1.get() };
            assert_eq!(recorded, i, "stale index at {i}");
            if i > 0 {
                assert!(h.heap[(i - 1) / 4].when() <= t.when(), "heap order at {i}");
            }
        }
    }

    /// A small deterministic PRNG (xorshift) for the randomised tests.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn empty_heap_has_no_earliest() {
        let h: TimerHeap<TRef> = TimerHeap::new();
        assert_eq!(h.earliest(), u64::MAX);
        assert!(h.first().is_none());
    }

    #[test]
    fn pops_in_when_order() {
        let mut seed = 0x1234_5678;
        let ts: Vec<T> = (0..500).map(|_| timer(rng(&mut seed) % 10_000)).collect();
        let mut h = TimerHeap::new();
        for t in &ts {
            h.push(r(t));
            check(&h);
        }
        let mut last = 0;
        while !h.is_empty() {
            let e = h.earliest();
            let t = h.remove(0);
            assert_eq!(t.when(), e);
            assert!(e >= last, "popped {e} after {last}");
            last = e;
            check(&h);
        }
    }

    #[test]
    fn remove_from_the_middle_by_recorded_index() {
        let mut seed = 42;
        let ts: Vec<T> = (0..300).map(|_| timer(rng(&mut seed) % 1000)).collect();
        let mut h = TimerHeap::new();
        for t in &ts {
            h.push(r(t));
        }
        // Stop every third timer through the index the heap recorded.
        for t in ts.iter().step_by(3) {
            let i = t.0.1.get();
            let removed = h.remove(i);
            assert_eq!(removed.0, Rc::as_ptr(&t.0));
            check(&h);
        }
        assert_eq!(h.len(), 300 - 100);
        let mut left: Vec<u64> = ts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, t)| t.0.0)
            .collect();
        left.sort();
        let mut popped = Vec::new();
        while !h.is_empty() {
            popped.push(h.remove(0).when());
        }
        assert_eq!(popped, left);
    }

    #[test]
    fn equal_whens_are_all_kept() {
        let ts: Vec<T> = (0..20).map(|_| timer(7)).collect();
        let mut h = TimerHeap::new();
        for t in &ts {
            h.push(r(t));
        }
        check(&h);
        assert_eq!(h.earliest(), 7);
        for _ in 0..20 {
            assert_eq!(h.remove(0).when(), 7);
        }
        assert!(h.is_empty());
    }

    #[test]
    fn periodic_timer_on_time_fires_one_period_later() {
        assert_eq!(next_period(1000, 100, 1000), 1100);
        assert_eq!(next_period(1000, 100, 1099), 1100);
    }

    #[test]
    fn periodic_timer_late_skips_missed_periods_and_keeps_phase() {
        // Due at 1000, fired at 1350: the next is 1400 (phase kept), not
        // 1100, 1200, 1300 in a burst.
        assert_eq!(next_period(1000, 100, 1350), 1400);
        // Exactly on a later period boundary: the next boundary.
        assert_eq!(next_period(1000, 100, 1300), 1400);
    }

    #[test]
    fn periodic_timer_saturates_at_the_end_of_the_clock() {
        assert_eq!(next_period(u64::MAX - 10, 100, u64::MAX - 10), u64::MAX);
        assert_eq!(next_period(0, u64::MAX, 5), u64::MAX);
    }
}
