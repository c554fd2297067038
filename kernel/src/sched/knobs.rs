//! History knobs: replay the scheduler's history on the real code paths.
//!
//! Each knob switches a piece of today's scheduler off (or back to an
//! older design) where the code makes its decision; nothing is simulated.
//! Set them on the kernel command line (`sched=gm steal=off ...`) or, where
//! that is safe, live with [`set`] (the shell's `knob NAME=VALUE`).
//!
//! | knob | values (default first) | what the non-default replays | live |
//! |---|---|---|---|
//! | `sched` | `gmp`, `gm` | Go 1.0 (before the 1.1 scheduler): every M takes from one locked global queue; no P-local rings, no `runnext`, no stealing | boot only |
//! | `steal` | `on`, `off` | no work stealing: an idle P waits for the global queue or its own work | yes |
//! | `runnext` | `on`, `off` | Go 1.1-1.4 (runnext came in 1.5): new and readied goroutines go to the ring's tail | yes |
//! | `preempt` | `async`, `coop`, `off` | `coop`: Go 1.2-1.13 (no signal-based preemption), `off`: Go 1.0-1.1 (none at all) | yes |
//! | `slice` | `10ms` | Go's `forcePreemptNS`: the time slice (>= 100us) | yes |
//! | `spin` | `on`, `off` | before Go 1.1's spinning Ms: no M spins looking for work, no Mutex waiter spins | yes |
//!
//! # gmpos's cooperative safe points are not Go's
//!
//! With `preempt=coop` a goroutine whose slice ran out is asked to yield
//! (`g.preempt`) and yields at its next *cooperative safe point*. In Go
//! 1.2-1.13 that was every function prologue (the stack-bound check,
//! `stackguard0 = stackPreempt`), so any loop calling a non-inlined
//! function yielded. gmpos cannot patch prologues: its safe points are the
//! runtime's entry points (`go`, `gosched`, the sync primitives, channel
//! operations) and the release of the last runtime lock (`preempt.rs`). A
//! loop that calls only its own functions is therefore never preempted
//! under `coop`, where Go 1.2 would have preempted it at the next call;
//! only a loop with no calls at all behaved this way in Go 1.2-1.13.
//!
//! # `spin=off`: what "spinning" means here
//!
//! Go's spinning M (1.1) is an M that ran out of work and keeps looking
//! (stealing) instead of sleeping, and `wakep` wakes an idle CPU only when
//! no M spins, so a burst of `go` statements wakes CPUs one at a time. With
//! `spin=off` no M is ever in that state: an M out of work makes one
//! bounded pass over the other Ps (Go's 4 rounds; none with `steal=off`)
//! as a non-spinning M, then sleeps; an M handed a P by `wakep` drops the
//! spinning state before it looks at any queue. `nmspinning` then counts
//! only Ms handed a P and not yet awake, so (nearly) every `wakep` wakes an
//! idle CPU: the thundering herd spinning Ms were invented to avoid. Idle
//! CPUs are still woken correctly: the producer publishes, then `wakep`
//! (fence, load `nmspinning`); the woken M decrements `nmspinning`, then
//! scans. If a second producer saw the hand-off's count and did not wake
//! anyone, its load came before that decrement, so the scan sees its work;
//! work in a busy P's own ring is run by that P. `sync.Mutex` waiters do
//! not spin either (`spin.rs`: `can_spin` is false).
//!
//! # Live changes: what if a CPU reads the old value for 10 us?
//!
//! Every knob is one relaxed atomic read where the decision is made, so a
//! CPU may act on the old value for a moment after [`set`]:
//! - `steal`: one more steal after `off` (a correct move of runnable work),
//!   or an idle CPU that did not steal after `on` (the work is in a running
//!   P's ring, which runs it; the next `wakep` brings the idle CPU back). An
//!   M idling with stealing off ignores other Ps' rings in its last check
//!   (else it would take its P back forever for work it may not take); a
//!   stale read costs one extra round of that check.
//! - `runnext`: one more goroutine into `runnext`, or one into the ring's
//!   tail: both are valid queue states, and the owner puts with preemption
//!   off, so no put is half old, half new.
//! - `preempt`: one more asynchronous preemption after `coop`/`off` (still
//!   at a checked async safe point), or a pending request set after `off`,
//!   honoured once at the next cooperative safe point. Requests left
//!   pending by `coop` are honoured after a switch to `off` too: a
//!   goroutine yields at most once more.
//! - `slice`: slices already running keep their deadline; the next slice
//!   uses the new length.
//! - `spin`: an M that became spinning just before `off` spins once more
//!   (the protocol is unchanged, so this is today's behaviour); after `on`
//!   an M skips spinning once. Mutex waiters spin at most one more round.
//! - `sched`: not live. Going from `gm` to `gmp` is harmless, but the other
//!   way would strand goroutines in rings the Go 1.0 loop never reads, and
//!   a CPU reading the old value would put into a ring after the switch.

