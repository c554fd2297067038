//! The watchdog's arithmetic, pure and host-tested: when a runnable
//! goroutine counts as starved, when a condition that "already holds"
//! counts as a lost wake-up, when a CPU counts as stuck. `watchdog.rs`
//! gathers the observations (run queues, parked goroutines, heartbeats)
//! and applies these rules; nothing here reads a clock, so no bound
//! depends on wall time.

/// Where a scan found a runnable goroutine: a P's ring or `runnext`
/// (`0..MAX_CPUS`), the global queue, or the woken queue.
pub type Place = u32;
pub const PLACE_NONE: Place = u32::MAX;
pub const PLACE_GLOBAL: Place = u32::MAX - 1;
pub const PLACE_WOKEN: Place = u32::MAX - 2;

/// Rounds each goroutine that may go ahead of one in a P's queue (that
/// ring, its `runnext`, the woken and the global queue: findRunnable serves
/// the woken queue first, the global one every 61st round and after an
/// expired slice, `policy.rs`) may cost it. FIFO alone would need 1; the
/// rest is margin for goroutines that arrive in the queues served first
/// while it waits (sleepers waking, preempted goroutines), measured on the
/// healthy load of `watchdog_healthy` (ARCHITECTURE.md, the watchdog).
pub const LOCAL_K: u64 = 32;
/// Every P takes one global goroutine at least every 61st round (Go's
/// `schedtick % 61`), so a goroutine j places deep in the global queue
/// is taken within 61 x (j + gomaxprocs) rounds summed over the Ps; the
/// factor 2 is margin.
pub const GLOBAL_K: u64 = 2 * 61;
/// Rounds added to every bound: slice expiries, steals, the 61st tick.
pub const SLACK: u64 = 1024;

/// What the scanner remembers about one runnable goroutine between scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// Where it was last seen.
    pub place: Place,
    /// That place's round counter (its P's `schedtick`, or the sum over
    /// all Ps for the shared queues; wrapping) read just *after* its run
    /// count was.
    pub clock: u32,
    /// The goroutine's run count then (`execute` bumps it).
    pub runs: u32,
    /// Rounds it waited, runnable and not run, on CPUs that could run it.
    pub credit: u64,
    /// The longest queue (its place's) it was seen in while waiting.
    pub qmax: u64,
}

impl Sighting {
    pub const NONE: Sighting = Sighting {
        place: PLACE_NONE,
        clock: 0,
        runs: 0,
        credit: 0,
        qmax: 0,
    };
}

/// One scan's view of a runnable goroutine at `place`: the place's round
/// counter read `before` its run count `runs`, and again `after` it, in a
/// queue of `qlen`. The scan is not instantaneous (another CPU goes on
/// scheduling while it reads, and a loaded host may stall the scanning CPU
/// anywhere), so an interval is credited only from the last sighting's
/// `after` to this one's `before`: the goroutine certainly had not run
/// then if its run count did not change. Credit grows only between two
/// sightings at the same place; a goroutine that ran starts over; one
/// that moved without running (a steal, a global batch into a ring) keeps
/// its credit but earns none for that interval, so a move never causes an
/// alarm.
pub fn observe(
    last: Sighting,
    place: Place,
    before: u32,
    after: u32,
    runs: u32,
    qlen: u64,
) -> Sighting {
    let (credit, qmax) = if last.place == PLACE_NONE || last.runs != runs {
        (0, qlen)
    } else if last.place == place {
        let earned = before.wrapping_sub(last.clock);
        // A counter that went backwards (it cannot: a torn view) earns 0.
        let earned = if earned > u32::MAX / 2 { 0 } else { earned };
        (
            last.credit.saturating_add(u64::from(earned)),
            last.qmax.max(qlen),
        )
    } else {
        (last.credit, last.qmax.max(qlen))
    };
    Sighting {
        place,
        clock: after,
        runs,
        credit,
        qmax,
    }
}

