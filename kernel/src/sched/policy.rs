//! The decision logic of `findRunnable`, separated from the machinery.
//!
//! Go: `findRunnable`, `globrunqget` and `stealWork` in runtime/proc.go. The
//! kernel's scheduler implements [`FindSources`] over its real Ps, global
//! queue and Ms; [`find_runnable_fast`] then runs Go's source order on it.
//! Keeping the order here, generic, lets the host tests check it (which
//! source wins when, how many Gs move, which victims are tried) without a
//! machine.
//!
//! "Fast" is everything `findRunnable` does before giving up its P: the
//! slow path (drop the P, re-check the global queue and all run queues,
//! sleep the M) needs kernel state and lives in the kernel.

use core::ptr::NonNull;

use super::glist::{GQueue, Linked};
use super::order::RandomEnum;
#[cfg(all(test, not(loom)))]
use super::runq::RunqMark;
use super::runq::{RUNQ_SIZE, RunQueue};

/// Go: `pp.schedtick%61 == 0`. Every 61st schedule on a P looks at the
/// global queue before the local one, so two Gs that keep readying each
/// other on a P (runnext ping-pong) cannot starve the global queue. 61 is
/// prime so the check does not fall into step with periodic workloads.
pub const SCHEDTICK_GLOBAL_CHECK: u32 = 61;

/// Go: `stealTries`. Rounds over all victims in `stealWork`.
pub const STEAL_TRIES: u32 = 4;

/// Go: `len(pp.runq)/2` in `globrunqget`: never take more than half a ring
/// from the global queue, so the local ring cannot overflow straight back.
pub const GLOBAL_BATCH_MAX: usize = RUNQ_SIZE / 2;

/// Go: `pp.schedtick%61 == 0 && sched.runqsize > 0`. Whether this schedule
/// must try the global queue (one G) before the local run queue.
pub const fn check_global_first(schedtick: u32, global_len: usize) -> bool {
    schedtick.is_multiple_of(SCHEDTICK_GLOBAL_CHECK) && global_len > 0
}

/// Go: the batch size computed by `globrunqget(pp, max)`:
/// `min(len, len/gomaxprocs + 1, max (if > 0), RUNQ_SIZE/2)`.
///
/// `len/gomaxprocs + 1` gives each P its fair share, so one P does not hoard
/// the global queue while others idle. `max == 0` means no extra limit (Go
/// passes 1 for the fairness check, 0 otherwise).
pub const fn global_batch_size(global_len: usize, gomaxprocs: usize, max: usize) -> usize {
    if global_len == 0 {
        return 0;
    }
    // `gomaxprocs` is never 0 in a running system; don't divide by it if so.
    let procs = if gomaxprocs == 0 { 1 } else { gomaxprocs };
    let mut n = global_len / procs + 1;
    if n > global_len {
        n = global_len;
    }
    if max > 0 && n > max {
        n = max;
    }
    if n > GLOBAL_BATCH_MAX {
        n = GLOBAL_BATCH_MAX;
    }
    n
}

/// Go: `mp.spinning || 2*sched.nmspinning.Load() < gomaxprocs-sched.npidle.Load()`.
///
/// Whether an M that found no local or global work may spin (steal). At
/// most half the busy Ps get a spinning M: more would burn CPU for little
/// gain when GOMAXPROCS is large but parallelism is low. An M that is
/// already spinning keeps going.
pub const fn may_spin(spinning: bool, nmspinning: u32, gomaxprocs: u32, npidle: u32) -> bool {
    // Widened and saturating: the counters are read racily and npidle may
    // briefly exceed what Go's int32 arithmetic assumes.
    spinning || 2 * (nmspinning as u64) < (gomaxprocs as u64).saturating_sub(npidle as u64)
}

/// Go: `stealTimersOrRunNextG := i == stealTries-1`. Victims' `runnext` is
/// only stolen on the last round: it is the G the victim is about to run,
/// so taking it is a last resort.
pub const fn steal_runnext_on_round(round: u32) -> bool {
    round == STEAL_TRIES - 1
}

/// Go: `globrunqget(pp, max)`. **Caller holds the global run-queue lock and
/// owns `local`.** Takes a batch of [`global_batch_size`] Gs from the front
/// of `global`: returns the first to run and puts the rest on `local`'s
/// ring (FIFO, one publish).
///
/// Go assumes room in the local ring (findRunnable only gets here with an
/// empty one); if there is less room, the surplus simply stays at the front
/// of the global queue, in order.
pub fn globrunqget<T: Linked>(
    global: &mut GQueue<T>,
    local: &RunQueue<T>,
    gomaxprocs: usize,
    max: usize,
) -> Option<NonNull<T>> {
    let n = global_batch_size(global.len(), gomaxprocs, max);
    if n == 0 {
        return None;
    }
    let g = global.pop_front()?;
    let mut rest = n - 1;
    local.put_batch(|| {
        if rest == 0 {
            return None;
        }
        rest -= 1;
        global.pop_front()
    });
    Some(g)
}

