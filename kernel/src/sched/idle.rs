//! Worker parking/unparking: idle Ps, spinning Ms, `wakep` (Go: the block of
//! the same name at the top of runtime/proc.go, `wakep`, `pidleput`,
//! `pidlegetSpinning`, `startm`, `stopm`, `resetspinning`, and the
//! "delicate dance" of `findRunnable`).
//!
//! Pure logic, generic over the machine ([`Machine`]: halting, wake-up IPIs,
//! looking at the run queues), so the same code runs in the kernel, in host
//! unit tests and under loom (`make test-loom`).
//!
//! # Worker parking/unparking
//!
//! We need to balance two goals: keep enough CPUs running to use the
//! available parallelism, and halt the others to save power (and, under
//! emulation, host time). An M whose P has nothing to run marks the P idle
//! and halts its CPU; `wakep`, called by whoever makes work runnable, hands
//! an idle P back to its M *as a spinning M* (Go's `startm(pp, spinning)`)
//! and sends it a wake-up IPI. A spinning M is one looking for work to steal;
//! there is at most one unless it finds work (then it stops spinning and
//! wakes the next one: `resetspinning`), so a burst of `go` statements wakes
//! CPUs one at a time instead of all at once.
//!
//! **The invariant:** if there is runnable work and an idle P, then either
//! an M is spinning, or a `wakep` is in flight, or the work's own P is
//! running and will get to it. Everything below exists to keep it.
//!
//! 1. **Publish, then wake** (producer): work is published (a run-queue
//!    store) before `wakep` reads `nmspinning`; a full fence separates them.
//! 2. **Drop spinning, then re-check** (the last spinning M going idle):
//!    the M marks its P idle, decrements `nmspinning`, *then* checks every
//!    queue again. Against (1) this is Dekker's pattern: either the producer
//!    sees `nmspinning == 0` (and wakes an idle P, whose idle bit was set
//!    before the decrement), or the idler sees the work. All SeqCst.
//! 3. **Check, then halt** with interrupts off: a wake-up IPI sent after
//!    the check stays pending, and `sti; hlt` (atomic thanks to the
//!    interrupt shadow of `sti`) returns at once.
//! 4. **The hand-off carries the spinning state.** Who owns an idle P is
//!    decided by one CAS on its state word: `IDLE -> HANDED` by `wakep`, or
//!    `IDLE -> BUSY` by its own M taking it back (it saw work). The M, not
//!    the waker, sets its own `spinning` flag when it finds its P `HANDED`
//!    (the waker counted it in `nmspinning` already). An M can therefore
//!    never observe "handed but not yet spinning" (issue 10 D: `wakep` used
//!    to clear the idle bit and only then mark the M spinning; an M running
//!    in between counted itself spinning a second time, or halted with the
//!    flag set, and `nmspinning` stayed non-zero with nobody spinning, which
//!    silenced every later `wakep`).
//! 5. **The idle bit is a hint, set and cleared only by the P's own M**
//!    (set after the state becomes `IDLE`, cleared after it leaves it). A
//!    waker that picks a stale bit loses the CAS and tries the next one. No
//!    other CPU ever writes the bit, so a stalled waker cannot clear the bit
//!    of a P that went idle again meanwhile (ABA).
//! 6. **`needspinning`** (Go 1.21): a `wakep` that found no idle P leaves a
//!    note; the next non-spinning M about to idle takes its P back and spins
//!    once more instead. Best effort (without Go's `sched.lock` the note can
//!    come just after the M looked): the work it is about is in a running
//!    P's queue, which that P runs itself.
use crate::lock::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering, fence};

/// P states in the hand-off protocol.
const BUSY: u8 = 0;
const IDLE: u8 = 1;
const HANDED: u8 = 2;

/// What the protocol needs from the machine. In the kernel: interrupts,
/// `hlt`, IPIs and the real run queues; under loom: park/unpark and atomics.
pub trait Machine {
    /// Is any goroutine runnable anywhere (global queue, any P's ring)?
    fn any_work(&self) -> bool;
    /// Checked with interrupts off right before halting M `m`: work only an
    /// idle M can see (the global queue, a stop-the-world, `m`'s due
    /// timers).
    fn work_before_halt(&self, m: usize) -> bool;
    fn interrupts_off(&self);
    fn interrupts_on(&self);
    /// `sti; hlt` for M `m` (interrupts off on entry, on on return). Returns
    /// at once if a wake-up for `m` is pending.
    fn halt(&self, m: usize);
    /// Wake-up IPI to M `m` (never the caller's own).
    fn wake(&self, m: usize);
    /// The calling M.
    fn this_m(&self) -> usize;
    /// Runs `f` pinned to this M (Go: `acquirem`).
    fn pinned(&self, f: &mut dyn FnMut());
    /// Test hook: called inside `wakep` between taking the P and waking
    /// its M (the window of issue 10 D). Default: nothing.
    fn wakep_window(&self) {}
}

