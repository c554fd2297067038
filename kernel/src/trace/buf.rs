//! A CPU's event buffer (pure, host-tested): a ring of [`Record`]s with one
//! writer and one drainer, and a dropped-event counter.
//!
//! **Who may write**: only the buffer's own CPU, with interrupts off for the
//! whole [`Ring::push`] (`trace::emit` does that), so a push is never
//! interleaved with another push: interrupt handlers on that CPU write too,
//! but only between two pushes. At trace stop, once every CPU has been seen
//! with tracing off (a cross-call), the stopping CPU may push into any
//! buffer: the owner no longer does. No lock, no atomic read-modify-write.
//!
//! **Who may drain**: anyone holding the stream's lock (`stream.rs`), one at
//! a time: it copies out the records below `head` (Acquire: the slots were
//! written before `head` moved) and then moves `tail` (Release: the writer
//! reuses a slot only after seeing `tail` past it). A full ring drops the
//! new event (whole: an event's records are pushed together or not at all)
//! and counts it.
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::event::Record;

pub struct Ring {
    slots: Box<[UnsafeCell<Record>]>,
    /// Records ever pushed (the writer's index; slot = head % len).
    head: AtomicUsize,
    /// Records ever drained.
    tail: AtomicUsize,
    /// Events dropped because the ring was full.
    pub dropped: AtomicU64,
    /// This CPU records: set by the CPU itself at its first `execute` after
    /// trace start (nothing of its own runs then, so its slices begin whole).
    pub on: AtomicBool,
    /// The goroutine this CPU's last `GoStart` started and no stop has ended
    /// yet (0: none), and whether its P's last event was a start: what a
    /// trace stop ends synthetically.
    pub running: AtomicU64,
    pub proc_running: AtomicBool,
}

// SAFETY: slots are written only by the single writer (see the module
// comment) below `tail + len`, and read only by the drainer below `head`;
// `head`/`tail` hand them over with Release/Acquire.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring of `len` records (`len` > 0).
    pub fn new(len: usize) -> Ring {
        assert!(len > 0);
        Ring {
            slots: (0..len)
                .map(|_| UnsafeCell::new(Record::default()))
                .collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            on: AtomicBool::new(false),
            running: AtomicU64::new(0),
            proc_running: AtomicBool::new(false),
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Records waiting to be drained.
    pub fn len(&self) -> usize {
        self.head
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail.load(Ordering::Acquire))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `recs` (one event) or, if they do not fit, drops them and
    /// counts one dropped event. The single writer only (module comment).
    pub fn push(&self, recs: &[Record]) -> bool {
        let h = self.head.load(Ordering::Relaxed);
        let t = self.tail.load(Ordering::Acquire);
        if h.wrapping_sub(t) + recs.len() > self.slots.len() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        for (i, r) in recs.iter().enumerate() {
            let slot = &self.slots[h.wrapping_add(i) % self.slots.len()];
            // SAFETY: the slot is at or past `head` and within `len` of
            // `tail`: the drainer does not read it until `head` moves past
            // it, and only this writer writes.
            unsafe { *slot.get() = *r };
        }
        self.head
            .store(h.wrapping_add(recs.len()), Ordering::Release);
        true
    }

    /// Hands every waiting record to `out` (oldest first), then frees their
    /// slots. Drainers are serialised by the caller.
    pub fn drain(&self, mut out: impl FnMut(&Record)) -> usize {
        let t = self.tail.load(Ordering::Relaxed);
        let h = self.head.load(Ordering::Acquire);
        let n = h.wrapping_sub(t);
        for i in 0..n {
            let slot = &self.slots[t.wrapping_add(i) % self.slots.len()];
            // SAFETY: below `head` (Acquire above): written and not reused
            // until `tail` moves past it, which only we do, below.
            out(unsafe { &*slot.get() });
        }
        self.tail.store(h, Ordering::Release);
        n
    }

    /// Drains into a vector (tests, small dumps).
    pub fn drain_vec(&self) -> Vec<Record> {
        let mut v = Vec::new();
        self.drain(|r| v.push(*r));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::{Kind, Record};
    use super::*;

    fn rec(a: u64) -> Record {
        Record::new(Kind::GoStart, 0, 0, 0, a, 0)
    }

    #[test]
    fn fifo_across_wraps() {
        let r = Ring::new(4);
        let mut next = 0;
        let mut seen = Vec::new();
        for round in 0..10 {
            for _ in 0..3 {
                assert!(r.push(&[rec(next)]));
                next += 1;
            }
            assert_eq!(r.len(), 3);
            seen.extend(r.drain_vec().iter().map(|x| x.a));
            assert!(r.is_empty(), "round {round}");
        }
        assert_eq!(seen, (0..30).collect::<Vec<_>>());
        assert_eq!(r.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn full_ring_drops_whole_events_and_counts_them() {
        let r = Ring::new(4);
        assert!(r.push(&[rec(1), rec(2), rec(3)]));
        // Two records do not fit in the one free slot: neither goes in.
        assert!(!r.push(&[rec(4), rec(5)]));
        assert!(r.push(&[rec(6)]));
        assert!(!r.push(&[rec(7)]));
        assert_eq!(r.dropped.load(Ordering::Relaxed), 2);
        let got: Vec<u64> = r.drain_vec().iter().map(|x| x.a).collect();
        assert_eq!(got, [1, 2, 3, 6]);
        assert!(r.push(&[rec(8), rec(9), rec(10), rec(11)]));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn concurrent_writer_and_drainer_lose_nothing() {
        use std::sync::Arc;
        let r = Arc::new(Ring::new(64));
        const N: u64 = 100_000;
        let w = {
            let r = r.clone();
            std::thread::spawn(move || {
                let mut i = 0;
                while i < N {
                    if r.push(&[rec(i)]) {
                        i += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            })
        };
        let mut expect = 0;
        while expect < N {
            r.drain(|x| {
                assert_eq!(x.a, expect);
                expect += 1;
            });
        }
        w.join().unwrap();
    }
}