// Not `crate::lock::atomic`: the knobs are plain global flags, not part of a
// loom model (and loom atomics cannot live in statics).
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub use crate::cmdline::knobs::{
    DEFAULT_SLICE_NS, Knobs, Model, NAMES, NonDefault, Preempt, Setting, parse,
};

// ---------------------------------------------------------------------------
// The running values

/// The boolean knobs and the preemption mode, one word, 0 = every default:
/// the scheduler's hot paths read it with one relaxed load.
static FLAGS: AtomicU32 = AtomicU32::new(0);
/// `sched=gm`.
pub const GM: u32 = 1 << 0;
/// `steal=off`.
pub const NO_STEAL: u32 = 1 << 1;
/// `runnext=off`.
pub const NO_RUNNEXT: u32 = 1 << 2;
/// `spin=off`.
pub const NO_SPIN: u32 = 1 << 3;
/// `preempt=coop`.
pub const PREEMPT_COOP: u32 = 1 << 4;
/// `preempt=off`.
pub const PREEMPT_OFF: u32 = 1 << 5;
const PREEMPT_MASK: u32 = PREEMPT_COOP | PREEMPT_OFF;

/// The time slice in ns (`slice=`, Go's `forcePreemptNS`).
static SLICE_NS: AtomicU64 = AtomicU64::new(DEFAULT_SLICE_NS);

/// The flag word (see [`GM`] ...). One relaxed load: a hint read where the
/// decision is made (see the module doc for stale reads).
#[inline]
pub fn flags() -> u32 {
    FLAGS.load(Ordering::Relaxed)
}

/// `sched=gm`.
#[inline]
pub fn gm() -> bool {
    flags() & GM != 0
}

/// Whether stealing is on (`steal=on` and not `sched=gm`).
#[inline]
pub fn steal() -> bool {
    flags() & (NO_STEAL | GM) == 0
}

/// Whether Ms may spin and Mutex waiters spin (`spin=on`).
#[inline]
pub fn spin() -> bool {
    flags() & NO_SPIN == 0
}

/// The preemption mode.
#[inline]
pub fn preempt() -> Preempt {
    match flags() & PREEMPT_MASK {
        0 => Preempt::Async,
        PREEMPT_COOP => Preempt::Coop,
        _ => Preempt::Off,
    }
}

/// The time slice in ns.
#[inline]
pub fn slice_ns() -> u64 {
    SLICE_NS.load(Ordering::Relaxed)
}

/// Sets the time slice (already validated) and returns the previous one.
pub fn swap_slice_ns(ns: u64) -> u64 {
    SLICE_NS.swap(ns, Ordering::Relaxed)
}

/// Every knob's value now.
pub fn current() -> Knobs {
    let f = flags();
    Knobs {
        model: if f & GM != 0 { Model::Gm } else { Model::Gmp },
        steal: f & NO_STEAL == 0,
        runnext: f & NO_RUNNEXT == 0,
        preempt: preempt(),
        slice_ns: slice_ns(),
        spin: f & NO_SPIN == 0,
    }
}

fn flags_of(k: &Knobs) -> u32 {
    let mut f = 0;
    if k.model == Model::Gm {
        f |= GM;
    }
    if !k.steal {
        f |= NO_STEAL;
    }
    if !k.runnext {
        f |= NO_RUNNEXT;
    }
    if !k.spin {
        f |= NO_SPIN;
    }
    f | match k.preempt {
        Preempt::Async => 0,
        Preempt::Coop => PREEMPT_COOP,
        Preempt::Off => PREEMPT_OFF,
    }
}

