//! Test mode: the kernel ELF has a `.gmpos_test` section. Each
//! configuration is one boot running its cases; results are printed the
//! way libtest prints them.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cli::Options;
use crate::image;
use crate::libtest::{self, Terse, TestArgs};
use crate::protocol::{BootEnd, Line, Tracker, classify_line};
use crate::qemu::{self, BootOptions, Machine};
use crate::spec::{Config, TestSpec};
use crate::sys;

/// Serial lines shown with a failure (all of them with GMPOS_VERBOSE=1).
const TAIL_LINES: usize = 40;
/// libtest's exit status when a test failed.
pub const EXIT_TESTS_FAILED: i32 = 101;

/// One boot to run: a configuration and the selected cases.
#[derive(Clone, Debug)]
pub struct Job {
    pub config: Config,
    pub cases: Vec<String>,
    pub cmdline: String,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Joins kernel command-line pieces, skipping empty ones.
pub fn join_cmdline(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The selected tests as boots: configurations without a selected case are
/// dropped; a configuration running only some of its cases gets
/// `tests=<list>` appended to the kernel command line.
pub fn plan(spec: &TestSpec, targs: &TestArgs, extra_cmdline: &str) -> (Vec<Job>, usize) {
    let mut jobs = Vec::new();
    let mut total = 0;
    for config in spec.configs() {
        total += spec.cases.len();
        if targs.ignored_only {
            continue;
        }
        let cases: Vec<String> = spec
            .cases
            .iter()
            .filter(|c| targs.selects(&config.test_name(c)))
            .cloned()
            .collect();
        if cases.is_empty() {
            continue;
        }
        let tests = if cases.len() < spec.cases.len() {
            format!("tests={}", cases.join(","))
        } else {
            String::new()
        };
        let variant = config.variant.as_deref().unwrap_or("");
        let cmdline = join_cmdline(&[&spec.args, variant, extra_cmdline, &tests]);
        jobs.push(Job {
            config,
            cases,
            cmdline,
        });
    }
    (jobs, total)
}

/// The shared console: libtest-style lines, counters, collected failures.
struct Printer {
    terse: Option<Terse>,
    color: bool,
    passed: usize,
    failed: usize,
    failures: Vec<(String, String)>,
}

impl Printer {
    fn emit(&mut self, s: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }

    /// A whole line of our own (note, echoed figure, serial in --nocapture).
    fn note(&mut self, line: &str) {
        let mut s = self
            .terse
            .as_mut()
            .map(|t| t.break_line())
            .unwrap_or_default();
        s.push_str(line);
        s.push('\n');
        self.emit(&s);
    }

    fn result(&mut self, name: &str, ok: bool, time: Duration) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let s = match self.terse.as_mut() {
            Some(t) => t.result(name, ok, self.color),
            None => libtest::result_line(name, ok, time, self.color),
        };
        self.emit(&s);
    }
}

/// Everything a worker needs besides the job.
struct Ctx<'a> {
    spec: &'a TestSpec,
    printer: &'a Mutex<Printer>,
    kvm: bool,
    gdb: bool,
    timeout: Duration,
    echo_all: bool,
    verbose: bool,
    images: &'a [(bool, Result<image::Image, String>)],
    /// The unstripped ELF: tracebacks are symbolised from it.
    kernel: &'a std::path::Path,
}

fn tail(lines: &[String], verbose: bool) -> (&[String], String) {
    if verbose || lines.len() <= TAIL_LINES {
        (lines, format!("all {} lines", lines.len()))
    } else {
        (
            &lines[lines.len() - TAIL_LINES..],
            format!(
                "last {TAIL_LINES} of {} lines; GMPOS_VERBOSE=1 shows all",
                lines.len()
            ),
        )
    }
}

