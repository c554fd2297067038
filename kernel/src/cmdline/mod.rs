//! The kernel command line: `key=value` words (and the bare word `exit`)
//! parsed into a typed [`Config`]. Unknown keys and bad values are reported
//! with the offending word and otherwise ignored (the default stays): a typo
//! on the command line never crashes the kernel.
//!
//! | word            | meaning                                           | default |
//! |-----------------|---------------------------------------------------|---------|
//! | `exit`          | power QEMU off when `main` is done                | stay up |
//! | `noinput`       | nothing types on the console (the runner's stdin is not a terminal): no shell, power off after `main` | shell |
//! | `heap=SIZE`     | kernel heap size (`K`, `M`, `G` suffixes)          | 64M     |
//! | `gomaxprocs=N`  | number of Ps (1..=CPUs)                            | CPUs    |
//! | `maxstack=SIZE` | goroutine stack limit (Go's `debug.SetMaxStack`)   | 512K    |
//! | `stackspace=SIZE` | address space for goroutine stack windows (`maxstack` each; at most 16T) | 16T |
//! | `slice=DUR`     | preemption time slice (`us`/`ms`, >= 100us)        | 10ms    |
//! | `tick=DUR`      | longest time a busy CPU goes without a timer interrupt (>= 50us) | 1ms |
//! | `log=LEVEL`     | `error`, `warn`, `info`, `debug`, `trace`          | info    |
//! | `traceback=L`   | Go's `GOTRACEBACK`: `single`, `all`, `system`      | all     |
//! | `schedtrace=MS` | Go's `GODEBUG=schedtrace`: a `SCHED` line every MS ms (0: off) | 0 |
//! | `scheddetail=1` | Go's `GODEBUG=scheddetail`: per-P and per-G lines too | 0    |
//! | `trace=1`       | Go's `runtime/trace` around `main`: the execution tracer's stream on the debug console | 0 |
//! | `prof=HZ`       | Go's CPU profile around `main`: HZ samples a second per running CPU (1..=10000; 0: off) | 0 |
//! | `watchdog=1`    | the scheduler watchdog (`sched/watchdog.rs`): starvation, lost wake-ups, stuck CPUs | 0 |
//! | `sched=gm`      | history knob: Go 1.0's one global queue (`sched/knobs.rs`) | gmp |
//! | `steal=off`     | history knob: no work stealing                     | on      |
//! | `runnext=off`   | history knob: readied goroutines to the ring's tail | on     |
//! | `preempt=MODE`  | history knob: `async` (Go 1.14), `coop` (safe points only), `off` | async |
//! | `spin=off`      | history knob: no spinning Ms, no spinning Mutex waiters | on  |
//! | `deafcpu=ID`    | test hook: the AP with APIC id ID is sent no INIT-SIPI (a CPU that does not come up) | none |
//! | `tests=A,B`     | run only these test cases (set by the runner)      | all     |
//! | `stress`        | run the seeded stress workload (`stress/`) instead of `main`'s showcase | off |
//! | `seed=S`        | the stress run's seed                              | 1       |
//! | `secs=T`        | the stress run's length in seconds (>= 1)          | 10      |
//! | `storm=1`       | IPI and cross-call floods from every CPU during the stress run | 0 |
//! | `stressbug=K`   | test hook: a deliberate bug the stress checks must catch (`leak`, `twice`, `transfer`, `checksum`) | none |
//! | `demo=NAME`     | run this demo (`kernel/src/demos/`) instead of the showcase; an unknown name is reported by the kernel binary, which lists the demos | none |
use core::fmt;

pub mod knobs;

use knobs::Knobs;

/// Default kernel heap: room for ~100,000 parked goroutines' G structs and
/// bookkeeping with headroom, and small enough for `-m 256M` guests.
pub const DEFAULT_HEAP: usize = 64 << 20;
pub const MIN_HEAP: usize = 1 << 20;
pub const DEFAULT_MAXSTACK: usize = 512 << 10;
pub const MIN_MAXSTACK: usize = 16 << 10;
pub const MAX_MAXSTACK: usize = 1 << 30;
/// The goroutine stack region's size (`layout::GSTACK_BASE` up to the
/// bootloader's dynamic mappings): 2^25 windows of the default 512 KiB.
pub const MAX_STACKSPACE: u64 = 1 << 44;
/// Go's forcePreemptNS.
pub const DEFAULT_SLICE_NS: u64 = 10_000_000;
pub const MIN_SLICE_NS: u64 = 100_000;
/// A busy CPU's timer interrupt at least this often (`tick=`).
pub const DEFAULT_TICK_NS: u64 = 1_000_000;
pub const MIN_TICK_NS: u64 = 50_000;

