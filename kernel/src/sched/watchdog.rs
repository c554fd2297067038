//! The scheduler watchdog (`watchdog=1`): checks that do not trust the
//! scheduler they watch, each ending in a named fatal error and the
//! goroutine dump.
//!
//! 1. **Starvation.** A runnable goroutine (in a P's ring or `runnext`, the
//!    global queue or the woken queue) that has not run while the CPUs that
//!    could run it made K x (queue length) schedule rounds
//!    (`watchdog_rules::starve_bound`). A round is a `schedtick` (a new
//!    time slice: `runnext` hand-offs that inherit the slice are not
//!    rounds); a goroutine in P i's queue earns only P i's rounds, one in a
//!    shared queue everybody's.
//! 2. **Lost wake-ups.** A parked goroutine whose condition already holds,
//!    judged from the primitive's own state under its lock: its semaphore
//!    has a unit while it is still queued, or it was dequeued (woken) but
//!    never readied, or its WaitGroup's counter is 0. Each primitive
//!    records what a goroutine waits on before it parks ([`GWatch`]); the
//!    scan asks "would it proceed now?". Only a condition that holds on
//!    several scans in a row, spanning progress epochs (each waits until
//!    every goroutine runnable or running at its start has run again or
//!    parked: `watchdog_rules::persist`), fires: a waker between "condition true" and `goready`, even one
//!    preempted there, is not a lost wake-up.
//! 3. **Stuck CPUs.** A heartbeat NMI every [`HEARTBEAT_NS`] to every CPU
//!    that is not halted; a CPU that takes [`watchdog_rules::STUCK_BEATS`]
//!    of them in a row with interrupts off and its timer tick count
//!    unmoved reports itself (its own registers and frames). A halted
//!    tickless CPU gets no heartbeat and is never stuck.
//!
//! What it trusts: the tick (scans and heartbeats run from the timer
//! interrupt of whichever CPU is busy), the G status word, and the
//! primitives' locks. What it does not: the run queues' order, `wakep`,
//! the wakers. All CPUs idle means nothing runs and nothing is checked (no
//! goroutine can starve, and a stall of every CPU is the runner's NMI
//! dump's, or `checkdead`'s, job).
//!
//! Bounds are counted in schedule rounds, scans and heartbeats, never in
//! wall time: the scan period and the heartbeat period only pace the
//! checks, so a loaded host (a vCPU descheduled for a while) slows the
//! checks and the scheduler alike.
//!
//! Cost: off (the default), one load and branch in `gopark`, `semacquire`,
//! `semrelease`, the blocking channel operations, findRunnable and the
//! tick, and one store per `execute`. On: an O(goroutines) scan every
//! [`SCAN_NS`] on one CPU, from its tick (`cargo bench --bench watchdog`:
//! +0.1% on the yield workload with three goroutines).
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::g::{G, Status};
use super::p::p;
use super::schedt::{SCHED, gomaxprocs};
use super::watchdog_rules::{self as rules, Persist, Place, Sighting};
use crate::arch::frames::WalkStart;
use crate::arch::{MAX_CPUS, percpu};
use crate::console::emergency;

/// How often a busy CPU's tick scans (pacing only: no bound is in time).
pub const SCAN_NS: u64 = 2_000_000;
/// How often the heartbeat NMI goes to the CPUs that are not halted.
pub const HEARTBEAT_NS: u64 = 10_000_000;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Is the watchdog on (`watchdog=1`)?
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns the watchdog on (boot, `watchdog=1`, before any CPU schedules).
pub fn enable() {
    crate::arch::exceptions::set_nmi_heartbeat_handler(nmi_heartbeat);
    ENABLED.store(true, Ordering::Release);
}

/// What a parked goroutine waits on.
const WAIT_NONE: u8 = 0;
/// A runtime semaphore word (`sema.rs`): Mutex, RWMutex, WaitGroup,
/// Semaphore, Once, worldsema.
const WAIT_SEMA: u8 = 1;

/// A blocking channel send or receive (`sync/chan.rs`).
const WAIT_CHAN: u8 = 2;

