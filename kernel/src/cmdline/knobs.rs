//! The history knobs' words (`sched=gm steal=off ...`): their values,
//! how they are parsed and printed. Pure: the command line (this module's
//! parent) and the scheduler (`sched/knobs.rs`, which holds the running
//! values, what each knob replays and what a stale read does) share it.
use core::fmt;

use super::{MIN_SLICE_NS, parse_duration_ns};

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
pub const DEFAULT_SLICE_NS: u64 = super::DEFAULT_SLICE_NS;

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
        "slice" => match parse_duration_ns(value) {
            Some(ns) if ns >= MIN_SLICE_NS => Ok(Setting::Slice(ns)),
            Some(_) => Err("the time slice must be at least 100us"),
            None => Err("expected a duration with a unit, such as 10ms or 200us"),
        },
        _ => return None,
    })
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
}
