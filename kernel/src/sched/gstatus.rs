//! A goroutine's status word and the park/ready hand-off on it (Go:
//! `casgstatus`, and the status half of `park_m` and `ready`). Pure: the
//! kernel's `G` (`g.rs`) and `park.rs` use it, and the loom models below
//! run the same functions on threads, so the protocol that rules out a lost
//! wake-up and a double run is checked on the code the kernel runs.
//!
//! # The protocol
//!
//! A G is owned by whoever moved it into its current status: the CPU that
//! made it `Running`, the waker that made it `Runnable` (until it is in a
//! queue), the wait structure it is published in while `Waiting`. Every
//! hand-off is a compare-and-swap on the status word (AcqRel), so exactly
//! one party wins each transition and the loser is a named fatal error,
//! never a second owner.
//!
//! - **Park** ([`park_commit`], on g0 after `mcall`): `Running -> Waiting`
//!   *before* the unlock function publishes the wait (releases the lock
//!   the waker takes, adds the timer that readies it): a waker that finds
//!   the G finds it `Waiting`, however soon after the unlock it comes, even
//!   while this CPU is still on g0 finishing the park. If the unlock
//!   function returns false (the wake-up already happened: Go's
//!   `netpollblockcommit`), the G goes `Waiting -> Runnable` and this CPU
//!   runs it again.
//! - **Ready** ([`ready`]): `Waiting -> Runnable` *before* the G is queued:
//!   once queued another CPU may take it and move it `Runnable -> Running`.
//!
//! A wake-up is never lost because a waker finds the G only through what
//! the unlock function published, after the G is `Waiting`; a G never runs
//! twice because each of `Waiting -> Runnable` and `Runnable -> Running`
//! can be won once per park.
use crate::lock::atomic::{AtomicU8, Ordering};

/// Goroutine status (Go: `_Gidle`, `_Grunnable`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Just allocated, not yet initialised (Go: `_Gidle`).
    Idle = 0,
    /// On a run queue, not running (Go: `_Grunnable`).
    Runnable = 1,
    /// Running on a CPU (Go: `_Grunning`).
    Running = 2,
    /// Blocked in `gopark`; `wait_reason` says why (Go: `_Gwaiting`).
    Waiting = 3,
    /// Exited; on a free list for reuse (Go: `_Gdead`). (Go's
    /// `_Gpreempted` has no counterpart: a preempted goroutine goes straight
    /// from `Running` to `Runnable` on g0.)
    Dead = 4,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Idle,
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Waiting,
            _ => Status::Dead,
        }
    }

    /// Go's name for the status, as goroutine dumps print it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Runnable => "runnable",
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Dead => "dead",
        }
    }

    /// Is `from -> to` a transition the scheduler makes?
    #[inline]
    pub fn legal(from: Status, to: Status) -> bool {
        use Status::*;
        matches!(
            (from, to),
            (Idle, Dead)
                | (Dead, Runnable)
                | (Runnable, Running)
                | (Running, Runnable)
                | (Running, Waiting)
                | (Running, Dead)
                | (Waiting, Runnable)
        )
    }
}

/// Why a status transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadStatus {
    /// Not a transition the scheduler makes.
    Illegal,
    /// The G was not in `from` but in this status.
    Was(Status),
}

/// The status word (Go: `g.atomicstatus`).
pub struct GStatus(AtomicU8);

impl GStatus {
    #[cfg(not(loom))]
    pub const fn new(s: Status) -> GStatus {
        GStatus(AtomicU8::new(s as u8))
    }

    #[cfg(loom)]
    pub fn new(s: Status) -> GStatus {
        GStatus(AtomicU8::new(s as u8))
    }

    /// A snapshot (exact only for the G's owner).
    #[inline]
    pub fn load(&self) -> Status {
        Status::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Go: `casgstatus`'s check and swap: moves `from -> to` if that is a
    /// legal transition and the G is in `from`. AcqRel: the winner sees
    /// everything the previous owner wrote (the G's context, its stack).
    #[inline]
    pub fn cas(&self, from: Status, to: Status) -> Result<(), BadStatus> {
        if !Status::legal(from, to) {
            return Err(BadStatus::Illegal);
        }
        self.0
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|actual| BadStatus::Was(Status::from_u8(actual)))
    }
}

