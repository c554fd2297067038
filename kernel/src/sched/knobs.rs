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
use core::fmt;

// Not `crate::lock::atomic`: the knobs are plain global flags, not part of a
// loom model (and loom atomics cannot live in statics).
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The scheduler model (`sched=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Go 1.1 and later: per-P rings, runnext, stealing.
    Gmp,
    /// Go 1.0: one locked global queue.
    Gm,
}

/// Which preemption there is (`preempt=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preempt {
    /// Go 1.14: the timer interrupt preempts at any async safe point.
    Async,
    /// Go 1.2-1.13: a request honoured at cooperative safe points only.
    Coop,
    /// Go 1.0-1.1: none; a goroutine runs until it blocks or yields.
    Off,
}

/// Every knob's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    pub model: Model,
    pub steal: bool,
    pub runnext: bool,
    pub preempt: Preempt,
    /// The time slice in ns (kept by `cmdline::Config::slice_ns` on the
    /// command line, since `slice=` predates the knobs).
    pub slice_ns: u64,
    pub spin: bool,
}

/// Go's `forcePreemptNS`.
pub const DEFAULT_SLICE_NS: u64 = crate::cmdline::DEFAULT_SLICE_NS;

impl Knobs {
    pub const DEFAULT: Knobs = Knobs {
        model: Model::Gmp,
        steal: true,
        runnext: true,
        preempt: Preempt::Async,
        slice_ns: DEFAULT_SLICE_NS,
        spin: true,
    };

    /// Applies one parsed knob.
    pub fn apply(&mut self, s: Setting) {
        match s {
            Setting::Model(m) => self.model = m,
            Setting::Steal(b) => self.steal = b,
            Setting::Runnext(b) => self.runnext = b,
            Setting::Preempt(p) => self.preempt = p,
            Setting::Slice(ns) => self.slice_ns = ns,
            Setting::Spin(b) => self.spin = b,
        }
    }

    /// The knobs that differ from the default, space-separated (empty if
    /// none): the banner's and schedtrace's `knobs=` field.
    pub fn non_default(&self) -> NonDefault {
        NonDefault(*self)
    }
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs::DEFAULT
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Gmp => "gmp",
            Model::Gm => "gm",
        }
    }
}

impl Preempt {
    fn name(self) -> &'static str {
        match self {
            Preempt::Async => "async",
            Preempt::Coop => "coop",
            Preempt::Off => "off",
        }
    }
}

/// A duration as `slice=` takes it: the largest exact unit.
struct Dur(u64);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns != 0 && ns.is_multiple_of(1_000_000_000) {
            write!(f, "{}s", ns / 1_000_000_000)
        } else if ns != 0 && ns.is_multiple_of(1_000_000) {
            write!(f, "{}ms", ns / 1_000_000)
        } else if ns != 0 && ns.is_multiple_of(1_000) {
            write!(f, "{}us", ns / 1_000)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// All knobs: `sched=gmp steal=on runnext=on preempt=async slice=10ms spin=on`.
impl fmt::Display for Knobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sched={} steal={} runnext={} preempt={} slice={} spin={}",
            self.model.name(),
            on_off(self.steal),
            on_off(self.runnext),
            self.preempt.name(),
            Dur(self.slice_ns),
            on_off(self.spin)
        )
    }
}

/// See [`Knobs::non_default`].
pub struct NonDefault(Knobs);

impl NonDefault {
    pub fn is_empty(&self) -> bool {
        self.0 == Knobs::DEFAULT
    }
}

impl fmt::Display for NonDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (k, d) = (self.0, Knobs::DEFAULT);
        let mut sep = "";
        let mut field = |f: &mut fmt::Formatter<'_>, differs: bool, args: fmt::Arguments| {
            if differs {
                write!(f, "{sep}{args}")?;
                sep = " ";
            }
            Ok(())
        };
        field(
            f,
            k.model != d.model,
            format_args!("sched={}", k.model.name()),
        )?;
        field(
            f,
            k.steal != d.steal,
            format_args!("steal={}", on_off(k.steal)),
        )?;
        field(
            f,
            k.runnext != d.runnext,
            format_args!("runnext={}", on_off(k.runnext)),
        )?;
        field(
            f,
            k.preempt != d.preempt,
            format_args!("preempt={}", k.preempt.name()),
        )?;
        field(
            f,
            k.slice_ns != d.slice_ns,
            format_args!("slice={}", Dur(k.slice_ns)),
        )?;
        field(f, k.spin != d.spin, format_args!("spin={}", on_off(k.spin)))
    }
}