/// The rounds a goroutine may wait at `place` given the longest queue it
/// was in (`qmax`) and `gomaxprocs`. K x (queue length), plus slack.
pub fn starve_bound(place: Place, qmax: u64, gomaxprocs: u64) -> u64 {
    let k = match place {
        PLACE_GLOBAL | PLACE_WOKEN => GLOBAL_K,
        _ => LOCAL_K,
    };
    let q = match place {
        PLACE_GLOBAL | PLACE_WOKEN => qmax + gomaxprocs,
        _ => qmax + 1,
    };
    k.saturating_mul(q).saturating_add(SLACK)
}

/// Starved: more credit than the bound.
pub fn starved(s: &Sighting, gomaxprocs: u64) -> bool {
    s.place != PLACE_NONE && s.credit > starve_bound(s.place, s.qmax, gomaxprocs)
}

/// Consecutive scans a parked goroutine's condition must hold...
pub const LOST_SCANS: u32 = 4;
/// ...spanning at least this many progress epochs (see
/// [`epoch_member_done`]): the first may have begun before the waker
/// existed, the others waited for it to run.
pub const LOST_EPOCHS: u64 = 3;

/// What the scanner remembers about a parked goroutine whose condition
/// holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persist {
    /// Consecutive scans the condition held (0: it did not last time).
    pub scans: u32,
    /// The progress epoch of the first of them.
    pub since_epoch: u64,
    /// The goroutine's run count then: a goroutine that ran in between
    /// parked anew.
    pub runs: u32,
}

impl Persist {
    pub const NONE: Persist = Persist {
        scans: 0,
        since_epoch: 0,
        runs: 0,
    };
}

/// One scan's verdict on a parked goroutine's condition: `Some(true)` it
/// would proceed now, `Some(false)` it would not, `None` unknown (a lock
/// was busy: the scan does not wait in an interrupt). Returns the new
/// state and whether it is a lost wake-up: the condition held on
/// [`LOST_SCANS`] scans in a row spanning [`LOST_EPOCHS`] epochs, in each
/// of which every goroutine that could run did, so a waker caught between
/// "condition true" and `goready` (preempted, or its vCPU descheduled by a
/// loaded host) is not mistaken for a lost one.
pub fn persist(last: Persist, holds: Option<bool>, runs: u32, epoch: u64) -> (Persist, bool) {
    let last = if last.runs != runs {
        Persist::NONE
    } else {
        last
    };
    let next = match holds {
        None => last,
        Some(false) => Persist::NONE,
        Some(true) if last.scans == 0 => Persist {
            scans: 1,
            since_epoch: epoch,
            runs,
        },
        Some(true) => Persist {
            scans: last.scans.saturating_add(1),
            ..last
        },
    };
    let lost = next.scans >= LOST_SCANS && epoch.saturating_sub(next.since_epoch) >= LOST_EPOCHS;
    (Persist { runs, ..next }, lost)
}

/// A progress epoch (see `watchdog.rs`) begins by marking every goroutine
/// that is runnable or running, with its run count; it has passed once
/// each marked one ran again (`runs` moved) or parked or exited. So a
/// waker caught in its window (preempted into a queue, or running on a
/// vCPU its host descheduled) holds the epoch back until it has run.
pub fn epoch_member_done(parked_or_dead: bool, runs_marked: u32, runs_now: u32) -> bool {
    parked_or_dead || runs_now != runs_marked
}

/// Heartbeats in a row a CPU may spend with interrupts off and no timer
/// tick before it counts as stuck.
pub const STUCK_BEATS: u32 = 10;