/// A G as the park/ready protocol sees it: its checked status transition
/// (the kernel's `G::casgstatus`, which adds the goroutine counters and
/// turns a refusal into a fatal error).
pub trait Goroutine {
    /// Go: `casgstatus`: `from -> to`, or a fatal error.
    fn casgstatus(&self, from: Status, to: Status);
}

/// How a park ended (the result of [`park_commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The G is parked: the CPU goes on to `schedule`.
    Parked,
    /// The unlock function said no: the G is `Runnable` again and this CPU
    /// runs it at once (Go: `park_m`'s `execute(gp, true)`).
    Resume,
}

/// Go: `park_m`'s commit, on g0 once the G is off its stack: `Running ->
/// Waiting`, then `off_cpu` (the M lets go of it: `dropg`'s rest), then
/// `unlock` publishes the wait. If `unlock` returns false, `resume` runs
/// (the bookkeeping of a wake-up) and the G is `Runnable` again.
#[inline(always)]
pub fn park_commit<G: Goroutine + ?Sized>(
    g: &G,
    off_cpu: impl FnOnce(&G),
    unlock: Option<impl FnOnce() -> bool>,
    resume: impl FnOnce(&G),
) -> Commit {
    // Waiting before anyone can find the G: the unlock publishes it.
    g.casgstatus(Status::Running, Status::Waiting);
    off_cpu(g);
    if let Some(f) = unlock
        && !f()
    {
        resume(g);
        g.casgstatus(Status::Waiting, Status::Runnable);
        return Commit::Resume;
    }
    Commit::Parked
}

/// Go: `ready`'s status half: `before` (the wake-up's bookkeeping, while
/// the waker still owns the parked G), `Waiting -> Runnable`, then `put`
/// queues it (from then on another CPU may run it).
#[inline(always)]
pub fn ready<G: Goroutine + ?Sized>(g: &G, before: impl FnOnce(&G), put: impl FnOnce(&G)) {
    before(g);
    g.casgstatus(Status::Waiting, Status::Runnable);
    put(g);
}

/// Go: `execute`'s status half: a G taken off a queue starts running.
#[inline(always)]
pub fn start<G: Goroutine + ?Sized>(g: &G) {
    g.casgstatus(Status::Runnable, Status::Running);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn only_the_scheduler_transitions_are_legal() {
        use Status::*;
        let all = [Idle, Runnable, Running, Waiting, Dead];
        let mut n = 0;
        for from in all {
            for to in all {
                n += Status::legal(from, to) as u32;
            }
        }
        assert_eq!(n, 7);
        assert!(
            !Status::legal(Waiting, Running),
            "a parked G must be readied first"
        );
        assert!(!Status::legal(Runnable, Waiting));
    }

    #[test]
    fn cas_reports_the_actual_status() {
        let s = GStatus::new(Status::Running);
        assert_eq!(s.cas(Status::Running, Status::Waiting), Ok(()));
        assert_eq!(
            s.cas(Status::Runnable, Status::Running),
            Err(BadStatus::Was(Status::Waiting))
        );
        assert_eq!(
            s.cas(Status::Waiting, Status::Running),
            Err(BadStatus::Illegal)
        );
        assert_eq!(s.load(), Status::Waiting);
    }

    struct TG(GStatus);
    impl Goroutine for TG {
        fn casgstatus(&self, from: Status, to: Status) {
            self.0.cas(from, to).unwrap();
        }
    }

    #[test]
    fn a_refused_unlock_resumes_the_goroutine() {
        let g = TG(GStatus::new(Status::Running));
        let r = park_commit(
            &g,
            |_| {},
            Some(|| false),
            |g| assert_eq!(g.0.load(), Status::Waiting),
        );
        assert_eq!(r, Commit::Resume);
        assert_eq!(g.0.load(), Status::Runnable);
        let g = TG(GStatus::new(Status::Running));
        let r = park_commit(&g, |_| {}, None::<fn() -> bool>, |_| unreachable!());
        assert_eq!(r, Commit::Parked);
        assert_eq!(g.0.load(), Status::Waiting);
        ready(&g, |_| {}, |g| assert_eq!(g.0.load(), Status::Runnable));
    }
}

