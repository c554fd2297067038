//! A P's time slice (Go: `sysmontick` + `forcePreemptNS`): one small type
//! that owns every field of it, with named transitions. Pure: built and
//! tested on the host.
//!
//! A slice begins when the P schedules a new G (its `schedtick` moves, Go's
//! sysmon notices it) and ends `len` ns later; a G taken from `runnext`
//! inherits the slice (`schedtick` unchanged), so a pair of goroutines
//! handing off to each other cannot hold a CPU past one slice.
//!
//! Who calls what (every transition runs on the P's own CPU: the scheduler
//! on g0, its timer interrupt, or its goroutine's cooperative safe point;
//! the atomics are for the interrupt and for readers such as dumps):
//!
//! | transition | caller |
//! |---|---|
//! | [`Slice::starts_new`], [`Slice::begin`] | `execute`: a G starts; a new slice if the tick moved |
//! | [`Slice::check`] | the tick (`retake`): has the slice run out? |
//! | [`Slice::preempted`] / [`Slice::retry_at`] | `retake`: acted on / refused |
//! | [`Slice::cut_for_woken`] | the tick, when timers woke goroutines |
//! | [`Slice::expire`] | `gopreempt_m`: the G left because of the slice |
//! | [`Slice::take_expired`] | `findRunnable`: does an expiry order the next pick? |
//! | [`Slice::take_woken_cut`] | `gopreempt_m`: was it cut for woken goroutines? |
use crate::lock::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::sched::runq::RunqMark;

/// "No slice running" (after a preemption, until the next `execute`).
const NONE: u64 = u64::MAX;

/// What the tick found ([`Slice::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceCheck {
    /// Time is left.
    Running,
    /// The P scheduled since the slice began: a new slice began now (Go's
    /// sysmon records the new `schedtick` and `schedwhen`).
    Renewed,
    /// The same G (or a chain inheriting through `runnext`) ran the whole
    /// slice: preempt it.
    Expired,
}

pub struct Slice {
    /// The P's `schedtick` when the slice began (Go: `sysmontick.schedtick`).
    tick: AtomicU32,
    /// When it ends, ns since boot ([`NONE`]: no slice running).
    deadline: AtomicU64,
    /// The P's run-queue mark when the slice began ([`RunqMark`]): after an
    /// expiry, what was queued before it runs before the global queue.
    mark_tail: AtomicU32,
    mark_next: AtomicUsize,
    /// The last G left because the slice ran out: the next findRunnable
    /// serves what waited and does not let `runnext` inherit the slice.
    expired: AtomicBool,
    /// The deadline was cut short because timers woke goroutines: the G
    /// preempted for it yields to them but keeps its place (it goes right
    /// behind them, not to the back of the global queue).
    woken_cut: AtomicBool,
}

impl Slice {
    #[cfg(not(loom))]
    pub const fn new() -> Slice {
        Slice {
            tick: AtomicU32::new(0),
            deadline: AtomicU64::new(NONE),
            mark_tail: AtomicU32::new(0),
            mark_next: AtomicUsize::new(0),
            expired: AtomicBool::new(false),
            woken_cut: AtomicBool::new(false),
        }
    }

    /// A new slice of `len` ns begins at `now`, with the P's `schedtick` at
    /// `tick` and its run queue at `mark`.
    pub fn begin(&self, tick: u32, now: u64, len: u64, mark: RunqMark) {
        self.tick.store(tick, Ordering::Relaxed);
        self.woken_cut.store(false, Ordering::Relaxed);
        self.mark_tail.store(mark.tail, Ordering::Relaxed);
        self.mark_next.store(mark.runnext, Ordering::Relaxed);
        self.deadline
            .store(now.saturating_add(len), Ordering::Relaxed);
    }

    /// `execute`: a G starts with the P's `schedtick` at `tick`. Does a new
    /// slice begin ([`Slice::begin`])? Yes when the tick moved since the
    /// slice began or none is running; a G from `runnext` (tick unchanged)
    /// keeps the slice it inherited. (A question, so that `execute` reads
    /// the clock only when a slice begins: it runs on every switch.)
    #[inline]
    pub fn starts_new(&self, tick: u32) -> bool {
        tick != self.tick.load(Ordering::Relaxed) || self.deadline.load(Ordering::Relaxed) == NONE
    }