/// One heartbeat NMI on a CPU: interrupts were off where it landed
/// (`irq_off`) and the CPU's tick count did (`ticks`) or did not move
/// since the last one (`last_ticks`). Returns the new count of beats in a
/// row and whether the CPU is stuck.
pub fn heartbeat(strikes: u32, last_ticks: u64, ticks: u64, irq_off: bool) -> (u32, bool) {
    let s = if irq_off && ticks == last_ticks {
        strikes.saturating_add(1)
    } else {
        0
    };
    (s, s >= STUCK_BEATS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_grows_only_in_place_and_unrun() {
        let s = observe(Sighting::NONE, 0, 100, 100, 5, 3);
        assert_eq!((s.credit, s.qmax), (0, 3));
        let s = observe(s, 0, 150, 150, 5, 2);
        assert_eq!((s.credit, s.qmax), (50, 3));
        // Moved (stolen by P1): kept, nothing earned.
        let s = observe(s, 1, 900, 900, 5, 1);
        assert_eq!(s.credit, 50);
        let s = observe(s, 1, 920, 920, 5, 1);
        assert_eq!(s.credit, 70);
        // It ran: over.
        let s = observe(s, 1, 2000, 2000, 6, 1);
        assert_eq!((s.credit, s.qmax), (0, 1));
    }

    #[test]
    fn only_the_certain_interval_is_credited() {
        // The scan was slow: 300 rounds passed between reading the counter
        // before and after the run count. None of them is credited.
        let s = observe(Sighting::NONE, 0, 1000, 1300, 9, 3);
        let s = observe(s, 0, 1310, 1600, 9, 3);
        assert_eq!(s.credit, 10);
        // Wrapping counters.
        let s = observe(Sighting::NONE, 0, u32::MAX - 5, u32::MAX - 5, 1, 1);
        let s = observe(s, 0, 4, 4, 1, 1);
        assert_eq!(s.credit, 10);
        // A counter that seems to go back earns nothing.
        let s = observe(s, 0, 2, 2, 1, 1);
        assert_eq!(s.credit, 10);
    }

    #[test]
    fn bounds_scale_with_the_queue() {
        assert_eq!(starve_bound(0, 0, 4), LOCAL_K + SLACK);
        assert_eq!(starve_bound(2, 10, 4), LOCAL_K * 11 + SLACK);
        assert_eq!(starve_bound(PLACE_GLOBAL, 10, 4), GLOBAL_K * 14 + SLACK);
        let mut s = observe(Sighting::NONE, 0, 0, 0, 1, 2);
        let bound = starve_bound(0, 2, 1) as u32;
        s = observe(s, 0, bound, bound, 1, 2);
        assert!(!starved(&s, 1), "exactly the bound is allowed");
        s = observe(s, 0, bound + 1, bound + 1, 1, 2);
        assert!(starved(&s, 1));
        assert!(!starved(&Sighting::NONE, 1));
    }

    #[test]
    fn lost_needs_scans_and_epochs() {
        let mut p = Persist::NONE;
        let mut lost;
        // Held on many scans but no epoch passed: a stalled waker.
        for _ in 0..10 {
            (p, lost) = persist(p, Some(true), 3, 7);
            assert!(!lost);
        }
        // Epochs pass: lost once both bounds are met.
        (p, lost) = persist(p, Some(true), 3, 7 + LOST_EPOCHS);
        assert!(lost);
        // Unknown keeps, false resets, a run resets.
        let (q, _) = persist(p, None, 3, 100);
        assert_eq!(q.scans, p.scans);
        let (q, _) = persist(p, Some(false), 3, 100);
        assert_eq!(q.scans, 0);
        let (q, lost) = persist(p, Some(true), 4, 100);
        assert_eq!((q.scans, q.since_epoch, lost), (1, 100, false));
    }

    #[test]
    fn few_scans_are_not_enough() {
        let mut p = Persist::NONE;
        let mut lost = false;
        for e in 0..LOST_SCANS - 1 {
            (p, lost) = persist(p, Some(true), 0, u64::from(e) * 100);
        }
        assert!(!lost);
        (_, lost) = persist(p, Some(true), 0, 1000);
        assert!(lost);
    }

    #[test]
    fn epoch_members_must_run_or_park() {
        assert!(!epoch_member_done(false, 4, 4));
        assert!(epoch_member_done(false, 4, 5));
        assert!(epoch_member_done(true, 4, 4));
    }

    #[test]
    fn stuck_after_beats_in_a_row() {
        let (mut s, mut stuck) = (0, false);
        for _ in 0..STUCK_BEATS - 1 {
            (s, stuck) = heartbeat(s, 9, 9, true);
        }
        assert!(!stuck);
        // A tick in between, or interrupts on (a halted CPU): reset.
        assert_eq!(heartbeat(s, 9, 10, true), (0, false));
        assert_eq!(heartbeat(s, 9, 9, false), (0, false));
        (_, stuck) = heartbeat(s, 9, 9, true);
        assert!(stuck);
    }
}