/// A channel's "would this goroutine, parked on it, proceed now?" on the
/// channel at the given address; `None`: its lock was busy.
/// `Some(Some(why))`: it would, and why (`HChan::watch_state`).
pub type ChanCheck = fn(usize, &G) -> Option<Option<&'static str>>;

/// A primitive's own extra "would it proceed now?" (the WaitGroup's
/// counter at 0), on the object at the given address. Must only read.
pub type ExtraCheck = fn(usize) -> bool;

/// The watchdog's per-goroutine state (in every G).
pub struct GWatch {
    /// Times it was started by `execute` (Go has no such counter): a
    /// goroutine seen twice with the same count did not run in between.
    pub runs: AtomicU32,
    /// What it waits on (`WAIT_*`), the semaphore's address, and an extra
    /// check with its object. Written by the goroutine itself (recorded
    /// before it parks, cleared when it resumes, under `guard`).
    kind: AtomicU8,
    addr: AtomicUsize,
    extra: AtomicUsize,
    extra_obj: AtomicUsize,
    /// Held by a scan while it reads the wait record's object, and by the
    /// goroutine while it clears the record on resuming: the object lives
    /// at least until the record is cleared (the goroutine holds it while
    /// parked), so a scan holding the guard reads live memory.
    guard: AtomicBool,
    /// Scanner-only (one scan at a time): the last sighting runnable.
    place: AtomicU32,
    clock: AtomicU32,
    seen_runs: AtomicU32,
    credit: AtomicU64,
    qmax: AtomicU64,
    /// Scanner-only: the progress epoch it is a member of (0: none) and its
    /// run count when marked.
    epoch_mark: AtomicU64,
    epoch_runs: AtomicU32,
    /// Scanner-only: the lost-wake-up persistence.
    lost_scans: AtomicU32,
    lost_since: AtomicU64,
    lost_runs: AtomicU32,
}

impl GWatch {
    pub const fn new() -> GWatch {
        GWatch {
            runs: AtomicU32::new(0),
            kind: AtomicU8::new(WAIT_NONE),
            addr: AtomicUsize::new(0),
            extra: AtomicUsize::new(0),
            extra_obj: AtomicUsize::new(0),
            guard: AtomicBool::new(false),
            place: AtomicU32::new(rules::PLACE_NONE),
            clock: AtomicU32::new(0),
            seen_runs: AtomicU32::new(0),
            credit: AtomicU64::new(0),
            qmax: AtomicU64::new(0),
            epoch_mark: AtomicU64::new(0),
            epoch_runs: AtomicU32::new(0),
            lost_scans: AtomicU32::new(0),
            lost_since: AtomicU64::new(0),
            lost_runs: AtomicU32::new(0),
        }
    }

    fn sighting(&self) -> Sighting {
        Sighting {
            place: self.place.load(Ordering::Relaxed),
            clock: self.clock.load(Ordering::Relaxed),
            runs: self.seen_runs.load(Ordering::Relaxed),
            credit: self.credit.load(Ordering::Relaxed),
            qmax: self.qmax.load(Ordering::Relaxed),
        }
    }

    fn set_sighting(&self, s: Sighting) {
        self.place.store(s.place, Ordering::Relaxed);
        self.clock.store(s.clock, Ordering::Relaxed);
        self.seen_runs.store(s.runs, Ordering::Relaxed);
        self.credit.store(s.credit, Ordering::Relaxed);
        self.qmax.store(s.qmax, Ordering::Relaxed);
    }

    fn persist(&self) -> Persist {
        Persist {
            scans: self.lost_scans.load(Ordering::Relaxed),
            since_epoch: self.lost_since.load(Ordering::Relaxed),
            runs: self.lost_runs.load(Ordering::Relaxed),
        }
    }

    fn set_persist(&self, p: Persist) {
        self.lost_scans.store(p.scans, Ordering::Relaxed);
        self.lost_since.store(p.since_epoch, Ordering::Relaxed);
        self.lost_runs.store(p.runs, Ordering::Relaxed);
    }
}