/// The counters the spinning rule reads (see [`may_spin`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpinState {
    /// Go: `mp.spinning`: this M is already spinning.
    pub spinning: bool,
    /// Go: `sched.nmspinning`.
    pub nmspinning: u32,
    /// Go: `gomaxprocs`.
    pub gomaxprocs: u32,
    /// Go: `sched.npidle`.
    pub npidle: u32,
}

/// The work sources `findRunnable` consults, as the kernel provides them
/// for the current M and its P.
pub trait FindSources {
    /// The kernel's G handle (e.g. `NonNull<G>`).
    type G;

    /// Go: `pp.schedtick`.
    fn schedtick(&self) -> u32;

    /// Go: `sched.runqsize` read without the lock (an atomic mirror): a hint
    /// that decides whether taking the lock is worthwhile.
    fn global_len_hint(&self) -> usize;

    /// Go: `lock(&sched.lock); globrunqget(pp, 1); unlock(&sched.lock)`.
    fn global_get_one(&mut self) -> Option<Self::G>;

    /// Go: `runqget(pp)`: the G and its `inheritTime`.
    fn local_get(&mut self) -> Option<(Self::G, bool)>;

    /// Go: `lock(&sched.lock); globrunqget(pp, 0); unlock(&sched.lock)`.
    fn global_get_batch(&mut self) -> Option<Self::G>;

    /// Go: the non-blocking `netpoll(0)` before stealing: a G made ready by
    /// an I/O event, if the kernel has such a source. The rest of the ready
    /// list is the kernel's to inject. Default: none.
    fn netpoll(&mut self) -> Option<Self::G> {
        None
    }

    /// The history knobs' say in this round (`knobs.rs`). Default: today's
    /// scheduler.
    fn mode(&self) -> Mode {
        Mode::GMP
    }

    /// The counters for the spinning rule.
    fn spin_state(&self) -> SpinState;

    /// Go: `mp.becomeSpinning()` (set `mp.spinning`, increment
    /// `sched.nmspinning`). Called only when the M was not spinning.
    fn become_spinning(&mut self);

    /// Index of the current P in `allp`, never stolen from.
    fn current_p(&self) -> usize;

    /// Go: `stealOrder.start(cheaprand())`: a fresh random walk over all Ps.
    fn steal_order(&mut self) -> RandomEnum;

    /// Go: `runqsteal(pp, allp[victim], stealRunNextG)`.
    fn steal_from(&mut self, victim: usize, steal_runnext: bool) -> Option<Self::G>;

    /// Go: `sched.gcwaiting.Load()` checked before each victim: return true
    /// to abandon stealing (e.g. stop-the-world pending). Default: never.
    fn stop_stealing(&self) -> bool {
        false
    }

    /// A goroutine its timer woke (a sleeper whose time came): these run
    /// before anything else, FIFO. Default: none.
    fn woken_get(&mut self) -> Option<Self::G> {
        None
    }

    /// A G that was already in the local run queue when the current time
    /// slice began (its `runnext`, then the ring's head), none if every
    /// local G was queued during the slice. Only asked after an expired
    /// slice. Default: none.
    fn local_get_waiting(&mut self) -> Option<Self::G> {
        None
    }

    /// Takes (and clears) the P's "slice expired" flag: the previous G was
    /// preempted because its time slice, possibly inherited through
    /// `runnext`, ran out. Default: never.
    fn take_slice_expired(&mut self) -> bool {
        false
    }
}