/// Installs the command line's knobs, before the scheduler starts (the
/// only place `sched=` is set).
pub fn init(k: &Knobs) {
    FLAGS.store(flags_of(k), Ordering::Relaxed);
    SLICE_NS.store(k.slice_ns, Ordering::Relaxed);
}

/// Sets knob `name` to `value` at run time (the shell's `knob NAME=VALUE`).
/// Errors name the knob or value: an unknown knob, a bad value, or a knob
/// only the command line can set.
pub fn set(name: &str, value: &str) -> Result<(), alloc::string::String> {
    use alloc::format;
    let setting = match parse(name, value) {
        None => return Err(format!("knob {name}: unknown knob (knobs: {NAMES})")),
        Some(Err(why)) => return Err(format!("knob {name}: bad value `{value}`: {why}")),
        Some(Ok(s)) => s,
    };
    let (clear, set) = match setting {
        Setting::Model(_) => {
            return Err(format!(
                "knob {name}: only settable on the kernel command line"
            ));
        }
        Setting::Slice(ns) => {
            swap_slice_ns(ns);
            return Ok(());
        }
        Setting::Steal(on) => (NO_STEAL, if on { 0 } else { NO_STEAL }),
        Setting::Runnext(on) => (NO_RUNNEXT, if on { 0 } else { NO_RUNNEXT }),
        Setting::Spin(on) => (NO_SPIN, if on { 0 } else { NO_SPIN }),
        Setting::Preempt(p) => (
            PREEMPT_MASK,
            match p {
                Preempt::Async => 0,
                Preempt::Coop => PREEMPT_COOP,
                Preempt::Off => PREEMPT_OFF,
            },
        ),
    };
    // One RMW: two knobs set at once from two CPUs do not undo each other.
    let mut f = FLAGS.load(Ordering::Relaxed);
    while let Err(now) =
        FLAGS.compare_exchange_weak(f, (f & !clear) | set, Ordering::Relaxed, Ordering::Relaxed)
    {
        f = now;
    }
    Ok(())
}

/// Every knob, one line: `sched=gmp steal=on runnext=on preempt=async
/// slice=10ms spin=on` (the shell's `sched` command).
pub fn describe() -> alloc::string::String {
    alloc::format!("{}", current())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// One test for the global state (tests run in parallel threads).
    #[test]
    fn live_set_round_trips_and_errors() {
        init(&Knobs::DEFAULT);
        assert_eq!(current(), Knobs::DEFAULT);
        set("steal", "off").unwrap();
        set("runnext", "off").unwrap();
        set("preempt", "coop").unwrap();
        set("spin", "off").unwrap();
        set("slice", "2ms").unwrap();
        assert_eq!(
            describe(),
            "sched=gmp steal=off runnext=off preempt=coop slice=2ms spin=off"
        );
        assert!(!steal() && !spin() && preempt() == Preempt::Coop);
        set("preempt", "off").unwrap();
        assert_eq!(preempt(), Preempt::Off);
        assert_eq!(
            set("sched", "gm").unwrap_err(),
            "knob sched: only settable on the kernel command line"
        );
        let e = set("steel", "off").unwrap_err();
        assert!(e.starts_with("knob steel: unknown knob"), "{e}");
        let e = set("spin", "maybe").unwrap_err();
        assert_eq!(e, "knob spin: bad value `maybe`: expected on or off");
        let e = set("slice", "1us").unwrap_err();
        assert!(e.contains("slice") && e.contains("100us"), "{e}");
        // Errors changed nothing.
        assert_eq!(slice_ns(), 2_000_000);
        for (n, v) in [
            ("steal", "on"),
            ("runnext", "on"),
            ("preempt", "async"),
            ("spin", "on"),
            ("slice", "10ms"),
        ] {
            set(n, v).unwrap();
        }
        assert_eq!(current(), Knobs::DEFAULT);
        init(&Knobs {
            model: Model::Gm,
            ..Knobs::DEFAULT
        });
        assert!(gm() && !steal());
        init(&Knobs::DEFAULT);
    }
}
