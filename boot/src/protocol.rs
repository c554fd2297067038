//! How a boot ended (QEMU exit status -> kernel exit code) and the test
//! protocol the kernel speaks on serial. Pure code: unit-tested below.

use std::time::Duration;

use crate::cli::secs;

/// Runner exit status when QEMU stopped without the kernel's exit device.
pub const EXIT_NO_DEVICE: i32 = 3;
/// Runner exit status on timeout.
pub const EXIT_TIMEOUT: i32 = 4;
/// Runner exit status on usage or setup errors.
pub const EXIT_USAGE: i32 = 1;
/// Kernel exit code of a Go-style panic / fatal error.
pub const CODE_PANIC: u8 = 2;
/// Highest code the kernel can report (`0x10 + code` must fit 7 bits).
pub const CODE_MAX: u8 = 0x6f;

/// How one QEMU boot ended.
#[derive(Clone, Debug, PartialEq)]
pub enum BootEnd {
    /// The kernel wrote `0x10 + code` to the isa-debug-exit port.
    Kernel(u8),
    /// QEMU's status came from the exit device, but the value written was
    /// below 0x10 (not our protocol).
    BadExitValue {
        status: i32,
        value: u32,
    },
    /// QEMU exited with this status without the exit device (0: triple
    /// fault / reset / shutdown under -no-reboot, 1: QEMU error, ...).
    NoExitDevice(i32),
    /// QEMU died from a signal the runner did not send.
    Signaled(i32),
    /// The user quit QEMU from its console (`Ctrl-A x`).
    Quit,
    Timeout(Duration),
    /// A test's input script failed (`script.rs`): the message names the
    /// step and what was awaited.
    Script(String),
    /// The runner got SIGINT/SIGTERM/SIGHUP (the signal number).
    Interrupted(i32),
    /// QEMU could not be started, or the image not built.
    Error(String),
}

/// Maps QEMU's exit status. isa-debug-exit makes QEMU exit with
/// `(value << 1) | 1`; the kernel writes `0x10 + code`, so status
/// `33 + 2 * code` means kernel exit code `code`.
pub fn classify_status(status: i32) -> BootEnd {
    if status & 1 == 1 && (33..=33 + 2 * CODE_MAX as i32).contains(&status) {
        BootEnd::Kernel(((status - 1) / 2 - 0x10) as u8)
    } else if status & 1 == 1 && (3..33).contains(&status) {
        BootEnd::BadExitValue {
            status,
            value: ((status - 1) / 2) as u32,
        }
    } else {
        BootEnd::NoExitDevice(status)
    }
}

impl BootEnd {
    /// The runner's own exit status for this ending (non-test mode).
    pub fn exit_code(&self) -> i32 {
        match self {
            BootEnd::Kernel(c) => *c as i32,
            BootEnd::Quit => 0,
            BootEnd::BadExitValue { .. } | BootEnd::NoExitDevice(_) | BootEnd::Signaled(_) => {
                EXIT_NO_DEVICE
            }
            BootEnd::Timeout(_) | BootEnd::Script(_) => EXIT_TIMEOUT,
            BootEnd::Interrupted(sig) => 128 + sig,
            BootEnd::Error(_) => EXIT_USAGE,
        }
    }

    /// One-line description, used in messages.
    pub fn describe(&self) -> String {
        match self {
            BootEnd::Kernel(0) => "the kernel exited successfully (code 0)".into(),
            BootEnd::Kernel(CODE_PANIC) => {
                "the kernel died (exit code 2: panic/fatal error)".into()
            }
            BootEnd::Kernel(c) => format!("the kernel exited with code {c}"),
            BootEnd::BadExitValue { status, value } => format!(
                "QEMU exited with status {status}: the kernel wrote {value:#x} to the exit \
                 device (expected 0x10 + code)"
            ),
            BootEnd::NoExitDevice(s) => format!(
                "QEMU exited with status {s} without the kernel's exit device (triple fault or reset?)"
            ),
            BootEnd::Signaled(sig) => format!("QEMU was killed by signal {sig}"),
            BootEnd::Quit => "QEMU quit (Ctrl-A x)".into(),
            BootEnd::Timeout(d) => format!("timed out after {} s", secs(*d)),
            BootEnd::Interrupted(sig) => format!("interrupted by signal {sig}"),
            BootEnd::Script(e) => e.clone(),
            BootEnd::Error(e) => e.clone(),
        }
    }
}