/// Idle Ps and spinning Ms (the `schedt` fields `pidle`, `npidle`,
/// `nmspinning`, `needspinning` and each M's `spinning`), for `N` Ps/Ms.
pub struct Idle<const N: usize> {
    /// Hint: bit i is set while P i is idle (only M i writes bit i).
    pidle: AtomicU64,
    /// Go: `sched.nmspinning`: spinning Ms, plus Ms handed a P by `wakep`
    /// that have not yet woken up.
    nmspinning: AtomicU32,
    /// Go: `sched.needspinning`.
    needspinning: AtomicBool,
    /// Per P: BUSY, IDLE or HANDED.
    state: [AtomicU8; N],
    /// Per M: Go's `m.spinning` (only M i writes it).
    spinning: [AtomicBool; N],
    /// Rotating start for `wakep`'s search, spreading wake-ups.
    next: AtomicU32,
}

/// How `idle` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    /// The M saw work after dropping spinning (the delicate dance), or a
    /// `needspinning` note, and took its P back, spinning.
    Recheck,
    /// The M saw work right before halting and took its P back.
    Work,
    /// `wakep` handed the P back: the M is spinning.
    Handed,
}

impl<const N: usize> Idle<N> {
    const FITS: () = assert!(N <= 64, "the idle mask is a u64");