/// The stress run's default seed and length (`seed=`, `secs=`).
pub const DEFAULT_STRESS_SEED: u64 = 1;
pub const DEFAULT_STRESS_SECS: u64 = 10;

/// `stressbug=`: a deliberate bug planted in the stress workload, to prove
/// that the check meant to catch it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StressBug {
    /// A goroutine left parked forever (the leak check).
    Leak,
    /// One goroutine body started twice (the exactly-once ledger).
    Twice,
    /// One transfer debits without crediting (the bank total).
    Transfer,
    /// The second pass folds one extra value (the determinism check).
    Checksum,
}

/// The stress words: `stress seed=S secs=T storm=1 stressbug=K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stress {
    /// `stress`: run it.
    pub on: bool,
    pub seed: u64,
    pub secs: u64,
    /// `storm=1`: flood every CPU with wake-up IPIs and cross-calls meanwhile.
    pub storm: bool,
    pub bug: Option<StressBug>,
}

impl Default for Stress {
    fn default() -> Self {
        Stress {
            on: false,
            seed: DEFAULT_STRESS_SEED,
            secs: DEFAULT_STRESS_SECS,
            storm: false,
            bug: None,
        }
    }
}

/// Log levels, as the `log` crate orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Which goroutines a panic or fatal error shows (Go: `GOTRACEBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Traceback {
    /// The goroutine that panicked or faulted only.
    Single,
    /// Every user goroutine too.
    All,
    /// System goroutines too, and the runtime's own frames.
    System,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    pub exit: bool,
    /// `noinput`: nothing can type on the console (the runner adds it when
    /// its stdin is not a terminal): the kernel binary starts no shell.
    pub noinput: bool,
    pub heap_size: usize,
    pub gomaxprocs: Option<usize>,
    pub maxstack: usize,
    /// Bytes of address space for stack windows (a test shrinks it to run
    /// out; the default is the whole region).
    pub stackspace: u64,
    pub slice_ns: u64,
    /// `tick=`: the busy tick period in ns.
    pub tick_ns: u64,
    pub log_level: LogLevel,
    pub traceback: Traceback,
    /// `schedtrace=` period in ms, 0 = off.
    pub schedtrace_ms: u64,
    pub scheddetail: bool,
    /// `trace=1`: trace all of `main`.
    pub trace: bool,
    /// `prof=HZ`: profile all of `main` at HZ (0: off).
    pub prof_hz: u32,
    /// `watchdog=1`: the scheduler watchdog (starvation, lost wake-ups,
    /// stuck CPUs).
    pub watchdog: bool,
    pub tests: Option<&'a str>,
    /// The `deafcpu=` test hook: an APIC id the start-up code skips.
    pub deafcpu: Option<u32>,
    /// The stress run's words.
    pub stress: Stress,
    /// `demo=NAME`: the demo the kernel binary runs instead of its
    /// showcase. Only the word's form is checked here; the name is looked
    /// up in the demos table (kernel code) at boot.
    pub demo: Option<&'a str>,
    /// The history knobs other than `slice=` (`sched/knobs.rs`).
    pub model: knobs::Model,
    pub steal: bool,
    pub runnext: bool,
    pub preempt: knobs::Preempt,
    pub spin: bool,
}

impl Config<'_> {
    /// The history knobs, `slice=` included.
    pub fn knobs(&self) -> Knobs {
        Knobs {
            model: self.model,
            steal: self.steal,
            runnext: self.runnext,
            preempt: self.preempt,
            slice_ns: self.slice_ns,
            spin: self.spin,
        }
    }

    fn set_knobs(&mut self, k: Knobs) {
        self.model = k.model;
        self.steal = k.steal;
        self.runnext = k.runnext;
        self.preempt = k.preempt;
        self.slice_ns = k.slice_ns;
        self.spin = k.spin;
    }
}

impl Default for Config<'_> {
    fn default() -> Self {
        Config {
            exit: false,
            noinput: false,
            heap_size: DEFAULT_HEAP,
            gomaxprocs: None,
            maxstack: DEFAULT_MAXSTACK,
            stackspace: MAX_STACKSPACE,
            slice_ns: DEFAULT_SLICE_NS,
            tick_ns: DEFAULT_TICK_NS,
            log_level: LogLevel::Info,
            traceback: Traceback::All,
            schedtrace_ms: 0,
            scheddetail: false,
            trace: false,
            prof_hz: 0,
            watchdog: false,
            tests: None,
            deafcpu: None,
            stress: Stress::default(),
            demo: None,
            model: Knobs::DEFAULT.model,
            steal: Knobs::DEFAULT.steal,
            runnext: Knobs::DEFAULT.runnext,
            preempt: Knobs::DEFAULT.preempt,
            spin: Knobs::DEFAULT.spin,
        }
    }
}