/// Removes ANSI escape sequences (firmware consoles love them), carriage
/// returns and other control characters from one serial line.
pub fn clean_line(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => {
                if it.next() == Some('[') {
                    // CSI: parameters then one final byte in 0x40..=0x7e.
                    for c in it.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// One serial line, as the test protocol sees it.
#[derive(Debug, PartialEq)]
pub enum Line<'a> {
    Start(&'a str),
    Ok(&'a str),
    Failed(&'a str, &'a str),
    Done,
    /// `# ...` or `bench=...`: figures the runner shows even when quiet.
    Echo,
    Other,
}

const PREFIX: &str = "gmpos-test: ";

pub fn classify_line(line: &str) -> Line<'_> {
    if let Some(pos) = line.find(PREFIX) {
        let rest = &line[pos + PREFIX.len()..];
        if let Some(c) = rest.strip_prefix("start ") {
            return Line::Start(c.trim());
        }
        if let Some(c) = rest.strip_prefix("ok ") {
            return Line::Ok(c.trim());
        }
        if let Some(r) = rest.strip_prefix("FAILED ") {
            return match r.split_once(':') {
                Some((c, m)) => Line::Failed(c.trim(), m.trim()),
                None => Line::Failed(r.trim(), ""),
            };
        }
        if rest.trim() == "done" {
            return Line::Done;
        }
    }
    if line.starts_with("# ") || line.starts_with("bench=") {
        return Line::Echo;
    }
    Line::Other
}

/// Whether a line announces the kernel's death (the first such line becomes
/// part of the failure message).
fn is_death_line(line: &str) -> bool {
    line.starts_with("panic")
        || line.starts_with("fatal error")
        || line.starts_with("runtime error")
        || line.contains("panicked at")
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    NotRun,
    Running(Duration),
    Passed(Duration, Duration),
    Failed(Duration, Duration, String),
}

/// The verdict on one case of one boot.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseResult {
    pub ok: bool,
    pub time: Duration,
    pub message: String,
}

/// Follows the protocol lines of one boot. Times are offsets from the
/// QEMU launch, so the tracker is deterministic and testable.
#[derive(Debug)]
pub struct Tracker {
    cases: Vec<String>,
    state: Vec<State>,
    running: Option<usize>,
    done: bool,
    death: Option<String>,
    first_start: Option<Duration>,
}

impl Tracker {
    /// `cases`: the cases this boot runs (the selected ones), in order.
    pub fn new(cases: Vec<String>) -> Tracker {
        let n = cases.len();
        Tracker {
            cases,
            state: vec![State::NotRun; n],
            running: None,
            done: false,
            death: None,
            first_start: None,
        }
    }

    /// When the first case started (boot overhead), if one did.
    pub fn first_start(&self) -> Option<Duration> {
        self.first_start
    }

    fn index(&self, case: &str) -> Option<usize> {
        self.cases.iter().position(|c| c == case)
    }

    /// Feeds one cleaned serial line seen `at` after launch. Returns the
    /// index of a case whose verdict is now final and may be printed (never
    /// the last case: a later crash or bad exit is pinned on it).
    pub fn line(&mut self, at: Duration, line: &str) -> Option<usize> {
        match classify_line(line) {
            Line::Start(c) => {
                let i = self.index(c)?;
                let mut fin = None;
                if let Some(prev) = self.running.take()
                    && let State::Running(t0) = self.state[prev]
                {
                    self.state[prev] = State::Failed(
                        t0,
                        at,
                        format!(
                            "the kernel started case `{c}` before reporting ok/FAILED for this one"
                        ),
                    );
                    fin = Some(prev).filter(|&p| p + 1 < self.cases.len());
                }
                self.first_start.get_or_insert(at);
                self.state[i] = State::Running(at);
                self.running = Some(i);
                fin
            }
            Line::Ok(c) | Line::Failed(c, _) => {
                let i = self.index(c)?;
                let t0 = match self.state[i] {
                    State::Running(t0) => t0,
                    _ => at,
                };
                self.state[i] = match classify_line(line) {
                    Line::Failed(_, m) => State::Failed(
                        t0,
                        at,
                        if m.is_empty() {
                            "the kernel reported FAILED".into()
                        } else {
                            m.to_string()
                        },
                    ),
                    _ => State::Passed(t0, at),
                };
                if self.running == Some(i) {
                    self.running = None;
                }
                (i + 1 < self.cases.len()).then_some(i)
            }
            Line::Done => {
                self.done = true;
                None
            }
            Line::Echo | Line::Other => {
                if self.death.is_none() && is_death_line(line) {
                    self.death = Some(line.to_string());
                }
                None
            }
        }
    }

    /// The verdict of case `i` if the kernel already reported it.
    pub fn verdict(&self, i: usize) -> Option<CaseResult> {
        match &self.state[i] {
            State::Passed(t0, t1) => Some(CaseResult {
                ok: true,
                time: t1.saturating_sub(*t0),
                message: String::new(),
            }),
            State::Failed(t0, t1, m) => Some(CaseResult {
                ok: false,
                time: t1.saturating_sub(*t0),
                message: m.clone(),
            }),
            _ => None,
        }
    }

    /// The verdicts of all cases once the boot ended (`at` after launch).
    /// `serial_has_expect`: whether the serial output contains the `expect`
    /// text (only meaningful when `expect` is set).
    #[cfg(test)]
    pub fn finish(
        &self,
        end: &BootEnd,
        at: Duration,
        expect: Option<&str>,
        serial_has_expect: bool,
    ) -> Vec<CaseResult> {
        self.finish_expecting(end, at, expect, serial_has_expect, false)
    }

    /// [`Tracker::finish`]; with `expect_timeout` the expected ending is a
    /// timeout (the NMI dump), not exit status 2.
    pub fn finish_expecting(
        &self,
        end: &BootEnd,
        at: Duration,
        expect: Option<&str>,
        serial_has_expect: bool,
        expect_timeout: bool,
    ) -> Vec<CaseResult> {
        let times: Vec<Duration> = self
            .state
            .iter()
            .map(|s| match s {
                State::NotRun => Duration::ZERO,
                State::Running(t0) => at.saturating_sub(*t0),
                State::Passed(t0, t1) | State::Failed(t0, t1, _) => t1.saturating_sub(*t0),
            })
            .collect();
        let died = match (end, &self.death) {
            (BootEnd::Kernel(CODE_PANIC), Some(d)) => format!("{}: {d}", end.describe()),
            _ => end.describe(),
        };

        if let Some(text) = expect {
            let (ok, msg) = match end {
                BootEnd::Timeout(_) if expect_timeout && serial_has_expect => (true, String::new()),
                BootEnd::Timeout(_) if expect_timeout => (
                    false,
                    format!(
                        "{}, but its output lacks the expected text \"{text}\" or whole NMI blocks",
                        end.describe()
                    ),
                ),
                _ if expect_timeout => (
                    false,
                    format!("expected a timeout with \"{text}\" but {}", end.describe()),
                ),
                BootEnd::Kernel(CODE_PANIC) if serial_has_expect => (true, String::new()),
                BootEnd::Kernel(CODE_PANIC) => (
                    false,
                    format!("{died}, but its output lacks the expected text \"{text}\""),
                ),
                BootEnd::Kernel(0) => (
                    false,
                    format!("expected failure \"{text}\" but the kernel exited successfully"),
                ),
                _ => (
                    false,
                    format!("expected failure \"{text}\" but {}", end.describe()),
                ),
            };
            return times
                .into_iter()
                .map(|time| CaseResult {
                    ok,
                    time,
                    message: msg.clone(),
                })
                .collect();
        }

        let success = *end == BootEnd::Kernel(0);
        let culprit = self.running.map(|i| self.cases[i].clone());
        let mut out: Vec<CaseResult> = self
            .state
            .iter()
            .zip(times)
            .map(|(s, time)| {
                let (ok, message) = match s {
                    State::Passed(..) => (true, String::new()),
                    State::Failed(_, _, m) => (false, m.clone()),
                    State::Running(_) if success => (
                        false,
                        "the kernel exited successfully (code 0) without reporting ok/FAILED \
                         for this case"
                            .into(),
                    ),
                    State::Running(_) => (false, died.clone()),
                    State::NotRun if success => (
                        false,
                        "not run: the kernel exited successfully (code 0) without running it"
                            .into(),
                    ),
                    State::NotRun => match &culprit {
                        Some(c) => (false, format!("not run: kernel died in {c}")),
                        None => (false, format!("not run: {died}")),
                    },
                };
                CaseResult { ok, time, message }
            })
            .collect();
        // A bad ending after every case reported (a panic after the last
        // case, a non-zero exit code): pin it on the last case that ran.
        if !success && out.iter().all(|r| r.ok) {
            let last = self
                .state
                .iter()
                .rposition(|s| *s != State::NotRun)
                .unwrap_or(out.len() - 1);
            out[last].ok = false;
            out[last].message = format!("after this case: {died}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exit_status_mapping() {
        assert_eq!(classify_status(33), BootEnd::Kernel(0));
        assert_eq!(classify_status(35), BootEnd::Kernel(1));
        assert_eq!(classify_status(37), BootEnd::Kernel(2));
        assert_eq!(classify_status(255), BootEnd::Kernel(0x6f));
        assert_eq!(classify_status(0), BootEnd::NoExitDevice(0));
        assert_eq!(classify_status(1), BootEnd::NoExitDevice(1));
        assert_eq!(classify_status(34), BootEnd::NoExitDevice(34));
        assert_eq!(
            classify_status(3),
            BootEnd::BadExitValue {
                status: 3,
                value: 1
            }
        );
        assert_eq!(BootEnd::Kernel(0).exit_code(), 0);
        assert_eq!(BootEnd::Kernel(2).exit_code(), 2);
        assert_eq!(BootEnd::Kernel(7).exit_code(), 7);
        assert_eq!(BootEnd::NoExitDevice(0).exit_code(), 3);
        assert_eq!(BootEnd::Signaled(9).exit_code(), 3);
        assert_eq!(BootEnd::Quit.exit_code(), 0);
        assert_eq!(BootEnd::Timeout(ms(1)).exit_code(), 4);
        assert_eq!(BootEnd::Interrupted(2).exit_code(), 130);
        assert_eq!(BootEnd::Error("x".into()).exit_code(), 1);
        assert_eq!(
            BootEnd::NoExitDevice(0).describe(),
            "QEMU exited with status 0 without the kernel's exit device (triple fault or reset?)"
        );
        assert_eq!(
            BootEnd::Timeout(Duration::from_secs(60)).describe(),
            "timed out after 60 s"
        );
        // Every code the kernel can send survives the round trip.
        for code in 0..=CODE_MAX {
            let status = ((0x10 + code as i32) << 1) | 1;
            assert_eq!(status, 33 + 2 * code as i32);
            assert_eq!(classify_status(status), BootEnd::Kernel(code));
        }
    }

    #[test]
    fn cleaning_and_classifying_lines() {
        assert_eq!(
            clean_line(b"\x1b[2J\x1b[01;01Hgmpos-test: ok a\r"),
            "gmpos-test: ok a"
        );
        assert_eq!(clean_line(b"a\tb \x07"), "a\tb");
        assert_eq!(
            classify_line("gmpos-test: start alpha"),
            Line::Start("alpha")
        );
        assert_eq!(classify_line("gmpos-test: ok alpha"), Line::Ok("alpha"));
        assert_eq!(
            classify_line("gmpos-test: FAILED alpha: x: 1 != 2"),
            Line::Failed("alpha", "x: 1 != 2")
        );
        assert_eq!(classify_line("gmpos-test: done"), Line::Done);
        assert_eq!(classify_line("# 12 Mops/s"), Line::Echo);
        assert_eq!(classify_line("bench=spawn 1.2ns"), Line::Echo);
        assert_eq!(classify_line("#nope"), Line::Other);
        assert_eq!(classify_line("INFO: hello"), Line::Other);
    }

    fn tracker() -> Tracker {
        Tracker::new(vec!["a".into(), "b".into(), "c".into()])
    }

    #[test]
    fn all_pass() {
        let mut t = tracker();
        assert_eq!(t.line(ms(100), "gmpos-test: start a"), None);
        assert_eq!(t.line(ms(150), "gmpos-test: ok a"), Some(0));
        t.line(ms(150), "gmpos-test: start b");
        assert_eq!(t.line(ms(300), "gmpos-test: ok b"), Some(1));
        t.line(ms(300), "gmpos-test: start c");
        assert_eq!(
            t.line(ms(310), "gmpos-test: ok c"),
            None,
            "last case waits for the end"
        );
        t.line(ms(310), "gmpos-test: done");
        assert_eq!(t.first_start(), Some(ms(100)));
        let r = t.finish(&BootEnd::Kernel(0), ms(400), None, false);
        assert!(r.iter().all(|r| r.ok));
        assert_eq!(
            r.iter().map(|r| r.time).collect::<Vec<_>>(),
            vec![ms(50), ms(150), ms(10)]
        );
    }

    #[test]
    fn explicit_failure_and_panic() {
        let mut t = tracker();
        t.line(ms(1), "gmpos-test: start a");
        t.line(ms(2), "gmpos-test: FAILED a: want 1, got 2");
        t.line(ms(3), "gmpos-test: start b");
        t.line(ms(4), "panic: index out of range");
        t.line(ms(5), "goroutine 1 [running]:");
        let r = t.finish(&BootEnd::Kernel(2), ms(9), None, true);
        assert_eq!(
            r[0],
            CaseResult {
                ok: false,
                time: ms(1),
                message: "want 1, got 2".into()
            }
        );
        assert!(!r[1].ok);
        assert_eq!(r[1].time, ms(6));
        assert!(
            r[1].message.contains("exit code 2")
                && r[1].message.ends_with("panic: index out of range")
        );
        assert_eq!(r[2].message, "not run: kernel died in b");
        assert!(!r[2].ok);
    }

    #[test]
    fn timeout_and_triple_fault() {
        let mut t = tracker();
        t.line(ms(1), "gmpos-test: start a");
        t.line(ms(2), "gmpos-test: ok a");
        t.line(ms(3), "gmpos-test: start b");
        let r = t.finish(
            &BootEnd::Timeout(Duration::from_secs(8)),
            ms(8000),
            None,
            false,
        );
        assert!(r[0].ok);
        assert_eq!(r[1].message, "timed out after 8 s");
        assert_eq!(r[2].message, "not run: kernel died in b");
        let t = tracker();
        let r = t.finish(&BootEnd::NoExitDevice(0), ms(5), None, false);
        assert!(
            r.iter()
                .all(|r| r.message.starts_with("not run: QEMU exited with status 0"))
        );
    }

    #[test]
    fn success_without_running_everything() {
        let mut t = tracker();
        t.line(ms(1), "gmpos-test: start a");
        t.line(ms(2), "gmpos-test: ok a");
        t.line(ms(3), "gmpos-test: start b");
        let r = t.finish(&BootEnd::Kernel(0), ms(5), None, false);
        assert!(r[0].ok && !r[1].ok && !r[2].ok);
        assert!(r[1].message.contains("without reporting"));
        assert!(
            r[2].message
                .starts_with("not run: the kernel exited successfully")
        );
    }

    #[test]
    fn bad_end_after_all_cases_fails_the_last() {
        let mut t = Tracker::new(vec!["a".into(), "b".into()]);
        for l in [
            "gmpos-test: start a",
            "gmpos-test: ok a",
            "gmpos-test: start b",
            "gmpos-test: ok b",
        ] {
            t.line(ms(1), l);
        }
        let r = t.finish(&BootEnd::Kernel(1), ms(5), None, false);
        assert!(r[0].ok);
        assert_eq!(
            r[1].message,
            "after this case: the kernel exited with code 1"
        );
    }

    #[test]
    fn start_without_verdict_then_next_start() {
        let mut t = tracker();
        t.line(ms(1), "gmpos-test: start a");
        assert_eq!(t.line(ms(2), "gmpos-test: start b"), Some(0));
        t.line(ms(3), "gmpos-test: ok b");
        t.line(ms(3), "gmpos-test: start c");
        t.line(ms(3), "gmpos-test: ok c");
        let r = t.finish(&BootEnd::Kernel(0), ms(4), None, false);
        assert!(!r[0].ok && r[1].ok && r[2].ok);
        // Unknown cases are ignored.
        let mut t = tracker();
        assert_eq!(t.line(ms(1), "gmpos-test: start zzz"), None);
    }

    #[test]
    fn expected_failure() {
        let mut t = Tracker::new(vec!["boom".into()]);
        t.line(ms(1), "gmpos-test: start boom");
        t.line(ms(2), "panic: boom");
        let r = t.finish(&BootEnd::Kernel(2), ms(3), Some("boom"), true);
        assert_eq!(
            r,
            vec![CaseResult {
                ok: true,
                time: ms(2),
                message: String::new()
            }]
        );
        let r = t.finish(&BootEnd::Kernel(2), ms(3), Some("other"), false);
        assert!(!r[0].ok && r[0].message.contains("lacks the expected text \"other\""));
        let r = t.finish(&BootEnd::Kernel(0), ms(3), Some("boom"), false);
        assert_eq!(
            r[0].message,
            "expected failure \"boom\" but the kernel exited successfully"
        );
        let r = t.finish(
            &BootEnd::Timeout(Duration::from_secs(5)),
            ms(3),
            Some("boom"),
            true,
        );
        assert_eq!(
            r[0].message,
            "expected failure \"boom\" but timed out after 5 s"
        );
    }
}