impl Default for GWatch {
    fn default() -> Self {
        Self::new()
    }
}

/// `execute`: the goroutine starts running (only its owner writes `runs`).
/// Counted only while the watchdog is on: scans compare a goroutine's
/// `runs` with what an earlier scan saw, never with zero, so counting from
/// the moment it is turned on is enough, and every other switch pays one
/// load instead of a write into the G.
#[inline]
pub fn on_execute(g: &G) {
    if !enabled() {
        return;
    }
    let w = &g.watch;
    w.runs.store(
        w.runs.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// `semacquire`, about to park on `addr` (under the bucket lock, queued):
/// records the wait for the lost-wake-up scan. `extra`: the primitive's
/// own condition on its object (`WaitGroup::wait`).
pub fn wait_on_sema(g: &G, addr: usize, extra: Option<(ExtraCheck, usize)>) {
    if !enabled() {
        return;
    }
    let w = &g.watch;
    let (f, obj) = extra.map_or((0, 0), |(f, o)| (f as usize, o));
    w.addr.store(addr, Ordering::Relaxed);
    w.extra.store(f, Ordering::Relaxed);
    w.extra_obj.store(obj, Ordering::Relaxed);
    // Release: a scan that sees the kind (after seeing `Waiting`, which
    // the park publishes later) sees the fields.
    w.kind.store(WAIT_SEMA, Ordering::Release);
}

/// A blocking channel operation on the channel at `ch` may park: records
/// it (`check` judges it) for the lost-wake-up scan. True if recorded
/// (then [`done_waiting`] must follow when the operation returns).
pub fn wait_on_chan(ch: usize, check: ChanCheck) -> bool {
    if !enabled() {
        return false;
    }
    // SAFETY: a goroutine-only call (the channel checked it).
    let g = unsafe { &*super::m::getg() };
    let w = &g.watch;
    w.addr.store(ch, Ordering::Relaxed);
    w.extra.store(check as usize, Ordering::Relaxed);
    w.kind.store(WAIT_CHAN, Ordering::Release);
    true
}

/// The recorded operation returned (parked or not): forget it.
pub fn done_waiting() {
    // SAFETY: a goroutine-only call, after `wait_on_chan`.
    on_resume(unsafe { &*super::m::getg() })
}

/// `gopark` returned: the goroutine runs again and forgets what it waited
/// on, waiting out a scan that is reading it (the scan never waits for
/// the goroutine, so this cannot deadlock).
#[inline]
pub fn on_resume(g: &G) {
    if !enabled() || g.watch.kind.load(Ordering::Relaxed) == WAIT_NONE {
        return;
    }
    let w = &g.watch;
    while w
        .guard
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    w.kind.store(WAIT_NONE, Ordering::Relaxed);
    w.guard.store(false, Ordering::Release);
}

// ---------------------------------------------------------------------------
// Test hooks

/// The goroutine id findRunnable skips (0: none): `testing::sched::watchdog_starve`.
static STARVE_GOID: AtomicU64 = AtomicU64::new(0);
/// The next `semrelease` with a waiter adds its unit and wakes no one.
static LOSE_NEXT_WAKEUP: AtomicBool = AtomicBool::new(false);

/// Test hook: findRunnable never runs goroutine `goid` (it puts it back
/// on the global queue instead), so it starves while the others run.
pub fn starve(goid: u64) {
    STARVE_GOID.store(goid, Ordering::SeqCst);
}

/// findRunnable found `g`: true if the starvation hook says to skip it.
#[inline]
pub fn skip_for_test(g: &G) -> bool {
    let id = STARVE_GOID.load(Ordering::Relaxed);
    id != 0 && g.goid() == id
}

/// Test hook: the next `semrelease` that finds a waiter loses its wake-up.
pub fn lose_next_wakeup() {
    LOSE_NEXT_WAKEUP.store(true, Ordering::SeqCst);
}

/// `semrelease` with waiters: true if the hook says to lose this wake-up.
#[inline]
pub fn lose_wakeup_for_test() -> bool {
    LOSE_NEXT_WAKEUP.load(Ordering::Relaxed) && LOSE_NEXT_WAKEUP.swap(false, Ordering::SeqCst)
}

/// Test hook: spins on this CPU with interrupts off, forever (the stuck-CPU
/// check must find it).
pub fn spin_irqs_off() -> ! {
    crate::arch::irq::disable();
    loop {
        core::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// Counters (tests show the watchdog looked)

/// What the watchdog has done so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Scans run.
    pub scans: u64,
    /// Runnable goroutines looked at, and the most rounds any had waited
    /// in a P's queue and in the shared queues, each as a percentage of
    /// its bound then (100 would be an alarm).
    pub runnable_seen: u64,
    pub max_local_pct: u64,
    pub max_shared_pct: u64,
    /// Parked goroutines whose condition was evaluated, and how often it
    /// held (a transient window between a waker and `goready`).
    pub waits_checked: u64,
    pub waits_held: u64,
    /// Progress epochs passed (each: every goroutine runnable at its start
    /// ran since).
    pub epochs: u64,
    /// Heartbeat NMIs sent and taken.
    pub beats_sent: u64,
    pub beats_taken: u64,
}

static SCANS: AtomicU64 = AtomicU64::new(0);
static RUNNABLE_SEEN: AtomicU64 = AtomicU64::new(0);
static MAX_LOCAL_PCT: AtomicU64 = AtomicU64::new(0);
static MAX_SHARED_PCT: AtomicU64 = AtomicU64::new(0);
static WAITS_CHECKED: AtomicU64 = AtomicU64::new(0);
static WAITS_HELD: AtomicU64 = AtomicU64::new(0);
static BEATS_SENT: AtomicU64 = AtomicU64::new(0);
static BEATS_TAKEN: AtomicU64 = AtomicU64::new(0);

/// The watchdog's counters.
pub fn stats() -> Stats {
    Stats {
        scans: SCANS.load(Ordering::Relaxed),
        runnable_seen: RUNNABLE_SEEN.load(Ordering::Relaxed),
        max_local_pct: MAX_LOCAL_PCT.load(Ordering::Relaxed),
        max_shared_pct: MAX_SHARED_PCT.load(Ordering::Relaxed),
        waits_checked: WAITS_CHECKED.load(Ordering::Relaxed),
        waits_held: WAITS_HELD.load(Ordering::Relaxed),
        epochs: EPOCH.load(Ordering::Relaxed) - 1,
        beats_sent: BEATS_SENT.load(Ordering::Relaxed),
        beats_taken: BEATS_TAKEN.load(Ordering::Relaxed),
    }
}

// ---------------------------------------------------------------------------
// The tick's part

/// One scan at a time (claimed by CAS), paced by `NEXT_SCAN`.
static SCANNING: AtomicBool = AtomicBool::new(false);
static NEXT_SCAN: AtomicU64 = AtomicU64::new(0);
static NEXT_BEAT: AtomicU64 = AtomicU64::new(0);

/// Scanner-only: the progress epoch (from 1), whether the next scan marks
/// its members, and how many marked ones have not run yet.
static EPOCH: AtomicU64 = AtomicU64::new(1);
static MARKING: AtomicBool = AtomicBool::new(true);

/// From every CPU's timer tick (interrupts off): the heartbeat and, every
/// [`SCAN_NS`], a scan.
pub fn on_tick(now: u64) {
    if !enabled() || crate::panic::panicking() {
        return;
    }
    let beat = NEXT_BEAT.load(Ordering::Relaxed);
    if now >= beat
        && NEXT_BEAT
            .compare_exchange(
                beat,
                now + HEARTBEAT_NS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        send_heartbeats();
    }
    let next = NEXT_SCAN.load(Ordering::Relaxed);
    if now < next
        || SCANNING
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    // Another CPU may have scanned between our load and our claim.
    if NEXT_SCAN.load(Ordering::Relaxed) <= now {
        NEXT_SCAN.store(now + SCAN_NS, Ordering::Relaxed);
        scan();
    }
    SCANNING.store(false, Ordering::Release);
}

fn scan() {
    SCANS.fetch_add(1, Ordering::Relaxed);
    scan_runnable(gomaxprocs());
    scan_waiting();
}

// ---------------------------------------------------------------------------
// 1. Starvation

fn scan_runnable(procs: usize) {
    // Everything that may go ahead of a goroutine in a P's queue.
    let shared =
        (SCHED.nwoken.load(Ordering::Relaxed) + SCHED.runqsize.load(Ordering::Relaxed)) as u64;
    for i in 0..procs {
        let pp = p(i);
        let qlen = pp.runq.len() as u64 + shared;
        let clock = || pp.schedtick.load(Ordering::Acquire);
        pp.runq.for_each_snapshot(|g| {
            // SAFETY: Gs are never freed; a stale pointer is a live G.
            sight(unsafe { g.as_ref() }, i as Place, clock, qlen, procs)
        });
    }
    // The shared queues (every P serves them): the sum of all rounds. A
    // try-lock: an interrupted holder is not waited for.
    let all = || {
        (0..procs).fold(0u32, |a, i| {
            a.wrapping_add(p(i).schedtick.load(Ordering::Acquire))
        })
    };
    for (q, place) in [
        (&SCHED.runq, rules::PLACE_GLOBAL),
        (&SCHED.wokenq, rules::PLACE_WOKEN),
    ] {
        if let Some(q) = q.try_lock() {
            let len = q.len() as u64;
            for g in q.iter() {
                // SAFETY: as above; the queue is locked.
                sight(unsafe { g.as_ref() }, place, all, len, procs);
            }
        }
    }
}

/// One sighting of runnable `g` at `place`, whose round counter `clock`
/// reads (live: the scan is not instantaneous).
fn sight(g: &G, place: Place, clock: impl Fn() -> u32, qlen: u64, procs: usize) {
    if g.status() != Status::Runnable {
        return;
    }
    RUNNABLE_SEEN.fetch_add(1, Ordering::Relaxed);
    let w = &g.watch;
    let before = clock();
    let runs = w.runs.load(Ordering::Acquire);
    let after = clock();
    let s = rules::observe(w.sighting(), place, before, after, runs, qlen);
    w.set_sighting(s);
    let bound = rules::starve_bound(s.place, s.qmax, procs as u64);
    let max = match place {
        rules::PLACE_GLOBAL | rules::PLACE_WOKEN => &MAX_SHARED_PCT,
        _ => &MAX_LOCAL_PCT,
    };
    max.fetch_max(s.credit * 100 / bound.max(1), Ordering::Relaxed);
    if rules::starved(&s, procs as u64) {
        let at = match place {
            rules::PLACE_GLOBAL => format_place("the global queue", None),
            rules::PLACE_WOKEN => format_place("the woken queue", None),
            i => format_place("P", Some(i)),
        };
        crate::panic::fatal_report(
            format_args!(
                "watchdog: goroutine {} starved: runnable in {} for {} schedule rounds without running (bound {}: longest queue {})",
                g.goid(),
                at,
                s.credit,
                bound,
                s.qmax
            ),
            report,
        );
    }
}

/// "P3" or a queue's name, without allocating (we are in an interrupt).
fn format_place(name: &'static str, p: Option<u32>) -> PlaceName {
    PlaceName(name, p)
}

struct PlaceName(&'static str, Option<u32>);

impl core::fmt::Display for PlaceName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.1 {
            Some(i) => write!(f, "{}{}'s run queue", self.0, i),
            None => f.write_str(self.0),
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Lost wake-ups

/// Walks every goroutine: the progress epoch's bookkeeping, and the
/// lost-wake-up check of the parked ones.
fn scan_waiting() {
    let epoch = EPOCH.load(Ordering::Relaxed);
    let marking = MARKING.load(Ordering::Relaxed);
    let mut pending = 0u64;
    let mut gp = SCHED.allgs.load(Ordering::Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; the list only grows at its head.
        let g = unsafe { &*gp };
        gp = g.allnext.load(Ordering::Acquire);
        let st = g.status();
        let w = &g.watch;
        let runs = w.runs.load(Ordering::Acquire);
        if marking {
            if matches!(st, Status::Runnable | Status::Running) {
                w.epoch_mark.store(epoch, Ordering::Relaxed);
                w.epoch_runs.store(runs, Ordering::Relaxed);
                pending += 1;
            }
        } else if w.epoch_mark.load(Ordering::Relaxed) == epoch {
            let gone = matches!(st, Status::Waiting | Status::Dead | Status::Idle);
            if rules::epoch_member_done(gone, w.epoch_runs.load(Ordering::Relaxed), runs) {
                w.epoch_mark.store(0, Ordering::Relaxed);
            } else {
                pending += 1;
            }
        }
        if st != Status::Waiting || w.kind.load(Ordering::Acquire) == WAIT_NONE {
            continue;
        }
        let (holds, why) = check_waiting(g);
        let (p, lost) = rules::persist(w.persist(), holds, runs, epoch);
        w.set_persist(p);
        if holds.is_some() {
            WAITS_CHECKED.fetch_add(1, Ordering::Relaxed);
        }
        if holds == Some(true) {
            WAITS_HELD.fetch_add(1, Ordering::Relaxed);
        }
        if lost {
            crate::panic::fatal_report(
                format_args!(
                    "watchdog: lost wake-up: goroutine {} [{}]: {}{} (it could proceed for {} scans, {} progress epochs)",
                    g.goid(),
                    g.wait_reason().as_str(),
                    if wait_kind(g) == WAIT_CHAN {
                        "channel: "
                    } else {
                        ""
                    },
                    why,
                    p.scans,
                    epoch - p.since_epoch,
                ),
                report,
            );
        }
    }
    if marking {
        MARKING.store(false, Ordering::Relaxed);
    } else if pending == 0 {
        // Every member ran (or parked): the next epoch begins next scan.
        EPOCH.store(epoch + 1, Ordering::Relaxed);
        MARKING.store(true, Ordering::Relaxed);
    }
}

fn wait_kind(g: &G) -> u8 {
    g.watch.kind.load(Ordering::Relaxed)
}

/// Would parked `g` proceed now? `None`: cannot tell (its record is being
/// cleared, or a lock was busy). With a channel's reason.
fn check_waiting(g: &G) -> (Option<bool>, &'static str) {
    let w = &g.watch;
    if w.guard
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return (None, "");
    }
    let mut why = "";
    // Under the guard the record cannot be cleared: the object it names is
    // alive. Only a goroutine still parked is judged.
    let kind = w.kind.load(Ordering::Acquire);
    let r = if g.status() != Status::Waiting {
        None
    } else if kind == WAIT_CHAN {
        // SAFETY: stored from a `ChanCheck` by `wait_on_chan`.
        let f =
            unsafe { core::mem::transmute::<usize, ChanCheck>(w.extra.load(Ordering::Relaxed)) };
        f(w.addr.load(Ordering::Relaxed), g).map(|r| {
            why = r.unwrap_or("");
            r.is_some()
        })
    } else if kind == WAIT_SEMA {
        check_sema(g).map(|(queued, count)| {
            let extra = w.extra.load(Ordering::Relaxed);
            let extra_holds = queued && extra != 0 && {
                // SAFETY: stored from an `ExtraCheck` by `wait_on_sema`.
                let f = unsafe { core::mem::transmute::<usize, ExtraCheck>(extra) };
                f(w.extra_obj.load(Ordering::Relaxed))
            };
            // Queued with a unit there, or the primitive says go, or woken
            // (dequeued) but still parked: each is "would proceed".
            why = if !queued {
                "semaphore waiter dequeued but never readied"
            } else if count > 0 {
                "semaphore has a unit while it is still queued"
            } else if extra_holds {
                "its WaitGroup's counter is 0 while it is still queued"
            } else {
                ""
            };
            !queued || count > 0 || extra_holds
        })
    } else {
        None
    };
    w.guard.store(false, Ordering::Release);
    (r, why)
}

/// `(still queued, count)` of the semaphore `g` waits on, or `None` if the
/// bucket lock was busy. Call with `g`'s guard held (or from the report,
/// where nothing runs any more).
fn check_sema(g: &G) -> Option<(bool, u32)> {
    super::sema::watch_state(g.watch.addr.load(Ordering::Relaxed), g)
}

// ---------------------------------------------------------------------------
// 3. Stuck CPUs

/// Per CPU: a heartbeat was sent and not yet taken; the tick count at the
/// last heartbeat; heartbeats in a row with interrupts off and no tick.
static BEAT_PENDING: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static BEAT_TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static BEAT_STRIKES: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

fn send_heartbeats() {
    let me = percpu::cpu_index();
    let ncpu = SCHED.ncpu.load(Ordering::Relaxed) as usize;
    for cpu in (0..ncpu).filter(|&c| c != me) {
        // A halted CPU is tickless on purpose, not stuck: no heartbeat.
        if super::m::m(cpu).is_halted() || BEAT_PENDING[cpu].swap(true, Ordering::AcqRel) {
            continue;
        }
        BEATS_SENT.fetch_add(1, Ordering::Relaxed);
        crate::arch::ipi::send_nmi(cpu);
    }
}

/// The stuck CPU's own walk start, for the report.
static STUCK_RIP: AtomicU64 = AtomicU64::new(0);
static STUCK_FP: AtomicU64 = AtomicU64::new(0);

/// The NMI upcall (`arch::exceptions::set_nmi_heartbeat_handler`): a
/// heartbeat is consumed here (true); any other NMI (the runner's dump)
/// is left to the dump.
fn nmi_heartbeat(rflags: u64, start: WalkStart) -> bool {
    let cpu = percpu::cpu_index();
    if !BEAT_PENDING[cpu].swap(false, Ordering::AcqRel) {
        return false;
    }
    if crate::panic::panicking() {
        return true;
    }
    BEATS_TAKEN.fetch_add(1, Ordering::Relaxed);
    let ticks = crate::arch::timer::ticks(cpu);
    let irq_off = rflags & (1 << 9) == 0;
    let last = BEAT_TICKS[cpu].swap(ticks, Ordering::Relaxed);
    let (strikes, stuck) = rules::heartbeat(
        BEAT_STRIKES[cpu].load(Ordering::Relaxed),
        last,
        ticks,
        irq_off,
    );
    BEAT_STRIKES[cpu].store(strikes, Ordering::Relaxed);
    if stuck {
        let pc = match start.top {
            Some(crate::arch::frames::Frame::Pc(pc)) => pc,
            _ => 0,
        };
        STUCK_RIP.store(pc, Ordering::Relaxed);
        STUCK_FP.store(start.fp, Ordering::Relaxed);
        crate::panic::fatal_report(
            format_args!(
                "watchdog: cpu {} stuck with interrupts off: {} heartbeats ({} ms) without a timer tick, at rip={:#x}",
                cpu,
                strikes,
                u64::from(strikes) * HEARTBEAT_NS / 1_000_000,
                pc
            ),
            report_stuck,
        );
    }
    true
}

fn report_stuck() {
    let start = WalkStart {
        top: Some(crate::arch::frames::Frame::Pc(
            STUCK_RIP.load(Ordering::Relaxed),
        )),
        fp: STUCK_FP.load(Ordering::Relaxed),
    };
    // This CPU's goroutine, from where the heartbeat found it, then the
    // rest.
    crate::panic::report_context(start);
    super::dump::print_sched_state();
    emergency(format_args!("watchdog: {:?}\n", stats()));
    super::dump::dump_all_but_current();
}

/// Every report: the scheduler's state and every goroutine.
fn report() {
    super::dump::print_sched_state();
    emergency(format_args!("watchdog: {:?}\n", stats()));
    super::dump::dump_all();
}
