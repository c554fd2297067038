//! Just enough of libtest: its command-line arguments (as cargo passes them)
//! and its console output format, so `cargo test` output looks as usual.
//! Pure code: unit-tested below.

use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestArgs {
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    pub list: bool,
    /// `--ignored`: run only ignored tests, and there are none.
    pub ignored_only: bool,
    /// `-q`/`--quiet`/`--format terse`: one character per test.
    pub terse: bool,
    /// `--nocapture`/`--show-output`: echo serial output live.
    pub nocapture: bool,
    pub color: Option<bool>,
    pub help: bool,
}

/// libtest flags that take a value (so it is not mistaken for a filter).
const VALUE_FLAGS: &[&str] = &[
    "--skip",
    "--test-threads",
    "--format",
    "--color",
    "--logfile",
    "-Z",
    "--shuffle-seed",
    "--report-time-format",
];

/// Parses libtest's arguments; unknown flags are ignored.
pub fn parse_args(args: &[String]) -> TestArgs {
    let mut t = TestArgs::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if !a.starts_with('-') {
            t.filters.push(a.to_string());
            continue;
        }
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let value = if VALUE_FLAGS.contains(&flag) && value.is_none() {
            i += 1;
            args.get(i - 1).cloned()
        } else {
            value
        };
        match flag {
            "--skip" => t.skip.extend(value),
            "--exact" => t.exact = true,
            "--list" => t.list = true,
            "--ignored" => t.ignored_only = true,
            "-q" | "--quiet" => t.terse = true,
            "--format" => t.terse = value.as_deref() == Some("terse"),
            "--nocapture" | "--no-capture" | "--show-output" => t.nocapture = true,
            "--color" => {
                t.color = match value.as_deref() {
                    Some("always") => Some(true),
                    Some("never") => Some(false),
                    _ => None,
                }
            }
            "-h" | "--help" => t.help = true,
            _ => {}
        }
    }
    t
}

impl TestArgs {
    /// libtest's selection: any filter matches (substring, or equality with
    /// `--exact`), and no `--skip` matches.
    pub fn selects(&self, name: &str) -> bool {
        let m = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(m)) && !self.skip.iter().any(m)
    }
}

/// ANSI colouring the way libtest does it (only the result words).
pub fn paint(word: &str, ok: bool, color: bool) -> String {
    if color {
        format!("\x1b[{}m{word}\x1b[0m", if ok { 32 } else { 31 })
    } else {
        word.to_string()
    }
}

/// `\nrunning N tests\n`
pub fn run_start(n: usize) -> String {
    format!("\nrunning {n} {}\n", if n == 1 { "test" } else { "tests" })
}

/// libtest's `TestExecTime` display: ` <1.234s>`.
pub fn exec_time(d: Duration) -> String {
    format!(" <{:.3}s>", d.as_secs_f64())
}

/// `test NAME ... ok <1.234s>\n` (pretty format, --report-time style).
pub fn result_line(name: &str, ok: bool, time: Duration, color: bool) -> String {
    let word = paint(if ok { "ok" } else { "FAILED" }, ok, color);
    format!("test {name} ... {word}{}\n", exec_time(time))
}

/// `--list` output.
pub fn list(names: &[String], terse: bool) -> String {
    let mut s = String::new();
    for n in names {
        s.push_str(n);
        s.push_str(": test\n");
    }
    if !terse {
        if !names.is_empty() {
            s.push('\n');
        }
        let plural = if names.len() == 1 { "" } else { "s" };
        s.push_str(&format!("{} test{plural}, 0 benchmarks\n", names.len()));
    }
    s
}

/// libtest's terse formatter: `.` per passed test, `name --- FAILED` lines,
/// ` n/total` every 88 columns.
#[derive(Debug)]
pub struct Terse {
    pub column: usize,
    pub count: usize,
    pub total: usize,
}

const QUIET_MODE_MAX_COLUMN: usize = 88;

impl Terse {
    pub fn new(total: usize) -> Terse {
        Terse {
            column: 0,
            count: 0,
            total,
        }
    }

    fn progress(&mut self) -> String {
        self.column = 0;
        format!(" {}/{}\n", self.count, self.total)
    }

    pub fn result(&mut self, name: &str, ok: bool, color: bool) -> String {
        if ok {
            let mut s = paint(".", true, color);
            self.count += 1;
            self.column += 1;
            if self.column % QUIET_MODE_MAX_COLUMN == QUIET_MODE_MAX_COLUMN - 1 {
                s.push_str(&self.progress());
            }
            s
        } else {
            let mut s = String::new();
            if self.column != 0 {
                s.push_str(&self.progress());
            }
            self.count += 1;
            s.push_str(&format!("{name} --- {}\n", paint("FAILED", false, color)));
            s
        }
    }

    /// Call before printing a whole line of our own (an echoed figure):
    /// ends a pending row of dots.
    pub fn break_line(&mut self) -> String {
        if self.column != 0 {
            self.progress()
        } else {
            String::new()
        }
    }
}