    /// The tick (Go: sysmon's `retake` for this P): at `now`, with the P's
    /// `schedtick` at `tick`.
    pub fn check(
        &self,
        tick: u32,
        now: u64,
        len: u64,
        mark: impl FnOnce() -> RunqMark,
    ) -> SliceCheck {
        if now < self.deadline.load(Ordering::Relaxed) {
            return SliceCheck::Running;
        }
        if tick != self.tick.load(Ordering::Relaxed) {
            // The P scheduled since we last looked: record the new slice, so
            // the timer is not re-armed in the past.
            self.begin(tick, now, len, mark());
            return SliceCheck::Renewed;
        }
        SliceCheck::Expired
    }

    /// The expiry was acted on (an asynchronous preemption was injected): no
    /// deadline until the next `execute` starts a slice.
    pub fn preempted(&self) {
        self.deadline.store(NONE, Ordering::Relaxed);
    }

    /// The expiry could not be acted on (an unsafe point): look again at
    /// `at`.
    pub fn retry_at(&self, at: u64) {
        self.deadline.store(at, Ordering::Relaxed);
    }

    /// Timers woke goroutines at `now`: cut the slice (of length `len`) to
    /// end `keep` ns after it began (or now, if that has passed), so that
    /// they wait at most about `keep`; the running G keeps at least that
    /// much of its slice, so a storm of timers cannot preempt it at every
    /// tick.
    pub fn cut_for_woken(&self, now: u64, len: u64, keep: u64) {
        let dl = self.deadline.load(Ordering::Relaxed);
        if dl == NONE {
            return;
        }
        let start = dl.saturating_sub(len);
        let cut = start.saturating_add(keep).max(now);
        if cut < dl {
            self.deadline.store(cut, Ordering::Relaxed);
            self.woken_cut.store(true, Ordering::Relaxed);
        }
    }

    /// `gopreempt_m`: the G left because the slice ran out.
    pub fn expire(&self) {
        self.expired.store(true, Ordering::Relaxed);
    }

    /// `gopreempt_m`: takes "the slice was cut for woken goroutines".
    pub fn take_woken_cut(&self) -> bool {
        self.woken_cut.swap(false, Ordering::Relaxed)
    }

    /// `findRunnable` (with the P's `schedtick` at `tick`): did the slice
    /// expire — the last G was preempted for it ([`Slice::expire`]), or it
    /// ran out while this CPU was in the scheduler (the tick does not
    /// preempt g0, so the scheduler notices it here: Go's sysmon would
    /// preempt the next G right away)? Clears the flag.
    pub fn take_expired(&self, tick: u32, now: u64) -> bool {
        let flagged = self.expired.swap(false, Ordering::Relaxed);
        let ran_out = now >= self.deadline.load(Ordering::Relaxed)
            && tick == self.tick.load(Ordering::Relaxed);
        flagged || ran_out
    }

    /// The P's `schedtick` when the slice began (dumps).
    pub fn tick(&self) -> u32 {
        self.tick.load(Ordering::Relaxed)
    }