fn run_job(ctx: &Ctx, job: &Job) {
    let label = job.config.label();
    let names: Vec<String> = job.cases.iter().map(|c| job.config.test_name(c)).collect();
    let image = ctx
        .images
        .iter()
        .find(|(uefi, _)| *uefi == job.config.uefi)
        .map(|(_, i)| i.as_ref().map(|i| i.path.clone()).map_err(|e| e.clone()))
        .unwrap_or_else(|| Err("internal error: no image".into()));

    let mut tracker = Tracker::new(job.cases.clone());
    let mut printed = vec![false; job.cases.len()];
    let expect = ctx.spec.expect.as_deref();
    let result = match image {
        Err(e) => qemu::BootResult {
            end: BootEnd::Error(e),
            elapsed: Duration::ZERO,
            lines: Vec::new(),
            stderr: Vec::new(),
            first_line: None,
        },
        Ok(image) => {
            let machine = Machine {
                smp: job.config.smp,
                maxcpus: ctx.spec.maxcpus,
                mem: ctx.spec.mem.clone(),
                cpu: job.config.cpu.clone(),
                icount: job.config.icount,
                uefi: job.config.uefi,
                kvm: ctx.kvm,
                gdb: ctx.gdb,
                cmdline: job.cmdline.clone(),
                image,
                debugcon: crate::qemu::trace_out(ctx.kernel),
            };
            let mut on_line = |at: Duration, line: &str| {
                let first = tracker.first_start().is_none();
                let done = tracker.line(at, line);
                let mut p = ctx.printer.lock().unwrap();
                if first
                    && p.terse.is_none()
                    && let Some(t) = tracker.first_start()
                {
                    p.note(&format!(
                        "note: [{label}] booted in {:.2}s (QEMU launch to the first case)",
                        t.as_secs_f64()
                    ));
                }
                if ctx.echo_all || classify_line(line) == Line::Echo {
                    p.note(&format!("[{label}] {line}"));
                }
                if let (Some(i), None) = (done, expect) {
                    // Final verdict of a case that is not the last one.
                    if let Some(r) = tracker.verdict(i) {
                        p.result(&names[i], r.ok, r.time);
                        printed[i] = true;
                    }
                }
            };
            let mut o = BootOptions {
                timeout: (!ctx.gdb && !ctx.timeout.is_zero()).then_some(ctx.timeout),
                interactive: false,
                passthrough: false,
                on_line: &mut on_line,
                symbolize: Some(ctx.kernel.to_path_buf()),
                script: &ctx.spec.script,
                await_timeout: ctx.spec.await_timeout,
            };
            qemu::boot(&machine, &mut o)
        }
    };

    let serial_has_expect = expect.is_some_and(|t| expect_found(t, &result.lines))
        && (!ctx.spec.expect_timeout || nmi_blocks(&result.lines) == Ok(job.config.smp as usize));
    let verdicts = tracker.finish_expecting(
        &result.end,
        result.elapsed,
        expect,
        serial_has_expect,
        ctx.spec.expect_timeout,
    );
    let mut p = ctx.printer.lock().unwrap();
    let mut first_failure: Option<&str> = None;
    for (i, v) in verdicts.iter().enumerate() {
        if !printed[i] {
            p.result(&names[i], v.ok, v.time);
        }
        if v.ok {
            continue;
        }
        let mut body = v.message.clone();
        body.push('\n');
        match first_failure {
            Some(first) => body.push_str(&format!("(serial output: see `{first}`)\n")),
            None => {
                first_failure = Some(&names[i]);
                body.push_str(&format!(
                    "\nkernel command line: {}\nQEMU ran for {:.2}s",
                    if job.cmdline.is_empty() {
                        "(empty)"
                    } else {
                        &job.cmdline
                    },
                    result.elapsed.as_secs_f64()
                ));
                if let Some(t) = result.first_line {
                    body.push_str(&format!(
                        ", first serial line after {:.2}s",
                        t.as_secs_f64()
                    ));
                }
                body.push('\n');
                let (lines, what) = tail(&result.lines, ctx.verbose);
                body.push_str(&format!("serial output of [{label}] ({what}):\n"));
                for l in lines {
                    body.push_str("  | ");
                    body.push_str(l);
                    body.push('\n');
                }
                if !result.stderr.is_empty() {
                    body.push_str("QEMU stderr:\n");
                    for l in &result.stderr {
                        body.push_str("  | ");
                        body.push_str(l);
                        body.push('\n');
                    }
                }
            }
        }
        p.failures.push((names[i].clone(), body));
    }
}

