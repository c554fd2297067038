//! The task queue's order: a smaller priority number first, FIFO within a
//! priority (a binary heap keyed by `(priority, arrival)`), and the
//! deadline rule. Pure: host-tested.
//!
//! Seed 004 queues tasks in a channel, which is FIFO only and ignores
//! `Priority`; here the tasks wait in this heap and the channel carries
//! only "one more task" tokens (`workers.rs`), so a worker always takes the
//! best task there is, not the oldest.
use alloc::collections::BinaryHeap;
use core::cmp::Ordering;

struct Entry<T> {
    priority: i32,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.priority, self.seq) == (o.priority, o.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    /// `BinaryHeap` is a max-heap: the "greatest" entry is the one with the
    /// smallest priority number, then the earliest arrival.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.priority, o.seq).cmp(&(self.priority, self.seq))
    }
}

/// Tasks by priority, FIFO within one.
pub struct PrioQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    /// Arrival counter (never wraps in practice: 2^64 submissions).
    next: u64,
}

impl<T> PrioQueue<T> {
    pub const fn new() -> PrioQueue<T> {
        PrioQueue {
            heap: BinaryHeap::new(),
            next: 0,
        }
    }

    pub fn push(&mut self, priority: i32, item: T) {
        let seq = self.next;
        self.next += 1;
        self.heap.push(Entry {
            priority,
            seq,
            item,
        });
    }

    /// The smallest priority number, earliest first among equals.
    pub fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|e| e.item)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Seed 004's `time.Now().After(task.Deadline)`: a task is expired, and not
/// run, once `now` is past its deadline (ns since boot; `None`: never).
pub fn expired(deadline: Option<u64>, now: u64) -> bool {
    deadline.is_some_and(|d| now > d)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn smaller_priority_number_first() {
        let mut q = PrioQueue::new();
        for (p, v) in [(5, 'a'), (1, 'b'), (3, 'c'), (-2, 'd')] {
            q.push(p, v);
        }
        let out: Vec<char> = core::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, ['d', 'b', 'c', 'a']);
    }

    #[test]
    fn fifo_within_a_priority_under_interleaving() {
        let mut q = PrioQueue::new();
        let mut seed = 7u64;
        let mut pushed = Vec::new();
        for i in 0..2_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let p = (seed % 4) as i32;
            q.push(p, (p, i));
            pushed.push((p, i));
            // Pop now and then: FIFO must survive a heap that changes shape.
            if i % 7 == 0 {
                let got = q.pop().unwrap();
                assert_eq!(got, *pushed.iter().min().unwrap(), "not the best task");
                pushed.retain(|x| *x != got);
            }
        }
        let mut out = Vec::new();
        while let Some(x) = q.pop() {
            out.push(x);
        }
        assert_eq!(q.len(), 0);
        assert!(q.is_empty());
        pushed.sort();
        assert_eq!(out, pushed, "not (priority, arrival) order");
    }

    #[test]
    fn deadline_rule() {
        assert!(!expired(None, u64::MAX));
        assert!(!expired(Some(100), 99));
        assert!(!expired(Some(100), 100), "at the deadline it still runs");
        assert!(expired(Some(100), 101));
    }
}