    /// When the slice ends ([`u64::MAX`]: none running).
    pub fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Relaxed)
    }

    /// The run-queue mark taken when the slice began.
    pub fn mark(&self) -> RunqMark {
        RunqMark {
            tail: self.mark_tail.load(Ordering::Relaxed),
            runnext: self.mark_next.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const LEN: u64 = 10_000;

    fn mark(tail: u32) -> impl FnOnce() -> RunqMark {
        move || RunqMark { tail, runnext: 0 }
    }

    /// What `execute` does.
    fn on_execute(s: &Slice, tick: u32, now: u64, len: u64, mark: impl FnOnce() -> RunqMark) {
        if s.starts_new(tick) {
            s.begin(tick, now, len, mark());
        }
    }

    #[test]
    fn first_execute_begins_a_slice() {
        let s = Slice::new();
        assert_eq!(s.deadline(), u64::MAX);
        on_execute(&s, 0, 100, LEN, mark(3));
        assert_eq!(s.deadline(), 100 + LEN);
        assert_eq!(s.mark().tail, 3);
    }

    #[test]
    fn runnext_inherits_the_slice_a_new_tick_begins_one() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        // Same tick (a G from runnext): the deadline stays, the mark is not
        // even read.
        on_execute(&s, 1, 5_000, LEN, || panic!("mark read on inheritance"));
        assert_eq!(s.deadline(), LEN);
        on_execute(&s, 2, 6_000, LEN, mark(9));
        assert_eq!(s.deadline(), 6_000 + LEN);
        assert_eq!(s.mark().tail, 9);
    }

    #[test]
    fn check_running_then_expired_on_the_same_tick() {
        let s = Slice::new();
        on_execute(&s, 4, 0, LEN, mark(0));
        assert_eq!(s.check(4, LEN - 1, LEN, mark(0)), SliceCheck::Running);
        assert_eq!(s.check(4, LEN, LEN, mark(0)), SliceCheck::Expired);
    }

    #[test]
    fn check_renews_when_the_p_scheduled_meanwhile() {
        let s = Slice::new();
        on_execute(&s, 4, 0, LEN, mark(0));
        assert_eq!(s.check(5, LEN + 7, LEN, mark(2)), SliceCheck::Renewed);
        assert_eq!(s.deadline(), LEN + 7 + LEN);
        assert_eq!(s.check(5, LEN + 8, LEN, mark(0)), SliceCheck::Running);
    }

    #[test]
    fn preempted_leaves_no_deadline_until_the_next_execute() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        s.preempted();
        assert_eq!(s.deadline(), u64::MAX);
        assert_eq!(s.check(1, u64::MAX - 1, LEN, mark(0)), SliceCheck::Running);
        // Even on the same tick, execute starts a slice when none runs.
        on_execute(&s, 1, 50, LEN, mark(0));
        assert_eq!(s.deadline(), 50 + LEN);
    }

    #[test]
    fn retry_moves_the_deadline() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        s.retry_at(LEN + 100);
        assert_eq!(s.check(1, LEN + 99, LEN, mark(0)), SliceCheck::Running);
        assert_eq!(s.check(1, LEN + 100, LEN, mark(0)), SliceCheck::Expired);
    }

    #[test]
    fn woken_cut_keeps_at_least_keep_from_the_start() {
        let s = Slice::new();
        on_execute(&s, 1, 1_000, LEN, mark(0));
        // Woken early in the slice: cut to start + keep.
        s.cut_for_woken(1_200, LEN, 500);
        assert_eq!(s.deadline(), 1_500);
        assert!(s.take_woken_cut());
        assert!(!s.take_woken_cut(), "taken once");
    }

    #[test]
    fn woken_cut_late_in_the_slice_ends_it_now_and_never_extends() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        s.cut_for_woken(8_000, LEN, 500);
        assert_eq!(s.deadline(), 8_000);
        // A later cut never moves the deadline out again.
        let s2 = Slice::new();
        on_execute(&s2, 1, 0, LEN, mark(0));
        s2.cut_for_woken(LEN + 1, LEN, 500);
        assert_eq!(s2.deadline(), LEN);
        assert!(!s2.take_woken_cut());
    }

    #[test]
    fn woken_cut_is_forgotten_by_a_new_slice() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        s.cut_for_woken(100, LEN, 500);
        on_execute(&s, 2, 600, LEN, mark(0));
        assert!(!s.take_woken_cut());
    }

    #[test]
    fn expired_is_taken_once_or_seen_when_the_slice_ran_out_on_g0() {
        let s = Slice::new();
        on_execute(&s, 1, 0, LEN, mark(0));
        assert!(!s.take_expired(1, 10));
        s.expire();
        assert!(s.take_expired(1, 10));
        assert!(!s.take_expired(1, 10));
        // Ran out while the scheduler ran (same tick, deadline passed).
        assert!(s.take_expired(1, LEN));
        // Not if the P scheduled since (a new G started a slice of its own).
        assert!(!s.take_expired(2, LEN));
    }
}