/// The `failures:` block: each failure's report, then the sorted names.
pub fn failures(reports: &[(String, String)]) -> String {
    if reports.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nfailures:\n\n");
    for (name, body) in reports {
        s.push_str(&format!("---- {name} stdout ----\n"));
        s.push_str(body);
        if !body.ends_with('\n') {
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str("\nfailures:\n");
    let mut names: Vec<&String> = reports.iter().map(|(n, _)| n).collect();
    names.sort();
    for n in names {
        s.push_str(&format!("    {n}\n"));
    }
    s
}

/// `\ntest result: ok. P passed; F failed; 0 ignored; 0 measured; X filtered out; finished in T.TTs\n\n`
pub fn summary(
    passed: usize,
    failed: usize,
    filtered_out: usize,
    elapsed: Duration,
    color: bool,
) -> String {
    let ok = failed == 0;
    format!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; \
         {filtered_out} filtered out; finished in {:.2}s\n\n",
        paint(if ok { "ok" } else { "FAILED" }, ok, color),
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> TestArgs {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_what_cargo_passes() {
        let t = args(&[
            "--nocapture",
            "spawn",
            "--test-threads",
            "1",
            "--format=pretty",
            "--skip",
            "slow",
            "-Z",
            "unstable-options",
            "--report-time",
            "--bogus",
        ]);
        assert_eq!(t.filters, vec!["spawn"]);
        assert_eq!(t.skip, vec!["slow"]);
        assert!(t.nocapture && !t.terse && !t.list && !t.exact);
        let t = args(&["-q", "--list", "--exact", "a [smp=1]", "--color", "never"]);
        assert!(t.terse && t.list && t.exact);
        assert_eq!(t.color, Some(false));
        assert_eq!(t.filters, vec!["a [smp=1]"]);
        assert!(args(&["--format", "terse"]).terse);
        assert!(args(&["--ignored"]).ignored_only);
        assert!(args(&["--show-output"]).nocapture);
    }

    #[test]
    fn filtering() {
        assert!(args(&[]).selects("a [smp=1]"));
        let t = args(&["smp=2"]);
        assert!(t.selects("a [smp=2]") && !t.selects("a [smp=1]"));
        let t = args(&["alpha", "beta"]);
        assert!(t.selects("alpha [smp=1]") && t.selects("beta [smp=1]"));
        assert!(!t.selects("gamma [smp=1]"));
        let t = args(&["--exact", "alpha"]);
        assert!(!t.selects("alpha [smp=1]"));
        assert!(args(&["--exact", "alpha [smp=1]"]).selects("alpha [smp=1]"));
        let t = args(&["--skip", "uefi"]);
        assert!(t.selects("a [smp=1]") && !t.selects("a [smp=1 uefi]"));
    }

    #[test]
    fn formatting_matches_libtest() {
        assert_eq!(run_start(1), "\nrunning 1 test\n");
        assert_eq!(run_start(3), "\nrunning 3 tests\n");
        assert_eq!(
            result_line("a [smp=1]", true, Duration::from_millis(1234), false),
            "test a [smp=1] ... ok <1.234s>\n"
        );
        assert_eq!(
            result_line("a", false, Duration::from_micros(500), false),
            "test a ... FAILED <0.001s>\n"
        );
        assert_eq!(
            result_line("a", true, Duration::ZERO, true),
            "test a ... \x1b[32mok\x1b[0m <0.000s>\n"
        );
        assert_eq!(
            summary(2, 0, 1, Duration::from_millis(12345), false),
            "\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out; \
             finished in 12.35s\n\n"
        );
        assert!(
            summary(0, 1, 0, Duration::ZERO, false)
                .starts_with("\ntest result: FAILED. 0 passed; 1 failed")
        );
        assert_eq!(
            failures(&[("b".into(), "why\n".into()), ("a".into(), "x".into())]),
            "\nfailures:\n\n---- b stdout ----\nwhy\n\n---- a stdout ----\nx\n\n\nfailures:\n    a\n    b\n"
        );
        assert_eq!(failures(&[]), "");
        assert_eq!(
            list(&["a [smp=1]".into()], false),
            "a [smp=1]: test\n\n1 test, 0 benchmarks\n"
        );
        assert_eq!(list(&[], false), "0 tests, 0 benchmarks\n");
        assert_eq!(list(&["a".into(), "b".into()], true), "a: test\nb: test\n");
    }

    #[test]
    fn terse_rows() {
        let mut t = Terse::new(100);
        let mut out = String::new();
        for _ in 0..87 {
            out.push_str(&t.result("x", true, false));
        }
        assert_eq!(out, format!("{} 87/100\n", ".".repeat(87)));
        let mut t = Terse::new(3);
        assert_eq!(t.result("a", true, false), ".");
        assert_eq!(t.result("b", false, false), " 1/3\nb --- FAILED\n");
        assert_eq!(t.break_line(), "");
        assert_eq!(t.result("c", true, false), ".");
        assert_eq!(t.break_line(), " 3/3\n");
    }
}