/// One knob's parsed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Model(Model),
    Steal(bool),
    Runnext(bool),
    Preempt(Preempt),
    Slice(u64),
    Spin(bool),
}

/// The knobs' names, for error messages.
pub const NAMES: &str = "sched, steal, runnext, preempt, slice, spin";

fn parse_on_off(v: &str) -> Result<bool, &'static str> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected on or off"),
    }
}

/// Parses knob `name`'s `value`: `None` if `name` is not a knob, else the
/// setting or why the value is bad.
pub fn parse(name: &str, value: &str) -> Option<Result<Setting, &'static str>> {
    Some(match name {
        "sched" => match value {
            "gmp" => Ok(Setting::Model(Model::Gmp)),
            "gm" => Ok(Setting::Model(Model::Gm)),
            _ => Err("expected gmp or gm"),
        },
        "steal" => parse_on_off(value).map(Setting::Steal),
        "runnext" => parse_on_off(value).map(Setting::Runnext),
        "spin" => parse_on_off(value).map(Setting::Spin),
        "preempt" => match value {
            "async" => Ok(Setting::Preempt(Preempt::Async)),
            "coop" => Ok(Setting::Preempt(Preempt::Coop)),
            "off" => Ok(Setting::Preempt(Preempt::Off)),
            _ => Err("expected async, coop or off"),
        },
        "slice" => match crate::cmdline::parse_duration_ns(value) {
            Some(ns) if ns >= crate::cmdline::MIN_SLICE_NS => Ok(Setting::Slice(ns)),
            Some(_) => Err("the time slice must be at least 100us"),
            None => Err("expected a duration with a unit, such as 10ms or 200us"),
        },
        _ => return None,
    })
}

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

    #[test]
    fn parse_every_knob_and_reject_bad_values() {
        assert_eq!(parse("sched", "gm"), Some(Ok(Setting::Model(Model::Gm))));
        assert_eq!(parse("steal", "off"), Some(Ok(Setting::Steal(false))));
        assert_eq!(parse("runnext", "on"), Some(Ok(Setting::Runnext(true))));
        assert_eq!(
            parse("preempt", "coop"),
            Some(Ok(Setting::Preempt(Preempt::Coop)))
        );
        assert_eq!(parse("slice", "200us"), Some(Ok(Setting::Slice(200_000))));
        assert_eq!(parse("spin", "off"), Some(Ok(Setting::Spin(false))));
        assert_eq!(parse("sched", "go1"), Some(Err("expected gmp or gm")));
        assert_eq!(parse("steal", "no"), Some(Err("expected on or off")));
        assert!(matches!(parse("preempt", "sync"), Some(Err(e)) if e.contains("coop")));
        assert!(matches!(parse("slice", "50us"), Some(Err(e)) if e.contains("100us")));
        assert!(matches!(parse("slice", "10"), Some(Err(e)) if e.contains("unit")));
        assert_eq!(parse("heap", "1M"), None);
    }

    #[test]
    fn display_all_and_only_non_defaults() {
        let mut k = Knobs::DEFAULT;
        assert_eq!(
            k.to_string(),
            "sched=gmp steal=on runnext=on preempt=async slice=10ms spin=on"
        );
        assert!(k.non_default().is_empty());
        assert_eq!(k.non_default().to_string(), "");
        k.apply(Setting::Model(Model::Gm));
        k.apply(Setting::Preempt(Preempt::Off));
        k.apply(Setting::Slice(250_000));
        k.apply(Setting::Spin(false));
        assert_eq!(
            k.non_default().to_string(),
            "sched=gm preempt=off slice=250us spin=off"
        );
        assert_eq!(Dur(1_500).to_string(), "1500ns");
        assert_eq!(Dur(2_000_000_000).to_string(), "2s");
    }

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