/// loom models of the park/ready hand-off: the real [`park_commit`],
/// [`ready`], [`start`] and [`GStatus::cas`] on loom's atomics, with a
/// thread per CPU. The model G's stack is a loom cell that only the CPU
/// running the G touches: a double run (two CPUs running it, or one
/// running it before the park finished) is a loom access-race report or a
/// refused `casgstatus` (a panic naming both statuses); a lost wake-up is
/// a G that never finished (checked after the threads end).
#[cfg(all(test, loom))]
pub(super) mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    /// Exhaustive (no preemption bound): two CPUs, one G, a handful of
    /// atomic steps; each model explores a few hundred executions (counts
    /// printed with `--nocapture`).
    fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
        crate::lock::loom_check::check(name, None, f)
    }

    /// A goroutine: the real status word, its stack (touched only by the
    /// CPU running it), how often it finished.
    /// Shared with the sleep model (`sleep_model.rs`).
    pub(in crate::sched) struct MG {
        pub(in crate::sched) status: GStatus,
        stack: UnsafeCell<u32>,
        pub(in crate::sched) finished: AtomicUsize,
    }

    impl Goroutine for MG {
        fn casgstatus(&self, from: Status, to: Status) {
            if let Err(e) = self.status.cas(from, to) {
                panic!(
                    "casgstatus: {} -> {} refused: {e:?}",
                    from.name(),
                    to.name()
                );
            }
        }
    }

    impl MG {
        /// Created running on CPU 0.
        pub(in crate::sched) fn running() -> MG {
            MG {
                status: GStatus::new(Status::Running),
                stack: UnsafeCell::new(0),
                finished: AtomicUsize::new(0),
            }
        }

        /// The G's code touching its stack (the CPU running it).
        pub(in crate::sched) fn work(&self) {
            // SAFETY: only the CPU running the G touches its stack; loom
            // reports it if two ever do without an edge between them.
            self.stack.with_mut(|p| unsafe { *p += 1 });
        }

        /// The G returns (Go: `goexit1`).
        pub(in crate::sched) fn exit(&self) {
            self.work();
            self.finished.fetch_add(1, Ordering::Relaxed);
            self.casgstatus(Status::Running, Status::Dead);
        }
    }

    /// A run queue that holds the one G at most once (a second put is a G
    /// runnable in two places).
    struct RunQ(Mutex<u32>);

    impl RunQ {
        fn put(&self) {
            let mut n = self.0.lock().unwrap();
            assert_eq!(*n, 0, "G queued twice");
            *n = 1;
        }

        /// `schedule` on this CPU: if the G is queued, take and run it to
        /// its end (`then`: the rest of its code after the park).
        fn schedule(&self, g: &MG, then: impl FnOnce()) {
            let got = core::mem::take(&mut *self.0.lock().unwrap()) != 0;
            if got {
                start(g);
                then();
            }
        }
    }

    struct World {
        g: MG,
        runq: RunQ,
    }

    fn world() -> Arc<World> {
        Arc::new(World {
            g: MG::running(),
            runq: RunQ(Mutex::new(0)),
        })
    }

    /// After both CPUs are done: the G finished exactly once.
    fn check_end(w: &World) {
        assert_eq!(w.g.finished.load(Ordering::Relaxed), 1, "lost wake-up");
        assert_eq!(w.g.status.load(), Status::Dead);
    }

    /// `goparkunlock` racing `goready` (the semaphore's, Cond's and the
    /// channels' pattern): the G checks its condition under the wait
    /// structure's lock, queues itself, and parks with an unlock function
    /// that releases the lock on g0; the waker sets the condition under the
    /// lock, takes the waiter and readies it, then schedules. The waker may
    /// come before the check (no park), between the queueing and the
    /// unlock (it waits for the lock), or after, while CPU 0 is still on g0
    /// finishing the park; the G must run its rest exactly once.
    #[test]
    fn loom_goparkunlock_vs_goready() {
        model("loom_goparkunlock_vs_goready", || {
            // (condition, a waiter is queued)
            let lock = Arc::new(Mutex::new((false, false)));
            let w = world();
            let (w1, l1) = (w.clone(), lock.clone());
            let waker = thread::spawn(move || {
                let waiter = {
                    let mut st = l1.lock().unwrap();
                    st.0 = true;
                    core::mem::take(&mut st.1)
                };
                if waiter {
                    ready(&w1.g, |_| {}, |_| w1.runq.put());
                }
                w1.runq.schedule(&w1.g, || w1.g.exit());
            });
            // CPU 0 runs the G.
            w.g.work();
            let mut st = lock.lock().unwrap();
            if st.0 {
                drop(st);
                w.g.exit();
            } else {
                st.1 = true;
                // mcall to g0, then park_m.
                let c = park_commit(
                    &w.g,
                    |_| {},
                    Some(move || {
                        drop(st);
                        true
                    }),
                    |_| unreachable!("the unlock function accepts"),
                );
                assert_eq!(c, Commit::Parked);
                w.runq.schedule(&w.g, || w.g.exit());
            }
            waker.join().unwrap();
            check_end(&w);
        });
    }

    /// The wait word of [`loom_unlock_refuses_early_wakeup`] (Go's
    /// `pollDesc.rg`): nothing yet, a wake-up came, the G is parked on it.
    const EMPTY: usize = 0;
    const READY: usize = 1;
    const PARKED: usize = 2;

    /// A wake-up that arrives before the park completes, without a lock
    /// (Go: `netpollblock` + `netpollblockcommit`): the G parks with an
    /// unlock function that publishes it with a CAS `EMPTY -> PARKED`; the
    /// waker swaps in `READY` and readies the G only if it found it
    /// `PARKED`. A waker between the G's check and its unlock makes the
    /// CAS fail: the unlock function returns false and the G resumes at
    /// once on CPU 0 (`Commit::Resume`), `Waiting -> Runnable -> Running`
    /// with no queue; a waker after the unlock readies it while CPU 0 may
    /// still be on g0. Either way it runs on exactly once.
    #[test]
    fn loom_unlock_refuses_early_wakeup() {
        model("loom_unlock_refuses_early_wakeup", || {
            let word = Arc::new(AtomicUsize::new(EMPTY));
            let w = world();
            let (w1, wd1) = (w.clone(), word.clone());
            // The G's code after its wait: the wake-up it waited for is there.
            fn rest(w: &World, word: &AtomicUsize) {
                assert_eq!(
                    word.load(Ordering::Acquire),
                    READY,
                    "woken without a wake-up"
                );
                w.g.exit();
            }
            let waker = thread::spawn(move || {
                if wd1.swap(READY, Ordering::AcqRel) == PARKED {
                    ready(&w1.g, |_| {}, |_| w1.runq.put());
                }
                w1.runq.schedule(&w1.g, || rest(&w1, &wd1));
            });
            w.g.work();
            loop {
                if word.load(Ordering::Acquire) == READY {
                    rest(&w, &word);
                    break;
                }
                let wd = word.clone();
                let commit = park_commit(
                    &w.g,
                    |_| {},
                    Some(move || {
                        wd.compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    }),
                    |g| assert_eq!(g.status.load(), Status::Waiting),
                );
                match commit {
                    // park_m's `execute(gp, true)`: the G runs on, here.
                    Commit::Resume => start(&w.g),
                    Commit::Parked => {
                        w.runq.schedule(&w.g, || rest(&w, &word));
                        break;
                    }
                }
            }
            waker.join().unwrap();
            check_end(&w);
        });
    }
}