/// Go: `findRunnable` up to (not including) giving up the P. Returns the G
/// to run and its `inheritTime`, or `None`: then the caller goes on to the
/// slow path (and, if [`FindSources::stop_stealing`] fired, handles its
/// reason first, Go's `goto top`).
///
/// Order, as in Go:
/// 1. timer-woken goroutines ([`FindSources::woken_get`], gmpos's stand-in
///    for Go's `checkTimers` readying into `runnext`);
/// 2. every [`SCHEDTICK_GLOBAL_CHECK`]th tick with a non-empty global queue:
///    one G from the global queue;
/// 3. after an expired slice only: what was already waiting in the local
///    queue when the slice began, else one G from the global queue (below);
/// 4. the local run queue (`runnext` first, inheriting the time slice unless
///    it expired);
/// 5. a batch from the global queue;
/// 6. `netpoll`;
/// 7. if [`may_spin`]: become spinning and steal ([`steal_work`]).
///
/// The history knobs ([`Mode`], read only when step 4 found nothing) cut
/// this short: `sched=gm` takes one global G instead of step 5's batch and
/// stops (its local queues are always empty), `steal=off` stops before step
/// 7, `spin=off` steals in step 7 without becoming spinning.
///
/// # Expired slices: serve what waited, not what the slice produced
///
/// Go serves the local queue first except on the 61st tick. With
/// goroutines that respawn each other through `runnext`, that starves the
/// global queue: each new G inherits the slice, `schedtick` stands still and
/// the 61st tick never comes (Go leaves it to other Ps). gmpos ends the
/// inheritance when the slice expires, but that alone does not help: the
/// chain's next G is in `runnext` at every expiry. Serving the global queue
/// first at every expiry (what gmpos once did) starves the local ring
/// instead: preempted CPU hogs go to the global queue, so it is never empty.
///
/// The rule that serves both: **at an expiry, the local Gs that were
/// already queued when the slice began ([`FindSources::local_get_waiting`])
/// go first; Gs the slice itself put into the local queue wait behind one
/// global G.** Then
/// - a G at position k of the local queue (runnext = 0) when a slice begins
///   runs within k + 1 expiries of that P: each expiry serves one older G,
///   and Gs put later queue behind it (a G readied *during* a slice waits
///   one more slice: k + 2 counted from the slice it was readied in);
/// - the global queue gets a G at least every other expiry while the local
///   queue only holds what the last slice produced (a respawn chain: every
///   G in it is younger than the slice), and at the latest after the older
///   local Gs, which are finite, have run; the 61st-tick check still
///   applies on top.
pub fn find_runnable_fast<S: FindSources + ?Sized>(s: &mut S) -> Option<(S::G, bool)> {
    if let Some(g) = s.woken_get() {
        return Some((g, false));
    }
    let expired = s.take_slice_expired();
    if check_global_first(s.schedtick(), s.global_len_hint())
        && let Some(g) = s.global_get_one()
    {
        return Some((g, false));
    }
    if expired {
        if let Some(g) = s.local_get_waiting() {
            return Some((g, false));
        }
        if s.global_len_hint() != 0
            && let Some(g) = s.global_get_one()
        {
            return Some((g, false));
        }
    }
    if let Some((g, inherit)) = s.local_get() {
        return Some((g, inherit && !expired));
    }
    // The history knobs, read only once the local queue came up empty: the
    // usual path pays nothing for them.
    let mode = s.mode();
    if mode.gm {
        // Go 1.0's `schedule`: `gget()` under `sched.lock`, one G, nothing
        // else (the rings are empty: `runqput` puts every G in the global
        // queue, and no batch moves any into a ring).
        if s.global_len_hint() != 0 {
            return s.global_get_one().map(|g| (g, false));
        }
        return None;
    }
    if s.global_len_hint() != 0
        && let Some(g) = s.global_get_batch()
    {
        return Some((g, false));
    }
    if let Some(g) = s.netpoll() {
        return Some((g, false));
    }
    if !mode.steal {
        return None;
    }
    if !mode.spin {
        // `spin=off`: one pass over the victims as a non-spinning M (not in
        // `nmspinning`, so not limited by `may_spin`), then sleep.
        return steal_work(s).map(|g| (g, false));
    }
    let st = s.spin_state();
    if may_spin(st.spinning, st.nmspinning, st.gomaxprocs, st.npidle) {
        if !st.spinning {
            s.become_spinning();
        }
        if let Some(g) = steal_work(s) {
            // Stolen Gs start a fresh time slice.
            return Some((g, false));
        }
    }
    None
}

/// Which of findRunnable's steps the history knobs (`knobs.rs`) leave on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// `sched=gm` (Go 1.0): one G at a time from the global queue, no
    /// batches into rings, no stealing.
    pub gm: bool,
    /// `steal=on`: steal when nothing else was found.
    pub steal: bool,
    /// `spin=on`: steal as a spinning M (Go 1.1+), limited by [`may_spin`];
    /// off: one pass as a non-spinning M.
    pub spin: bool,
}

impl Mode {
    /// Today's scheduler (every knob at its default).
    pub const GMP: Mode = Mode {
        gm: false,
        steal: true,
        spin: true,
    };

    /// From the knobs' flag word (`knobs::flags`).
    pub const fn from_flags(f: u32) -> Mode {
        use super::knobs::{GM, NO_SPIN, NO_STEAL};
        Mode {
            gm: f & GM != 0,
            steal: f & (NO_STEAL | GM) == 0,
            spin: f & NO_SPIN == 0,
        }
    }
}