/// A word the parser rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<'a> {
    UnknownKey(&'a str),
    BadValue { word: &'a str, why: &'static str },
}

impl fmt::Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownKey(w) => write!(f, "cmdline: unknown word `{w}` ignored"),
            Error::BadValue { word, why } => {
                write!(f, "cmdline: bad value in `{word}`: {why}; default kept")
            }
        }
    }
}

/// Parses a size: decimal or 0x-hex bytes with an optional `K`, `M`, `G`
/// (optionally `KiB`/`KB`...) suffix.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let lower_end = s.trim_end_matches(['B', 'b']).trim_end_matches(['i', 'I']);
    let (num, shift) = match lower_end.as_bytes().last()? {
        b'k' | b'K' => (&lower_end[..lower_end.len() - 1], 10),
        b'm' | b'M' => (&lower_end[..lower_end.len() - 1], 20),
        b'g' | b'G' => (&lower_end[..lower_end.len() - 1], 30),
        b't' | b'T' => (&lower_end[..lower_end.len() - 1], 40),
        _ if lower_end.len() == s.len() => (s, 0),
        _ => return None,
    };
    let n = parse_uint(num)?;
    n.checked_mul(1usize << shift)
}

fn parse_uint(s: &str) -> Option<usize> {
    if let Some(hex) = s.strip_prefix("0x") {
        usize::from_str_radix(hex, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses a duration with a unit: `ns`, `us`, `ms` or `s`. Returns ns.
pub fn parse_duration_ns(s: &str) -> Option<u64> {
    let units: [(&str, u64); 4] = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
    ];
    for (suffix, mul) in units {
        if let Some(num) = s.strip_suffix(suffix) {
            return (parse_uint(num)? as u64).checked_mul(mul);
        }
    }
    None
}

/// Parses `line`, calling `report` for every rejected word.
pub fn parse<'a>(line: &'a str, mut report: impl FnMut(Error<'a>)) -> Config<'a> {
    let mut c = Config::default();
    for word in line.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            match word {
                "exit" => c.exit = true,
                "noinput" => c.noinput = true,
                "stress" => c.stress.on = true,
                _ => report(Error::UnknownKey(word)),
            }
            continue;
        };
        let bad = |why| Error::BadValue { word, why };
        match key {
            "heap" => match parse_size(value) {
                Some(n) if n >= MIN_HEAP => c.heap_size = n,
                Some(_) => report(bad("the heap must be at least 1M")),
                None => report(bad("expected a size such as 64M")),
            },
            "gomaxprocs" => match parse_uint(value) {
                Some(n) if n >= 1 => c.gomaxprocs = Some(n),
                _ => report(bad("expected a number of Ps >= 1")),
            },
            "maxstack" => match parse_size(value) {
                Some(n) if (MIN_MAXSTACK..=MAX_MAXSTACK).contains(&n) && n.is_power_of_two() => {
                    c.maxstack = n
                }
                Some(_) => report(bad(
                    "the stack limit must be a power of two between 16K and 1G",
                )),
                None => report(bad("expected a size such as 512K")),
            },
            "stackspace" => match parse_size(value) {
                Some(n) if (MIN_MAXSTACK as u64..=MAX_STACKSPACE).contains(&(n as u64)) => {
                    c.stackspace = n as u64
                }
                Some(_) => report(bad("the stack space must be between 16K and 16T")),
                None => report(bad("expected a size such as 1G")),
            },
            "slice" => match parse_duration_ns(value) {
                Some(ns) if ns >= MIN_SLICE_NS => c.slice_ns = ns,
                Some(_) => report(bad("the time slice must be at least 100us")),
                None => report(bad(
                    "expected a duration with a unit, such as 10ms or 200us",
                )),
            },
            "tick" => match parse_duration_ns(value) {
                Some(ns) if ns >= MIN_TICK_NS => c.tick_ns = ns,
                Some(_) => report(bad("the tick must be at least 50us")),
                None => report(bad("expected a duration with a unit, such as 500us")),
            },
            "log" => match value {
                "error" => c.log_level = LogLevel::Error,
                "warn" => c.log_level = LogLevel::Warn,
                "info" => c.log_level = LogLevel::Info,
                "debug" => c.log_level = LogLevel::Debug,
                "trace" => c.log_level = LogLevel::Trace,
                _ => report(bad("expected error, warn, info, debug or trace")),
            },
            "traceback" => match value {
                "single" => c.traceback = Traceback::Single,
                "all" => c.traceback = Traceback::All,
                "system" => c.traceback = Traceback::System,
                _ => report(bad("expected single, all or system")),
            },
            "schedtrace" => match parse_uint(value) {
                Some(ms) => c.schedtrace_ms = ms as u64,
                None => report(bad("expected a period in milliseconds, such as 1000")),
            },
            "scheddetail" => match value {
                "0" => c.scheddetail = false,
                "1" => c.scheddetail = true,
                _ => report(bad("expected 0 or 1")),
            },
            "trace" => match value {
                "0" => c.trace = false,
                "1" => c.trace = true,
                _ => report(bad("expected 0 or 1")),
            },
            "prof" => match parse_uint(value) {
                Some(hz) if hz <= 10_000 => c.prof_hz = hz as u32,
                _ => report(bad("expected a rate in Hz, 0..=10000, such as 250")),
            },
            "watchdog" => match value {
                "0" => c.watchdog = false,
                "1" => c.watchdog = true,
                _ => report(bad("expected 0 or 1")),
            },
            "sched" | "steal" | "runnext" | "preempt" | "spin" => match knobs::parse(key, value) {
                Some(Ok(setting)) => {
                    let mut k = c.knobs();
                    k.apply(setting);
                    c.set_knobs(k);
                }
                Some(Err(why)) => report(bad(why)),
                None => report(Error::UnknownKey(word)),
            },
            "tests" => c.tests = Some(value),
            "demo" => match value {
                v if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                    c.demo = Some(v)
                }
                _ => report(bad("expected a demo name such as sieve")),
            },
            "deafcpu" => match parse_uint(value) {
                Some(id) if id <= u32::MAX as usize => c.deafcpu = Some(id as u32),
                _ => report(bad("expected an APIC id")),
            },
            "seed" => match parse_uint(value) {
                Some(n) => c.stress.seed = n as u64,
                None => report(bad("expected a seed, such as 7")),
            },
            "secs" => match parse_uint(value) {
                Some(n) if n >= 1 => c.stress.secs = n as u64,
                _ => report(bad("expected a run length in seconds >= 1, such as 60")),
            },
            "storm" => match value {
                "0" => c.stress.storm = false,
                "1" => c.stress.storm = true,
                _ => report(bad("expected 0 or 1")),
            },
            "stressbug" => match value {
                "leak" => c.stress.bug = Some(StressBug::Leak),
                "twice" => c.stress.bug = Some(StressBug::Twice),
                "transfer" => c.stress.bug = Some(StressBug::Transfer),
                "checksum" => c.stress.bug = Some(StressBug::Checksum),
                _ => report(bad("expected leak, twice, transfer or checksum")),
            },
            _ => report(Error::UnknownKey(word)),
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_collect(line: &str) -> (Config<'_>, Vec<String>) {
        let mut errs = Vec::new();
        let c = parse(line, |e| errs.push(e.to_string()));
        (c, errs)
    }

    #[test]
    fn empty_line_gives_defaults() {
        let (c, errs) = parse_collect("");
        assert_eq!(c, Config::default());
        assert!(errs.is_empty());
    }

    #[test]
    fn good_words() {
        let (c, errs) = parse_collect(
            "exit heap=16M gomaxprocs=2 maxstack=64K slice=200us log=debug tests=a,b \
             traceback=system schedtrace=250 scheddetail=1 deafcpu=2 tick=100us",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert!(c.exit);
        assert!(!c.noinput);
        assert!(parse("noinput", |_| {}).noinput);
        assert_eq!(c.heap_size, 16 << 20);
        assert_eq!(c.gomaxprocs, Some(2));
        assert_eq!(c.maxstack, 64 << 10);
        assert_eq!(c.slice_ns, 200_000);
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.tests, Some("a,b"));
        assert_eq!(c.traceback, Traceback::System);
        assert_eq!(c.schedtrace_ms, 250);
        assert!(c.scheddetail);
        assert_eq!(c.deafcpu, Some(2));
        assert_eq!(c.tick_ns, 100_000);
    }

    #[test]
    fn observability_words() {
        let (c, errs) = parse_collect("traceback=single");
        assert!(errs.is_empty());
        assert_eq!(c.traceback, Traceback::Single);
        let (c, errs) = parse_collect("traceback=crash schedtrace=1s scheddetail=yes");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("single, all or system"));
        assert!(errs[1].contains("milliseconds"));
        assert!(errs[2].contains("0 or 1"));
    }

    #[test]
    fn watchdog_word() {
        let (c, errs) = parse_collect("watchdog=1");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(c.watchdog);
        let (c, errs) = parse_collect("watchdog=on");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("`watchdog=on`") && errs[0].contains("0 or 1"));
    }

    #[test]
    fn trace_and_prof_words() {
        let (c, errs) = parse_collect("trace=1 prof=250");
        assert!(errs.is_empty(), "{errs:?}");
        assert!(c.trace);
        assert_eq!(c.prof_hz, 250);
        let (c, errs) = parse_collect("trace=yes prof=20000 prof=fast");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("0 or 1"));
        assert!(errs[1].contains("Hz"));
    }

    #[test]
    fn bad_words_are_reported_and_ignored() {
        let (c, errs) = parse_collect(
            "heap=lots frobnicate=1 slice=50us slice=10 maxstack=100K gomaxprocs=0 bogus",
        );
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 7, "{errs:?}");
        assert!(errs[0].contains("`heap=lots`"));
        assert!(errs[1].contains("unknown word `frobnicate=1`"));
        assert!(errs[2].contains("at least 100us"));
        assert!(errs[3].contains("with a unit"));
        assert!(errs[4].contains("power of two"));
        assert!(errs[5].contains("`gomaxprocs=0`"));
        assert!(errs[6].contains("unknown word `bogus`"));
    }

    #[test]
    fn stackspace_and_more_bad_values() {
        let (c, errs) = parse_collect("stackspace=4M");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.stackspace, 4 << 20);
        let (c, errs) = parse_collect("stackspace=32T stackspace=1K slice=abc maxstack=3K");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].contains("`stackspace=32T`") && errs[0].contains("16T"));
        assert!(errs[1].contains("`stackspace=1K`"));
        assert!(errs[2].contains("`slice=abc`") && errs[2].contains("with a unit"));
        assert!(errs[3].contains("`maxstack=3K`") && errs[3].contains("power of two"));
    }

    #[test]
    fn stress_words() {
        let (c, errs) = parse_collect("stress seed=7 secs=60 storm=1 stressbug=twice");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.stress,
            Stress {
                on: true,
                seed: 7,
                secs: 60,
                storm: true,
                bug: Some(StressBug::Twice)
            }
        );
        let (c, errs) = parse_collect("seed=x secs=0 storm=yes stressbug=oops");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].contains("`seed=x`"));
        assert!(errs[1].contains("`secs=0`") && errs[1].contains(">= 1"));
        assert!(errs[2].contains("`storm=yes`"));
        assert!(errs[3].contains("`stressbug=oops`") && errs[3].contains("leak"));
    }

    #[test]
    fn demo_word() {
        let (c, errs) = parse_collect("demo=sieve exit");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.demo, Some("sieve"));
        let (c, errs) = parse_collect("demo= demo=a-b");
        assert_eq!(c, Config::default());
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("`demo=`") && errs[0].contains("demo name"));
        assert!(errs[1].contains("`demo=a-b`"));
    }

    #[test]
    fn history_knobs() {
        let (c, errs) = parse_collect("sched=gm steal=off runnext=off preempt=coop spin=off");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            c.knobs().to_string(),
            "sched=gm steal=off runnext=off preempt=coop slice=10ms spin=off"
        );
        let (c, errs) = parse_collect("preempt=off slice=2ms");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.knobs().non_default().to_string(), "preempt=off slice=2ms");
        let (c, errs) =
            parse_collect("sched=go1 steal=no runnext=1 preempt=signal spin=yes sched=gm");
        assert_eq!(errs.len(), 5, "{errs:?}");
        assert!(errs[0].contains("`sched=go1`") && errs[0].contains("gmp or gm"));
        assert!(errs[1].contains("`steal=no`") && errs[1].contains("on or off"));
        assert!(errs[2].contains("`runnext=1`"));
        assert!(errs[3].contains("`preempt=signal`") && errs[3].contains("async, coop or off"));
        assert!(errs[4].contains("`spin=yes`") && errs[4].contains("default kept"));
        // The bad words kept the defaults; the good one still counts.
        assert_eq!(c.knobs().non_default().to_string(), "sched=gm");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0x1000"), Some(4096));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size("1P"), None);
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("10ms"), Some(10_000_000));
        assert_eq!(parse_duration_ns("250us"), Some(250_000));
        assert_eq!(parse_duration_ns("2s"), Some(2_000_000_000));
        assert_eq!(parse_duration_ns("10"), None);
        assert_eq!(parse_duration_ns("ms"), None);
    }
}