/// Runs the test kernel; returns the process exit status (0, 101, ...).
pub fn run(opts: &Options, spec: TestSpec, kvm: bool) -> i32 {
    let start = Instant::now();
    let mut targs = libtest::parse_args(&opts.extra);
    let verbose = env_flag("GMPOS_VERBOSE");
    if verbose || env_flag("RUST_TEST_NOCAPTURE") {
        targs.nocapture = true;
    }
    if targs.help {
        println!(
            "{} is a gmpos test kernel: each `case` of its .gmpos_test section runs in QEMU,\n\
             once per configuration. libtest options understood: FILTER..., --exact, --skip F,\n\
             --list, --ignored, -q/--quiet, --format terse, --nocapture, --show-output,\n\
             --color auto|always|never (others are ignored). Environment: GMPOS_TEST_JOBS (1-2),\n\
             GMPOS_VERBOSE=1, GMPOS_ACCEL. See `gmpos-boot --help`.",
            opts.kernel.display()
        );
        return 0;
    }
    let (jobs, total) = plan(&spec, &targs, opts.args.as_deref().unwrap_or(""));
    let selected: Vec<String> = jobs
        .iter()
        .flat_map(|j| j.cases.iter().map(|c| j.config.test_name(c)))
        .collect();
    if targs.list {
        print!("{}", libtest::list(&selected, targs.terse));
        return 0;
    }
    let color = targs.color.unwrap_or_else(|| sys::isatty(1));
    let printer = Mutex::new(Printer {
        terse: targs.terse.then(|| Terse::new(selected.len())),
        color,
        passed: 0,
        failed: 0,
        failures: Vec::new(),
    });
    printer
        .lock()
        .unwrap()
        .emit(&libtest::run_start(selected.len()));

    // Images first (once per kind), so boots only boot.
    let mut images: Vec<(bool, Result<image::Image, String>)> = Vec::new();
    for uefi in [false, true] {
        if jobs.iter().any(|j| j.config.uefi == uefi) {
            let img = image::prepare(&opts.kernel, uefi);
            if let Ok(image::Image {
                built_in: Some(t),
                path,
            }) = &img
                && !targs.terse
            {
                printer.lock().unwrap().note(&format!(
                    "note: built {} in {:.2}s",
                    path.strip_prefix(image::workspace_root())
                        .unwrap_or(path)
                        .display(),
                    t.as_secs_f64()
                ));
            }
            images.push((uefi, img));
        }
    }

    let workers = std::env::var("GMPOS_TEST_JOBS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 2);
    let workers = if opts.gdb {
        1
    } else {
        workers.min(jobs.len().max(1))
    };
    let ctx = Ctx {
        spec: &spec,
        printer: &printer,
        kvm,
        gdb: opts.gdb,
        timeout: opts.timeout.unwrap_or(spec.timeout),
        echo_all: targs.nocapture,
        verbose,
        images: &images,
        kernel: &opts.kernel,
    };
    let queue = Mutex::new(jobs.iter().collect::<VecDeque<&Job>>());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let Some(job) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    if sys::interrupted().is_some() {
                        continue;
                    }
                    // Thread stays alive until its QEMU is reaped, so
                    // PR_SET_PDEATHSIG (tied to the spawning thread) holds.
                    run_job(&ctx, job);
                }
            });
        }
    });

    let mut p = printer.into_inner().unwrap();
    let failures = std::mem::take(&mut p.failures);
    // As libtest: a pending row of dots is ended by the "\n" these start with.
    let mut out = libtest::failures(&failures);
    out.push_str(&libtest::summary(
        p.passed,
        p.failed,
        total - selected.len(),
        start.elapsed(),
        color,
    ));
    p.emit(&out);
    if let Some(sig) = sys::interrupted() {
        eprintln!("gmpos-boot: interrupted by signal {sig}");
        return 128 + sig;
    }
    if p.failed > 0 || p.passed < selected.len() {
        EXIT_TESTS_FAILED
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    fn targs(a: &[&str]) -> TestArgs {
        libtest::parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn plans_boots_and_tests_list() {
        let s = spec::parse(b"smp=1,2\nargs=x=1\ncase=a\ncase=b\ncase=c").unwrap();
        let (jobs, total) = plan(&s, &targs(&[]), "");
        assert_eq!(total, 6);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].cmdline, "x=1");
        assert_eq!(jobs[1].cases, vec!["a", "b", "c"]);

        let (jobs, _) = plan(&s, &targs(&["b [smp=2]"]), "y=2");
        assert_eq!(
            jobs.len(),
            1,
            "configurations with no matching case are not booted"
        );
        assert_eq!(jobs[0].config.smp, 2);
        assert_eq!(jobs[0].cmdline, "x=1 y=2 tests=b");

        let (jobs, _) = plan(&s, &targs(&["a", "c"]), "");
        assert_eq!(jobs[0].cmdline, "x=1 tests=a,c");

        let (jobs, total) = plan(&s, &targs(&["--ignored"]), "");
        assert!(jobs.is_empty());
        assert_eq!(total, 6);
    }

    #[test]
    fn variants_add_their_words_after_args() {
        let s = spec::parse(b"smp=2\nargs=x=1\nvariants=k=a|k=b\ncase=a").unwrap();
        let (jobs, total) = plan(&s, &targs(&["a [smp=2 k=b]"]), "y=2");
        assert_eq!(total, 2);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].cmdline, "x=1 k=b y=2");
    }

    #[test]
    fn cmdline_joining() {
        assert_eq!(join_cmdline(&["", " a ", "", "b=1"]), "a b=1");
        assert_eq!(join_cmdline(&[]), "");
    }

    #[test]
    fn tail_limits() {
        let lines: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let (t, what) = tail(&lines, false);
        assert_eq!(t.len(), 40);
        assert_eq!(t[0], "60");
        assert!(what.starts_with("last 40 of 100"));
        assert_eq!(tail(&lines, true).0.len(), 100);
    }
}