/// Go: `stealWork` (the run-queue part): [`STEAL_TRIES`] rounds, each over
/// every other P in a fresh random order, `runnext` only in the last round.
pub fn steal_work<S: FindSources + ?Sized>(s: &mut S) -> Option<S::G> {
    let me = s.current_p();
    for round in 0..STEAL_TRIES {
        let steal_runnext = steal_runnext_on_round(round);
        let mut e = s.steal_order();
        while !e.done() {
            if s.stop_stealing() {
                return None;
            }
            let victim = e.position() as usize;
            if victim != me
                && let Some(g) = s.steal_from(victim, steal_runnext)
            {
                return Some(g);
            }
            e.next();
        }
    }
    None
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sched::glist::SchedLink;
    use crate::sched::order::{CheapRand, RandomOrder};

    struct Item {
        id: usize,
        schedlink: SchedLink<Item>,
    }

    // SAFETY: `sched_link` returns the `schedlink` field of `self`.
    unsafe impl Linked for Item {
        fn sched_link(&self) -> &SchedLink<Item> {
            &self.schedlink
        }
    }

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Call {
        GlobalOne,
        Local,
        LocalWaiting,
        GlobalBatch,
        Netpoll,
        BecomeSpinning,
        Steal(usize, bool),
    }

    /// A world of real run queues and a real global queue, recording calls.
    struct World {
        items: Vec<Item>,
        ps: Vec<RunQueue<Item>>,
        global: GQueue<Item>,
        me: usize,
        schedtick: u32,
        spin: SpinState,
        order: RandomOrder,
        rand: CheapRand,
        calls: Vec<Call>,
        stop_after: Option<usize>,
        slice_expired: bool,
        mark: RunqMark,
        woken: GQueue<Item>,
        mode: Mode,
    }

    impl World {
        fn new(nprocs: usize) -> Self {
            World {
                items: (0..1000)
                    .map(|id| Item {
                        id,
                        schedlink: SchedLink::new(),
                    })
                    .collect(),
                ps: (0..nprocs).map(|_| RunQueue::new()).collect(),
                global: GQueue::new(),
                me: 0,
                schedtick: 1,
                spin: SpinState {
                    spinning: false,
                    nmspinning: 0,
                    gomaxprocs: nprocs as u32,
                    npidle: 0,
                },
                order: RandomOrder::with_count(nprocs as u32),
                rand: CheapRand::new(42),
                calls: Vec::new(),
                stop_after: None,
                slice_expired: false,
                mark: RunqMark::default(),
                woken: GQueue::new(),
                mode: Mode::GMP,
            }
        }

        fn g(&self, id: usize) -> NonNull<Item> {
            NonNull::from(&self.items[id])
        }

        fn global_push(&mut self, id: usize) {
            let g = self.g(id);
            // SAFETY: items (never moved: the Vec is not resized) outlive the world's lists; each id
            // is pushed once per test.
            unsafe { self.global.push_back(g) };
        }

        fn woken_push(&mut self, id: usize) {
            let g = self.g(id);
            // SAFETY: as in global_push.
            unsafe { self.woken.push_back(g) };
        }

        fn local_put(&mut self, p: usize, id: usize, next: bool) {
            let g = self.g(id);
            self.ps[p].put(g, next, |_| panic!("overflow"));
        }

        /// A time slice begins on P `me` (the kernel's `execute` marks the
        /// queue then).
        fn begin_slice(&mut self) {
            self.mark = self.ps[self.me].mark();
        }

        fn found(&mut self) -> Option<(usize, bool)> {
            self.found_in(Mode::GMP)
        }

        fn found_in(&mut self, mode: Mode) -> Option<(usize, bool)> {
            self.mode = mode;
            find_runnable_fast(self).map(|(g, inh)| (id(g), inh))
        }
    }

    fn id(g: NonNull<Item>) -> usize {
        // SAFETY: items (never moved) live as long as the world.
        unsafe { g.as_ref() }.id
    }

    impl FindSources for World {
        type G = NonNull<Item>;

        fn schedtick(&self) -> u32 {
            self.schedtick
        }
        fn global_len_hint(&self) -> usize {
            self.global.len()
        }
        fn global_get_one(&mut self) -> Option<NonNull<Item>> {
            self.calls.push(Call::GlobalOne);
            let procs = self.spin.gomaxprocs as usize;
            globrunqget(&mut self.global, &self.ps[self.me], procs, 1)
        }
        fn local_get(&mut self) -> Option<(NonNull<Item>, bool)> {
            self.calls.push(Call::Local);
            self.ps[self.me].get()
        }
        fn global_get_batch(&mut self) -> Option<NonNull<Item>> {
            self.calls.push(Call::GlobalBatch);
            let procs = self.spin.gomaxprocs as usize;
            globrunqget(&mut self.global, &self.ps[self.me], procs, 0)
        }
        fn netpoll(&mut self) -> Option<NonNull<Item>> {
            self.calls.push(Call::Netpoll);
            None
        }
        fn mode(&self) -> Mode {
            self.mode
        }
        fn spin_state(&self) -> SpinState {
            self.spin
        }
        fn become_spinning(&mut self) {
            self.calls.push(Call::BecomeSpinning);
            self.spin.spinning = true;
            self.spin.nmspinning += 1;
        }
        fn current_p(&self) -> usize {
            self.me
        }
        fn steal_order(&mut self) -> RandomEnum {
            self.order.start(self.rand.next_u32())
        }
        fn steal_from(&mut self, victim: usize, steal_runnext: bool) -> Option<NonNull<Item>> {
            self.calls.push(Call::Steal(victim, steal_runnext));
            self.ps[self.me].steal(&self.ps[victim], steal_runnext)
        }
        fn take_slice_expired(&mut self) -> bool {
            core::mem::take(&mut self.slice_expired)
        }
        fn woken_get(&mut self) -> Option<NonNull<Item>> {
            self.woken.pop_front()
        }
        fn local_get_waiting(&mut self) -> Option<NonNull<Item>> {
            self.calls.push(Call::LocalWaiting);
            self.ps[self.me].get_older_than(self.mark)
        }
        fn stop_stealing(&self) -> bool {
            self.stop_after.is_some_and(|n| {
                self.calls
                    .iter()
                    .filter(|c| matches!(c, Call::Steal(..)))
                    .count()
                    >= n
            })
        }
    }

    #[test]
    fn timer_woken_gs_run_first_in_fifo_order_even_on_the_61st_tick_and_after_expiry() {
        let mut w = World::new(2);
        w.local_put(0, 1, true);
        w.local_put(0, 2, false);
        w.global_push(3);
        w.woken_push(10);
        w.woken_push(11);
        w.schedtick = 61;
        w.slice_expired = true;
        // Woken sleepers first, oldest first, never inheriting a slice, and
        // nothing else is even looked at (the expiry stays pending).
        assert_eq!(w.found(), Some((10, false)));
        assert_eq!(w.found(), Some((11, false)));
        assert!(w.calls.is_empty(), "looked elsewhere: {:?}", w.calls);
        // Then the usual order: the 61st tick's global check.
        assert_eq!(w.found(), Some((3, false)));
    }

    #[test]
    fn constants_are_gos() {
        assert_eq!(SCHEDTICK_GLOBAL_CHECK, 61);
        assert_eq!(STEAL_TRIES, 4);
        assert_eq!(GLOBAL_BATCH_MAX, 128);
    }

    #[test]
    fn check_global_first_every_61st_tick_with_work() {
        assert!(check_global_first(0, 1));
        assert!(check_global_first(61, 1));
        assert!(check_global_first(122, 5));
        assert!(!check_global_first(61, 0));
        assert!(!check_global_first(60, 1));
        assert!(!check_global_first(62, 1));
        assert_eq!(
            (0..61 * 10).filter(|&t| check_global_first(t, 1)).count(),
            10
        );
    }

    #[test]
    fn global_batch_size_is_gos_min() {
        // min(len, len/procs + 1, max, 128)
        assert_eq!(global_batch_size(0, 4, 0), 0);
        assert_eq!(global_batch_size(1, 4, 0), 1);
        assert_eq!(global_batch_size(10, 4, 0), 3);
        assert_eq!(global_batch_size(10, 1, 0), 10);
        assert_eq!(global_batch_size(10, 4, 1), 1);
        assert_eq!(global_batch_size(10, 4, 2), 2);
        assert_eq!(global_batch_size(1000, 1, 0), 128);
        assert_eq!(global_batch_size(1000, 2, 0), 128);
        assert_eq!(global_batch_size(1000, 8, 0), 126);
        assert_eq!(global_batch_size(5, 0, 0), 5);
    }

    #[test]
    fn may_spin_allows_at_most_half_the_busy_ps() {
        // 8 Ps, none idle: up to 4 spinning Ms (2*3 < 8, 2*4 !< 8).
        assert!(may_spin(false, 3, 8, 0));
        assert!(!may_spin(false, 4, 8, 0));
        // 8 Ps, 6 idle: 2 busy, at most one spinner.
        assert!(may_spin(false, 0, 8, 6));
        assert!(!may_spin(false, 1, 8, 6));
        // All idle, or racy npidle > gomaxprocs: no new spinner.
        assert!(!may_spin(false, 0, 8, 8));
        assert!(!may_spin(false, 0, 8, 9));
        // Already spinning: keeps going regardless.
        assert!(may_spin(true, 100, 8, 8));
    }

    #[test]
    fn runnext_only_on_the_last_round() {
        let rounds: Vec<bool> = (0..STEAL_TRIES).map(steal_runnext_on_round).collect();
        assert_eq!(rounds, [false, false, false, true]);
    }

    #[test]
    fn tick_multiple_of_61_takes_one_global_g_before_runnext() {
        let mut w = World::new(4);
        w.schedtick = 61 * 3;
        w.global_push(100);
        w.global_push(101);
        w.local_put(0, 1, false);
        w.local_put(0, 2, true);
        assert_eq!(w.found(), Some((100, false)));
        assert_eq!(w.calls, [Call::GlobalOne]);
        // Only one G moved (max = 1): nothing was added to the local ring.
        assert_eq!(w.global.len(), 1);
        assert_eq!(w.ps[0].len(), 2);
    }

    #[test]
    fn tick_multiple_of_61_with_empty_global_goes_local() {
        let mut w = World::new(4);
        w.schedtick = 61;
        w.local_put(0, 1, false);
        w.local_put(0, 2, true);
        assert_eq!(w.found(), Some((2, true)));
        assert_eq!(w.calls, [Call::Local]);
    }

    #[test]
    fn otherwise_runnext_then_local_then_global_batch() {
        let mut w = World::new(4);
        w.schedtick = 60;
        for id in 100..110 {
            w.global_push(id);
        }
        w.local_put(0, 1, false);
        w.local_put(0, 2, true);
        assert_eq!(w.found(), Some((2, true)));
        assert_eq!(w.found(), Some((1, false)));
        assert_eq!(w.calls, [Call::Local, Call::Local]);
        w.calls.clear();
        // Local empty: a batch of min(10, 10/4+1) = 3 from the global queue,
        // the first returned, two moved to the local ring in order.
        assert_eq!(w.found(), Some((100, false)));
        assert_eq!(w.calls, [Call::Local, Call::GlobalBatch]);
        assert_eq!(w.global.len(), 7);
        assert_eq!(w.ps[0].len(), 2);
        assert_eq!(w.found(), Some((101, false)));
        assert_eq!(w.found(), Some((102, false)));
    }

    #[test]
    fn globrunqget_leaves_surplus_in_global_when_local_is_nearly_full() {
        let mut w = World::new(1);
        for id in 0..RUNQ_SIZE - 2 {
            w.local_put(0, id, false);
        }
        for id in 500..510 {
            w.global_push(id);
        }
        // Batch is min(10, 10/1+1, 128) = 10; room for 2.
        let g = globrunqget(&mut w.global, &w.ps[0], 1, 0).map(id);
        assert_eq!(g, Some(500));
        assert_eq!(w.ps[0].len(), RUNQ_SIZE);
        assert_eq!(w.global.len(), 7);
        assert_eq!(w.global.head().map(id), Some(503));
    }

    #[test]
    fn steals_when_allowed_runnext_only_in_last_round_never_from_self() {
        let mut w = World::new(4);
        w.me = 2;
        // Only work in the system: P 1's runnext.
        w.local_put(1, 7, true);
        assert_eq!(w.found(), Some((7, false)));
        let steals: Vec<Call> = w
            .calls
            .iter()
            .copied()
            .filter(|c| matches!(c, Call::Steal(..)))
            .collect();
        assert_eq!(
            w.calls[..4],
            [Call::Local, Call::Netpoll, Call::BecomeSpinning, steals[0]]
        );
        // Three full rounds over the 3 other Ps without runnext, then the
        // last round (with runnext) until P 1 is reached.
        let (plain, last): (Vec<_>, Vec<_>) = steals
            .iter()
            .partition(|c| matches!(c, Call::Steal(_, false)));
        assert_eq!(plain.len(), 9);
        assert!(!last.is_empty() && last.len() <= 3);
        assert_eq!(*last.last().unwrap(), Call::Steal(1, true));
        assert!(steals.iter().all(|c| !matches!(c, Call::Steal(2, _))));
        for round in plain.chunks(3) {
            let mut victims: Vec<usize> = round
                .iter()
                .map(|c| match c {
                    Call::Steal(v, _) => *v,
                    _ => unreachable!(),
                })
                .collect();
            victims.sort_unstable();
            assert_eq!(victims, [0, 1, 3]);
        }
        assert!(w.spin.spinning);
    }

    #[test]
    fn steal_takes_from_a_ring_in_the_first_round() {
        let mut w = World::new(3);
        for id in 0..6 {
            w.local_put(2, id, false);
        }
        let got = w.found();
        // Half of 6 grabbed; the last of them is returned, without inheritTime.
        assert_eq!(got, Some((2, false)));
        assert_eq!(w.ps[0].len(), 2);
        assert_eq!(w.ps[2].len(), 3);
        assert!(w.calls.iter().all(|c| !matches!(c, Call::Steal(_, true))));
    }

    #[test]
    fn no_spinning_allowed_means_no_stealing() {
        let mut w = World::new(4);
        w.spin.nmspinning = 2; // 2*2 !< 4 - 0
        w.local_put(1, 5, false);
        assert_eq!(w.found(), None);
        assert_eq!(w.calls, [Call::Local, Call::Netpoll]);
        assert_eq!(w.ps[1].len(), 1);
    }

    #[test]
    fn a_spinning_m_keeps_stealing_without_becoming_spinning_again() {
        let mut w = World::new(4);
        w.spin = SpinState {
            spinning: true,
            nmspinning: 4,
            gomaxprocs: 4,
            npidle: 3,
        };
        w.local_put(3, 5, false);
        assert_eq!(w.found(), Some((5, false)));
        assert!(!w.calls.contains(&Call::BecomeSpinning));
    }

    #[test]
    fn nothing_anywhere_tries_all_rounds_and_returns_none() {
        let mut w = World::new(4);
        assert_eq!(w.found(), None);
        let steals = w
            .calls
            .iter()
            .filter(|c| matches!(c, Call::Steal(..)))
            .count();
        assert_eq!(steals, STEAL_TRIES as usize * 3);
    }

    #[test]
    fn expired_slice_lets_the_global_queue_in_and_ends_inheritance() {
        let mut w = World::new(2);
        w.schedtick = 5; // not a multiple of 61
        w.global_push(100);
        w.local_put(0, 1, true); // runnext
        w.slice_expired = true;
        assert_eq!(
            w.found(),
            Some((100, false)),
            "the global G must run first after an expired slice"
        );
        w.slice_expired = true;
        assert_eq!(
            w.found(),
            Some((1, false)),
            "runnext must not inherit an expired slice"
        );
        w.local_put(0, 2, true);
        assert_eq!(
            w.found(),
            Some((2, true)),
            "normal runnext inheritance otherwise"
        );
    }

    #[test]
    fn expired_slice_serves_what_waited_before_the_global_queue() {
        let mut w = World::new(1);
        w.schedtick = 5;
        w.local_put(0, 1, false);
        w.local_put(0, 2, false);
        w.begin_slice();
        w.local_put(0, 3, false); // put during the slice: younger
        w.global_push(100);
        w.global_push(101);
        // (The marks stay: 1 and 2 are picked at expiries of the slice
        // that began before 3 was put, as with inherited slices.)
        w.slice_expired = true;
        assert_eq!(w.found(), Some((1, false)));
        w.slice_expired = true;
        assert_eq!(w.found(), Some((2, false)));
        w.slice_expired = true;
        assert_eq!(
            w.found(),
            Some((100, false)),
            "Gs put during the slice wait behind one global G"
        );
        w.begin_slice();
        w.slice_expired = true;
        assert_eq!(w.found(), Some((3, false)), "then the local queue again");
    }

    /// What the P runs next, kernel-style: a G not inheriting starts a new
    /// slice (and marks the queue).
    fn next(w: &mut World, expired: bool) -> usize {
        w.slice_expired = expired;
        let (g, inherit) = w.found().expect("nothing to run");
        if !inherit {
            w.begin_slice();
        }
        g
    }

    /// CPU hogs cycle through the global queue (preempted hogs go there);
    /// the running hog readies short goroutines, or hogs, into the ring. A G
    /// at position k (runnext = 0) runs within k + 2 expiries, counting the
    /// slice it was readied in.
    #[test]
    fn readied_gs_run_within_their_position_plus_two_slices_behind_hogs() {
        for readied_are_hogs in [false, true] {
            let mut w = World::new(1);
            w.schedtick = 7;
            for h in 100..110 {
                w.global_push(h);
            }
            // Hog 99 runs (its slice began with an empty local queue).
            let mut running = 99;
            w.begin_slice();
            // The hog readies 1..=5 as `go` does (runnext, the previous
            // runnext to the ring's tail): positions 5, 1, 2, 3, 4 -> 0..4.
            for id in 1..=5 {
                w.local_put(0, id, true);
            }
            let position = |id: usize| if id == 5 { 0 } else { id };
            let mut ran = [None; 6];
            for expiry in 1..=20 {
                // The slice of `running` expires: it goes to the global queue.
                w.global_push(running);
                running = next(&mut w, true);
                // Short Gs finish at once; the P schedules again.
                while (1..=5).contains(&running) && !readied_are_hogs {
                    ran[running].get_or_insert(expiry);
                    running = next(&mut w, false);
                }
                if (1..=5).contains(&running) {
                    ran[running].get_or_insert(expiry);
                }
            }
            for (id, at) in ran.iter().enumerate().skip(1) {
                let at = at.expect("a readied G never ran");
                assert!(
                    at <= position(id) + 2,
                    "G {id} (position {}, hogs: {readied_are_hogs}) ran at expiry {at}",
                    position(id)
                );
            }
        }
    }

    /// Two goroutine chains respawning through runnext (the
    /// `runnext_respawn_does_not_starve_global` QEMU test): a G waiting in
    /// the global queue runs within 3 expiries wherever the preemption lands.
    #[test]
    fn respawn_chains_do_not_starve_the_global_queue() {
        // A chain member, when preempted, has (true) or has not (false) yet
        // spawned its successor.
        for spawned_before_preemption in [false, true] {
            let mut w = World::new(1);
            w.schedtick = 3;
            let mut fresh = 200..;
            w.global_push(100); // main, waiting
            let mut running = fresh.next().unwrap();
            w.begin_slice();
            w.local_put(0, fresh.next().unwrap(), false); // the other chain
            let mut served = None;
            for expiry in 1..=10 {
                // Chain members respawn (inheriting the slice) until the
                // slice expires.
                for _ in 0..5 {
                    w.local_put(0, fresh.next().unwrap(), true);
                    running = next(&mut w, false);
                }
                if spawned_before_preemption {
                    w.local_put(0, fresh.next().unwrap(), true);
                }
                w.global_push(running);
                running = next(&mut w, true);
                if running == 100 {
                    served = Some(expiry);
                    break;
                }
            }
            let at = served.expect("the global G never ran");
            assert!(at <= 3, "the global G ran only at expiry {at}");
        }
    }

    #[test]
    fn mode_from_flags() {
        use crate::sched::knobs::{GM, NO_SPIN, NO_STEAL, PREEMPT_COOP};
        assert_eq!(Mode::from_flags(0), Mode::GMP);
        assert_eq!(Mode::from_flags(PREEMPT_COOP), Mode::GMP);
        let gm = Mode::from_flags(GM);
        assert!(gm.gm && !gm.steal);
        assert!(!Mode::from_flags(NO_STEAL).steal);
        assert!(!Mode::from_flags(NO_SPIN).spin && Mode::from_flags(NO_SPIN).steal);
    }

    #[test]
    fn gm_takes_woken_then_global_gs_one_at_a_time_and_never_steals() {
        let gm = Mode::from_flags(crate::sched::knobs::GM);
        let mut w = World::new(2);
        // (Under sched=gm no G reaches a ring; one on P 1's proves that
        // nobody steals it.)
        w.local_put(1, 3, false);
        w.global_push(10);
        w.global_push(11);
        w.woken_push(20);
        assert_eq!(w.found_in(gm), Some((20, false)));
        assert_eq!(w.found_in(gm), Some((10, false)));
        // One G, not a batch: nothing moved into P 0's ring.
        assert_eq!((w.global.len(), w.ps[0].len()), (1, 0));
        assert_eq!(w.found_in(gm), Some((11, false)));
        assert_eq!(w.found_in(gm), None);
        assert_eq!(
            w.calls,
            [
                Call::Local,
                Call::GlobalOne,
                Call::Local,
                Call::GlobalOne,
                Call::Local
            ]
        );
        assert_eq!(w.ps[1].len(), 1);
        assert!(!w.spin.spinning);
    }

    #[test]
    fn steal_off_never_steals_nor_spins() {
        let mode = Mode::from_flags(crate::sched::knobs::NO_STEAL);
        let mut w = World::new(4);
        w.local_put(1, 5, false);
        w.local_put(2, 6, true);
        assert_eq!(w.found_in(mode), None);
        assert_eq!(w.calls, [Call::Local, Call::Netpoll]);
        assert!(!w.spin.spinning);
        // Own and global work is still found.
        w.global_push(7);
        assert_eq!(w.found_in(mode), Some((7, false)));
    }

    #[test]
    fn spin_off_steals_without_becoming_spinning_even_past_the_spinner_limit() {
        let mode = Mode::from_flags(crate::sched::knobs::NO_SPIN);
        let mut w = World::new(4);
        w.spin.nmspinning = 2; // may_spin would say no
        w.local_put(1, 5, false);
        assert_eq!(w.found_in(mode), Some((5, false)));
        assert!(!w.calls.contains(&Call::BecomeSpinning));
        assert!(!w.spin.spinning);
    }

    #[test]
    fn stop_stealing_abandons_the_walk() {
        let mut w = World::new(8);
        w.stop_after = Some(2);
        w.local_put(5, 1, true);
        assert_eq!(w.found(), None);
        let steals = w
            .calls
            .iter()
            .filter(|c| matches!(c, Call::Steal(..)))
            .count();
        assert_eq!(steals, 2);
    }
}