    #[cfg(not(loom))]
    pub const fn new() -> Self {
        let () = Self::FITS;
        Idle {
            pidle: AtomicU64::new(0),
            nmspinning: AtomicU32::new(0),
            needspinning: AtomicBool::new(false),
            state: [const { AtomicU8::new(BUSY) }; N],
            spinning: [const { AtomicBool::new(false) }; N],
            next: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> Self {
        let () = Self::FITS;
        Idle {
            pidle: AtomicU64::new(0),
            nmspinning: AtomicU32::new(0),
            needspinning: AtomicBool::new(false),
            state: core::array::from_fn(|_| AtomicU8::new(BUSY)),
            spinning: core::array::from_fn(|_| AtomicBool::new(false)),
            next: AtomicU32::new(0),
        }
    }

    /// Go: `sched.nmspinning`.
    pub fn nmspinning(&self) -> u32 {
        self.nmspinning.load(Ordering::SeqCst)
    }

    /// Go: `sched.npidle` (from the hint mask: may be off by the Ps being
    /// handed over right now).
    pub fn npidle(&self) -> u32 {
        self.pidle.load(Ordering::SeqCst).count_ones()
    }

    /// The idle-P hint mask.
    pub fn idle_mask(&self) -> u64 {
        self.pidle.load(Ordering::SeqCst)
    }

    /// Go: `mp.spinning`.
    pub fn is_spinning(&self, m: usize) -> bool {
        self.spinning[m].load(Ordering::Relaxed)
    }

    /// Go: `mp.becomeSpinning()`. **M `m` only**, not already spinning.
    pub fn become_spinning(&self, m: usize) {
        self.spinning[m].store(true, Ordering::Relaxed);
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
        self.needspinning.store(false, Ordering::SeqCst);
    }

    /// Drops M `m`'s spinning state. True if it was spinning (Go: the first
    /// half of `resetspinning`; the caller then wakes another spinner if
    /// it was the last one and Ps are idle: [`Self::should_wake_after_spin`]).
    pub fn stop_spinning(&self, m: usize) -> bool {
        if self.spinning[m].swap(false, Ordering::Relaxed) {
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    /// Go: `resetspinning`'s condition: no M spins any more and Ps are idle.
    pub fn should_wake_after_spin(&self) -> bool {
        self.nmspinning.load(Ordering::SeqCst) == 0 && self.npidle() > 0
    }

    /// Go: `wakep`: if no M spins and a P is idle, hand the P to its M as a
    /// spinning M and wake it. The caller published its work first.
    pub fn wakep(&self, machine: &impl Machine) {
        // (1) of the design: our caller's work store before the load below.
        fence(Ordering::SeqCst);
        if self.nmspinning.load(Ordering::SeqCst) != 0
            || self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
        // Pinned: the hand-off must not be left half done while this
        // goroutine sits preempted on another CPU's queue (Go: acquirem).
        machine.pinned(&mut || {
            let me = machine.this_m();
            let mut idle = self.pidle.load(Ordering::SeqCst);
            let start = self.next.fetch_add(1, Ordering::Relaxed) % 64;
            while idle != 0 {
                let i = (idle.rotate_right(start).trailing_zeros() + start) as usize % 64;
                idle &= !(1u64 << i);
                if i >= N {
                    continue;
                }
                // (4): the CAS decides; the M sets its own spinning flag.
                if self.state[i]
                    .compare_exchange(IDLE, HANDED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    machine.wakep_window();
                    if i != me {
                        machine.wake(i);
                    }
                    return;
                }
            }
            // Go: pidlegetSpinning found nothing.
            self.needspinning.store(true, Ordering::SeqCst);
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Go: `pidleput` + the end of `findRunnable` + `stopm`: M `m` found no
    /// work; its P goes idle and the CPU halts until the P is busy again.
    /// On return the P is M `m`'s again; with [`Woken::Recheck`] and
    /// [`Woken::Handed`] the M is spinning.
    pub fn idle(&self, m: usize, machine: &impl Machine) -> Woken {
        let bit = 1u64 << m;
        // (5): state first, then the hint.
        self.state[m].store(IDLE, Ordering::SeqCst);
        self.pidle.fetch_or(bit, Ordering::SeqCst);
        let was_spinning = self.stop_spinning(m);
        // (2) and (6) are Dekker's pattern against (1): our stores (idle
        // bit, nmspinning) before our loads (the queues, needspinning). The
        // RMWs above are full barriers on x86 already; the fence says so to
        // every memory model (loom checks SeqCst only through fences).
        fence(Ordering::SeqCst);
        if was_spinning {
            // (2): the delicate dance.
            if machine.any_work() {
                return self.take_back(m, true);
            }
        } else if self.needspinning.load(Ordering::SeqCst) {
            // (6)
            return self.take_back(m, true);
        }
        loop {
            machine.interrupts_off();
            if self.state[m].load(Ordering::SeqCst) == HANDED {
                machine.interrupts_on();
                return self.take_back(m, false);
            }
            if machine.work_before_halt(m) {
                machine.interrupts_on();
                return self.take_back(m, false);
            }
            // (3)
            machine.halt(m);
        }
    }

    /// M `m` takes its idle P back (it saw work), or finds it handed over
    /// by `wakep`. `spin`: become spinning if we took it ourselves.
    fn take_back(&self, m: usize, spin: bool) -> Woken {
        let how =
            match self.state[m].compare_exchange(IDLE, BUSY, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => {
                    if spin {
                        self.become_spinning(m);
                        Woken::Recheck
                    } else {
                        Woken::Work
                    }
                }
                Err(HANDED) => {
                    // A wakep counted us in nmspinning already.
                    self.state[m].store(BUSY, Ordering::SeqCst);
                    self.spinning[m].store(true, Ordering::Relaxed);
                    Woken::Handed
                }
                // BUSY: procresize took the P away (`remove`).
                Err(_) => Woken::Work,
            };
        self.pidle.fetch_and(!(1u64 << m), Ordering::SeqCst);
        how
    }

    /// Stop-the-world only (procresize): P `i` is taken out of the idle set
    /// for good, whatever its state. Its M is stopped or halted without a P.
    pub fn remove(&self, i: usize) {
        if self.state[i].swap(BUSY, Ordering::SeqCst) == HANDED {
            // A wakep counted M i; it will not spin for this P now.
            self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        self.pidle.fetch_and(!(1u64 << i), Ordering::SeqCst);
    }
}

#[cfg(not(loom))]
impl<const N: usize> Default for Idle<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// loom models of the protocol above: the real `wakep` and `idle` code on
/// loom's atomics, with `halt` as `thread::park` (a pending `unpark`, like a
/// pending IPI after `cli`, makes it return at once) and a lost wake-up
/// showing up as loom's deadlock report.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    const N: usize = 2;

    /// loom's exhaustive search with a preemption bound (as the run-queue
    /// models): bugs of this protocol need one or two preemptions at the
    /// right place; the bound keeps each model to seconds.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// Two CPUs: a global queue of `work` items, parkable threads.
    struct World {
        idle: Idle<N>,
        work: AtomicUsize,
        stop: AtomicBool,
        threads: loom::sync::Mutex<[Option<thread::Thread>; N]>,
    }

    /// The machine as seen from CPU `me`.
    struct Cpu<'a> {
        w: &'a World,
        me: usize,
    }

    impl Machine for Cpu<'_> {
        fn any_work(&self) -> bool {
            self.w.work.load(Ordering::SeqCst) != 0
        }
        fn work_before_halt(&self, _m: usize) -> bool {
            self.w.work.load(Ordering::SeqCst) != 0 || self.w.stop.load(Ordering::SeqCst)
        }
        fn interrupts_off(&self) {}
        fn interrupts_on(&self) {}
        fn halt(&self, _m: usize) {
            thread::park();
        }
        fn wake(&self, m: usize) {
            if let Some(t) = &self.w.threads.lock().unwrap()[m] {
                t.unpark();
            }
        }
        fn this_m(&self) -> usize {
            self.me
        }
        fn pinned(&self, f: &mut dyn FnMut()) {
            f()
        }
    }

    /// Starts M 1 running `f` and returns once it can be woken (a CPU's
    /// IPI always reaches it; a thread must be known before it is unparked).
    fn spawn_m1(w: &Arc<World>, f: impl FnOnce(&World) + Send + 'static) -> thread::JoinHandle<()> {
        let w1 = w.clone();
        let ready = Arc::new(AtomicBool::new(false));
        let r1 = ready.clone();
        let h = thread::spawn(move || {
            w1.threads.lock().unwrap()[1] = Some(thread::current());
            r1.store(true, Ordering::SeqCst);
            f(&w1)
        });
        while !ready.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        h
    }

    fn world() -> Arc<World> {
        Arc::new(World {
            idle: Idle::new(),
            work: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            threads: loom::sync::Mutex::new([None, None]),
        })
    }

    fn take_work(w: &World) -> bool {
        let mut n = w.work.load(Ordering::SeqCst);
        while n != 0 {
            match w
                .work
                .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(v) => n = v,
            }
        }
        false
    }

    /// M 1's scheduler loop, as `findRunnable` drives it: look for work
    /// (spinning, as an M allowed to steal), else idle; until it ran one
    /// item or was told to stop.
    fn m1_loop(w: &World) {
        let cpu = Cpu { w, me: 1 };
        loop {
            if !w.idle.is_spinning(1) {
                w.idle.become_spinning(1);
            }
            if take_work(w) {
                // resetspinning
                w.idle.stop_spinning(1);
                return;
            }
            if w.stop.load(Ordering::SeqCst) {
                w.idle.stop_spinning(1);
                return;
            }
            w.idle.idle(1, &cpu);
        }
    }

    /// The invariant after everyone is done: no M spins, so nmspinning is 0
    /// (a leak would silence every later wakep).
    fn check_quiescent(w: &World) {
        assert_eq!(w.idle.nmspinning(), 0, "nmspinning leaked");
        for m in 0..N {
            assert!(!w.idle.is_spinning(m), "M {m} left spinning");
        }
    }

    /// A producer on M 0 publishes one item and calls wakep while M 1 goes
    /// from spinning to idle: M 1 must run the item (no lost wake-up: a
    /// parked M 1 with work pending is a loom deadlock) and the spinning
    /// count must come back to 0 (issue 10 D).
    #[test]
    fn loom_wakep_vs_idling_spinner() {
        model(|| {
            let w = world();
            let m1 = spawn_m1(&w, m1_loop);
            // M 0: publish, then wakep.
            w.work.fetch_add(1, Ordering::SeqCst);
            w.idle.wakep(&Cpu { w: &w, me: 0 });
            m1.join().unwrap();
            assert_eq!(w.work.load(Ordering::SeqCst), 0, "the item was not run");
            check_quiescent(&w);
        });
    }

    /// Two wake-ups racing with M 1 idling twice: the hint mask, the
    /// hand-off states and the counters stay consistent.
    #[test]
    fn loom_two_wakeps_two_items() {
        model(|| {
            let w = world();
            let m1 = spawn_m1(&w, |w1| {
                m1_loop(w1);
                m1_loop(w1);
            });
            for _ in 0..2 {
                w.work.fetch_add(1, Ordering::SeqCst);
                w.idle.wakep(&Cpu { w: &w, me: 0 });
            }
            m1.join().unwrap();
            assert_eq!(w.work.load(Ordering::SeqCst), 0);
            check_quiescent(&w);
            assert_eq!(w.idle.idle_mask(), 0, "a busy P left in the idle mask");
        });
    }

    /// Go 1.21's needspinning: a wakep that finds no idle P (M 1 is busy,
    /// not yet idle) leaves a note, and M 1, about to idle without spinning,
    /// spins once more instead. Ends with a stop so M 1 is not parked
    /// forever; the counters must be clean.
    #[test]
    fn loom_needspinning_no_leak() {
        model(|| {
            let w = world();
            let m1 = spawn_m1(&w, |w1| {
                let cpu = Cpu { w: w1, me: 1 };
                // M 1 goes idle without spinning.
                while !w1.stop.load(Ordering::SeqCst) {
                    let how = w1.idle.idle(1, &cpu);
                    if how != Woken::Work {
                        // Spinning: look once, then stop spinning.
                        take_work(w1);
                        w1.idle.stop_spinning(1);
                    } else {
                        take_work(w1);
                    }
                }
            });
            w.idle.wakep(&Cpu { w: &w, me: 0 });
            w.stop.store(true, Ordering::SeqCst);
            Cpu { w: &w, me: 0 }.wake(1);
            m1.join().unwrap();
            check_quiescent(&w);
        });
    }
}