/// Does the serial output hold every `expect` text (one per line of
/// `expect`), each on a line after the previous one's (a text starting
/// with `^`: on the very next line)?
fn expect_found(expect: &str, lines: &[String]) -> bool {
    let mut from = 0;
    for text in expect.lines() {
        if let Some(next) = text.strip_prefix('^') {
            match lines.get(from) {
                Some(l) if from > 0 && l.contains(next) => from += 1,
                _ => return false,
            }
            continue;
        }
        match lines[from..].iter().position(|l| l.contains(text)) {
            Some(i) => from += i + 1,
            None => return false,
        }
    }
    true
}

/// The NMI dump's blocks (`NMI: cpu N ...` to `NMI: cpu N end`, see the
/// kernel's `arch/x86_64/exceptions.rs`): how many CPUs printed a whole
/// block, or the first line where one block interleaved with another.
fn nmi_blocks(lines: &[String]) -> Result<usize, String> {
    let mut open: Option<&str> = None;
    let mut done: Vec<&str> = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        let Some(rest) = l.strip_prefix("NMI: cpu ") else {
            continue;
        };
        let cpu = rest.split(' ').next().unwrap_or("");
        let is_end = rest.trim_end().ends_with(" end");
        match (open, is_end) {
            (None, false) => open = Some(cpu),
            (Some(c), true) if c == cpu => {
                if done.contains(&cpu) {
                    return Err(format!("line {}: cpu {cpu} printed two blocks", n + 1));
                }
                done.push(cpu);
                open = None;
            }
            _ => return Err(format!("line {}: `{l}` inside another CPU's block", n + 1)),
        }
    }
    match open {
        Some(c) => Err(format!("cpu {c}'s block never ended")),
        None => Ok(done.len()),
    }
}

#[cfg(test)]
mod expect_tests {
    use super::{expect_found, nmi_blocks};

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_expect_text_in_order() {
        let out = lines(&["boot", "fatal error: x", "", "goroutine 1 [sleep]:"]);
        assert!(expect_found("fatal error: x", &out));
        assert!(expect_found("fatal error: x\ngoroutine 1 [sleep]:", &out));
        assert!(!expect_found("goroutine 1 [sleep]:\nfatal error: x", &out));
        assert!(!expect_found("fatal error: x\ngoroutine 2", &out));
        // `^`: on the very next line.
        assert!(expect_found("boot\n^fatal error: x", &out));
        assert!(!expect_found("boot\n^goroutine 1", &out));
        assert!(!expect_found("^boot", &out));
    }

    #[test]
    fn nmi_blocks_must_be_whole() {
        let ok = lines(&[
            "x",
            "NMI: cpu 1 rip=0x1",
            "goroutine 3 [running]:",
            "NMI: cpu 1 end",
            "NMI: cpu 0 rip=0x2",
            "NMI: cpu 0 end",
        ]);
        assert_eq!(nmi_blocks(&ok), Ok(2));
        let mixed = lines(&[
            "NMI: cpu 1 rip=0x1",
            "NMI: cpu 0 rip=0x2",
            "NMI: cpu 1 end",
            "NMI: cpu 0 end",
        ]);
        assert!(nmi_blocks(&mixed).unwrap_err().contains("line 2"));
        assert!(nmi_blocks(&lines(&["NMI: cpu 2 rip=0"])).is_err());
        assert!(nmi_blocks(&lines(&["NMI: cpu 2 end"])).is_err());
    }
}
