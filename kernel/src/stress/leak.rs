//! The leak check: the kernel's memory and goroutine counters after a run
//! against their baseline, taken after a warm-up round.
//!
//! Some memory is kept on purpose and grows only when a run needs more than
//! any earlier one: dead Gs keep their record and their stack's top page
//! (Go's `gfput`: the free lists, per P and global), sudogs stay in their
//! caches, page tables are never freed, the TLB epoch's limbo holds
//! unmapped frames until every CPU flushed, and the per-P timer heaps keep
//! their capacity. Those are *accounted* (each counted where it is kept)
//! rather than drained; whatever is left over is a leak.
use core::fmt;

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames in use (total minus free).
    pub frames_used: u64,
    pub heap_in_use: u64,
    /// Goroutine stack bytes mapped.
    pub stack_mapped: u64,
    /// Live user goroutines.
    pub goroutines: u64,
    /// Pending timers on every P.
    pub timers: u64,
    /// G records ever allocated (each keeps a one-page stack when dead).
    pub gs_allocated: u64,
    /// Sudogs ever allocated.
    pub sudogs_allocated: u64,
    /// Frames ever taken for page tables.
    pub table_frames: u64,
    /// Frames in the TLB epoch's limbo.
    pub limbo_frames: u64,
    /// Frames in the per-CPU stack-frame reserves.
    pub reserve_frames: u64,
    /// Heap bytes the per-P timer heaps' storage holds.
    pub timer_heap_bytes: u64,
    /// Mapped stack of the goroutine taking the snapshot (it is live in
    /// both and its stack may have grown in between).
    pub own_stack: u64,
}

/// What each kept structure costs (sizes of the kernel's types).
#[derive(Clone, Copy, Debug)]
pub struct Costs {
    pub page: u64,
    /// Heap bytes of one G record.
    pub g_bytes: u64,
    /// Heap bytes of one sudog.
    pub sudog_bytes: u64,
}

/// Left over after accounting: all zero when nothing leaked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leaks {
    pub goroutines: i64,
    pub timers: i64,
    pub frames: i64,
    pub heap_bytes: i64,
    pub stack_bytes: i64,
}

impl Leaks {
    /// How many of the counters are off (the run line's `leaks=`).
    pub fn count(&self) -> u32 {
        [
            self.goroutines,
            self.timers,
            self.frames,
            self.heap_bytes,
            self.stack_bytes,
        ]
        .iter()
        .filter(|&&v| v != 0)
        .count() as u32
    }
}

impl fmt::Display for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "goroutines {:+}, timers {:+}, frames {:+}, heap {:+} bytes, stacks {:+} bytes",
            self.goroutines, self.timers, self.frames, self.heap_bytes, self.stack_bytes
        )
    }
}

fn d(a: u64, b: u64) -> i64 {
    b.wrapping_sub(a) as i64
}

/// `now` against `base`, with the kept structures accounted.
pub fn leaks(base: &Snapshot, now: &Snapshot, c: &Costs) -> Leaks {
    let new_gs = d(base.gs_allocated, now.gs_allocated);
    let new_sudogs = d(base.sudogs_allocated, now.sudogs_allocated);
    let stack = d(base.stack_mapped, now.stack_mapped);
    // Every new G is dead now (the goroutine count is checked separately)
    // and keeps one stack page; the snapshotting goroutine's own stack is
    // live in both.
    let stack_bytes = stack - new_gs * c.page as i64 - d(base.own_stack, now.own_stack);
    let heap_bytes = d(base.heap_in_use, now.heap_in_use)
        - new_gs * c.g_bytes as i64
        - new_sudogs * c.sudog_bytes as i64
        - d(base.timer_heap_bytes, now.timer_heap_bytes);
    // Frames: stack pages, page tables, limbo, the CPUs' reserves; the
    // heap is mapped at boot.
    let frames = d(base.frames_used, now.frames_used)
        - stack / c.page as i64
        - d(base.table_frames, now.table_frames)
        - d(base.limbo_frames, now.limbo_frames)
        - d(base.reserve_frames, now.reserve_frames);
    Leaks {
        goroutines: d(base.goroutines, now.goroutines),
        timers: d(base.timers, now.timers),
        frames,
        heap_bytes,
        stack_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Costs = Costs {
        page: 4096,
        g_bytes: 600,
        sudog_bytes: 96,
    };

    fn base() -> Snapshot {
        Snapshot {
            frames_used: 1000,
            heap_in_use: 50_000,
            stack_mapped: 8 * 4096,
            goroutines: 1,
            timers: 0,
            gs_allocated: 8,
            sudogs_allocated: 4,
            table_frames: 20,
            limbo_frames: 3,
            reserve_frames: 90,
            timer_heap_bytes: 64,
            own_stack: 4096,
        }
    }

    #[test]
    fn kept_structures_are_not_leaks() {
        let b = base();
        // 5 new Gs (one page each, in the free lists), 2 new sudogs, one
        // new page table, limbo drained by 3, 6 more frames in the CPUs'
        // reserves, timer heap grown by 128, and main's stack grew by a page.
        let n = Snapshot {
            frames_used: 1000 + 5 + 1 + 1 - 3 + 6,
            reserve_frames: 96,
            heap_in_use: 50_000 + 5 * 600 + 2 * 96 + 128,
            stack_mapped: (8 + 5 + 1) * 4096,
            gs_allocated: 13,
            sudogs_allocated: 6,
            table_frames: 21,
            limbo_frames: 0,
            timer_heap_bytes: 192,
            own_stack: 2 * 4096,
            ..b
        };
        let l = leaks(&b, &n, &C);
        assert_eq!(l, Leaks::default(), "{l}");
        assert_eq!(l.count(), 0);
    }

    #[test]
    fn each_leak_is_named() {
        let b = base();
        let n = Snapshot {
            goroutines: 2,
            timers: 1,
            // A leaked goroutine: its G is live (not accounted as a free
            // G), so its record, its stack page and that frame show.
            frames_used: 1000 + 1,
            heap_in_use: 50_000 + 600 + 40,
            stack_mapped: 9 * 4096,
            gs_allocated: 9,
            ..b
        };
        let l = leaks(&b, &n, &C);
        assert_eq!(l.goroutines, 1);
        assert_eq!(l.timers, 1);
        assert_eq!(l.heap_bytes, 40);
        assert_eq!(l.count(), 3, "{l}");
        // A page mapped and never freed, outside any stack.
        let n = Snapshot {
            frames_used: 1001,
            ..b
        };
        assert_eq!(leaks(&b, &n, &C).frames, 1);
        // A stack page kept by a live G beyond the baseline.
        let n = Snapshot {
            stack_mapped: 9 * 4096,
            frames_used: 1001,
            ..b
        };
        let l = leaks(&b, &n, &C);
        assert_eq!((l.stack_bytes, l.frames), (4096, 0));
        assert!(l.to_string().contains("stacks +4096 bytes"));
    }
}
