//! The `.gmpos_test` section: which QEMU configurations a test kernel wants
//! and which cases it runs. Pure code: unit-tested below.
//!
//! Format: UTF-8 text (NUL bytes count as line breaks, so NUL padding and
//! concatenated fragments are fine), one `key=value` per line, whitespace
//! around lines, keys and values trimmed, blank lines and `#` comments
//! ignored. Keys:
//!
//! | key       | value                                     | default      |
//! |-----------|-------------------------------------------|--------------|
//! | `smp`     | comma list of CPU counts                  | `1`          |
//! | `cpu`     | comma list of QEMU `-cpu` models          | QEMU default |
//! | `icount`  | comma list of `0`/`1`                     | `0`          |
//! | `uefi`    | comma list of `0`/`1`                     | `0`          |
//! | `mem`     | QEMU `-m` size                            | `1G`         |
//! | `timeout` | seconds per boot, `0` = none              | `60`         |
//! | `args`    | kernel command line (every configuration) | empty        |
//! | `variants`| `\|`-separated list of extra command-line words, one configuration each (`sched=gm \| steal=off`) | none |
//! | `expect`  | the boot must die (exit 2) printing this (repeat the key: every text, in order; a text starting with `^` must be on the line right after the previous text's) | none |
//! | `expect_timeout` | `1`: the boot must instead time out (the runner's NMI dump), and each CPU's `NMI: cpu N` ... `NMI: cpu N end` block must be whole, one per CPU | `0` |
//! | `maxcpus` | QEMU's `-smp N,maxcpus=M`: M CPU slots, only N present (the others are hot-pluggable, listed in the MADT as not enabled) | `N` |
//! | `send`    | an input script step: type this on the serial console (escapes: `\n`, `\r`, `\t`, `\e`, `\\`, `\xHH`; see `script.rs`); repeat, in order with `await` | none |
//! | `await`   | an input script step: wait until this text (same escapes) appears in the serial output after the previous `await`'s match; the test fails naming it if it does not within `await_timeout` | none |
//! | `await_timeout` | seconds each `await` may wait         | `30`         |
//! | `case`    | one case name; repeat, in order           | (at least 1) |
//!
//! One configuration is one element of smp × cpu × icount × uefi (×
//! variants) and is one QEMU boot running every case.

use std::time::Duration;

use crate::cli;
use crate::script::{self, Step};

/// Name of the ELF section that marks a test kernel.
pub const SECTION: &str = ".gmpos_test";

#[derive(Clone, Debug, PartialEq)]
pub struct TestSpec {
    pub smp: Vec<u32>,
    /// `None` = QEMU's default CPU model (no `-cpu`).
    pub cpu: Vec<Option<String>>,
    pub icount: Vec<bool>,
    pub uefi: Vec<bool>,
    pub mem: String,
    pub timeout: Duration,
    pub args: String,
    /// Extra command-line words per configuration (`variants=`); empty:
    /// one configuration without any.
    pub variants: Vec<String>,
    pub expect: Option<String>,
    /// The expected ending is a timeout (with whole NMI blocks), not exit 2.
    pub expect_timeout: bool,
    /// QEMU's `maxcpus=` (CPU slots beyond the `smp` count that are present).
    pub maxcpus: Option<u32>,
    /// The input script (`send=`/`await=` lines, in order).
    pub script: Vec<Step>,
    /// How long each `await` may wait.
    pub await_timeout: Duration,
    pub cases: Vec<String>,
}

/// One QEMU boot of a test kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub smp: u32,
    pub cpu: Option<String>,
    pub icount: bool,
    pub uefi: bool,
    /// This configuration's `variants=` words (after `args`).
    pub variant: Option<String>,
}

impl Config {
    /// `smp=2 cpu=max icount uefi`: smp always, the others only when they
    /// differ from the defaults.
    pub fn label(&self) -> String {
        let mut s = format!("smp={}", self.smp);
        if let Some(cpu) = &self.cpu {
            s.push_str(" cpu=");
            s.push_str(cpu);
        }
        if self.icount {
            s.push_str(" icount");
        }
        if self.uefi {
            s.push_str(" uefi");
        }
        if let Some(v) = &self.variant {
            s.push(' ');
            s.push_str(v);
        }
        s
    }

    /// The libtest name of `case` in this configuration: `case [smp=2 ...]`.
    pub fn test_name(&self, case: &str) -> String {
        format!("{case} [{}]", self.label())
    }
}

impl TestSpec {
    /// The cross product smp × cpu × icount × uefi × variants, in that
    /// nesting order.
    pub fn configs(&self) -> Vec<Config> {
        let variants: Vec<Option<String>> = if self.variants.is_empty() {
            vec![None]
        } else {
            self.variants.iter().cloned().map(Some).collect()
        };
        let mut out = Vec::new();
        for &smp in &self.smp {
            for cpu in &self.cpu {
                for &icount in &self.icount {
                    for &uefi in &self.uefi {
                        for variant in &variants {
                            out.push(Config {
                                smp,
                                cpu: cpu.clone(),
                                icount,
                                uefi,
                                variant: variant.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }
}

fn list<T: PartialEq>(
    key: &str,
    value: &str,
    mut item: impl FnMut(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for raw in value.split(',') {
        let v = item(raw.trim()).map_err(|e| format!("`{key}`: {e}"))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

fn flag(s: &str) -> Result<bool, String> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("invalid value `{s}` (expected 0 or 1)")),
    }
}

/// Parses the section's bytes. Errors name the offending line or key.
pub fn parse(bytes: &[u8]) -> Result<TestSpec, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("{SECTION} section is not UTF-8: {e}"))?;
    let mut spec = TestSpec {
        smp: vec![1],
        cpu: vec![None],
        icount: vec![false],
        uefi: vec![false],
        mem: "1G".into(),
        timeout: Duration::from_secs(60),
        args: String::new(),
        variants: Vec::new(),
        expect: None,
        expect_timeout: false,
        maxcpus: None,
        script: Vec::new(),
        await_timeout: Duration::from_secs(30),
        cases: Vec::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    for (n, line) in text.split(['\n', '\0']).enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "{SECTION} line {}: `{line}` is not key=value",
                n + 1
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |e: String| format!("{SECTION} line {}: {e}", n + 1);
        if !matches!(key, "case" | "expect" | "send" | "await") {
            if seen.iter().any(|k| k == key) {
                return Err(bad(format!("key `{key}` given twice")));
            }
            seen.push(key.to_string());
        }
        match key {
            "smp" => spec.smp = list(key, value, cli::parse_smp).map_err(bad)?,
            "cpu" => {
                spec.cpu = list(key, value, |s| {
                    Ok(match s {
                        "" | "default" => None,
                        _ if s.contains(char::is_whitespace) => {
                            return Err(format!("invalid CPU model `{s}`"));
                        }
                        _ => Some(s.to_string()),
                    })
                })
                .map_err(bad)?
            }
            "icount" => spec.icount = list(key, value, flag).map_err(bad)?,
            "uefi" => spec.uefi = list(key, value, flag).map_err(bad)?,
            "mem" => spec.mem = cli::parse_mem(value).map_err(bad)?,
            "timeout" => spec.timeout = cli::parse_timeout(value).map_err(bad)?,
            "args" => spec.args = value.to_string(),
            "variants" => {
                for v in value.split('|') {
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                    if v.is_empty() || v.contains(['[', ']']) {
                        return Err(bad(format!(
                            "`variants`: `{value}` has an empty or bracketed entry"
                        )));
                    }
                    if !spec.variants.contains(&v) {
                        spec.variants.push(v);
                    }
                }
            }
            "expect_timeout" => spec.expect_timeout = flag(value).map_err(bad)?,
            "maxcpus" => spec.maxcpus = Some(cli::parse_smp(value).map_err(bad)?),
            "expect" => {
                if value.is_empty() {
                    return Err(bad("`expect` needs a text".into()));
                }
                // Repeated `expect=` lines: all texts, in this order (kept
                // one per line: no config value holds a newline).
                spec.expect = Some(match spec.expect.take() {
                    Some(prev) => format!("{prev}\n{value}"),
                    None => value.to_string(),
                })
            }
            "send" => spec.script.push(Step::Send(
                script::unescape(value).map_err(|e| bad(format!("`send`: {e}")))?,
            )),
            "await" => spec.script.push(Step::Await(
                script::unescape(value).map_err(|e| bad(format!("`await`: {e}")))?,
            )),
            "await_timeout" => spec.await_timeout = cli::parse_timeout(value).map_err(bad)?,
            "case" => {
                if value.is_empty() || value.contains([',', ' ', '\t', '[', ']']) {
                    return Err(bad(format!(
                        "invalid case name `{value}` (no spaces, commas or brackets)"
                    )));
                }
                if spec.cases.iter().any(|c| c == value) {
                    return Err(bad(format!("case `{value}` listed twice")));
                }
                spec.cases.push(value.to_string())
            }
            _ => {
                return Err(bad(format!(
                    "unknown key `{key}` (known: smp, cpu, icount, uefi, mem, timeout, args, expect, expect_timeout, maxcpus, send, await, await_timeout, case)"
                )));
            }
        }
    }
    if spec.cases.is_empty() {
        return Err(format!("{SECTION} section lists no `case=` line"));
    }
    if let Some(max) = spec.maxcpus
        && let Some(&n) = spec.smp.iter().find(|&&n| n > max)
    {
        return Err(format!(
            "{SECTION}: `maxcpus={max}` is below `smp={n}` (QEMU refuses it)"
        ));
    }
    if spec.await_timeout.is_zero() && !spec.script.is_empty() {
        return Err(format!(
            "{SECTION}: `await_timeout=0` would let an `await` wait forever"
        ));
    }
    if spec.expect_timeout && spec.expect.is_none() {
        return Err(format!(
            "{SECTION}: `expect_timeout=1` needs at least one `expect=` text"
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_trimming() {
        let s = parse(b"\n  case=alpha  \n\ncase = beta\n\0\0\0").unwrap();
        assert_eq!(s.cases, vec!["alpha", "beta"]);
        assert_eq!(s.smp, vec![1]);
        assert_eq!(s.cpu, vec![None]);
        assert_eq!(s.mem, "1G");
        assert_eq!(s.timeout, Duration::from_secs(60));
        assert_eq!(s.expect, None);
        let c = s.configs();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].test_name("alpha"), "alpha [smp=1]");
    }

    #[test]
    fn maxcpus() {
        let s = parse(b"smp=2\nmaxcpus=4\ncase=a").unwrap();
        assert_eq!(s.maxcpus, Some(4));
        assert_eq!(parse(b"case=a").unwrap().maxcpus, None);
        let e = parse(b"smp=2,4\nmaxcpus=3\ncase=a").unwrap_err();
        assert!(e.contains("`maxcpus=3` is below `smp=4`"), "{e}");
    }

    #[test]
    fn variants_are_one_configuration_each() {
        let s =
            parse(b"smp=1,2\nargs=exit\nvariants=sched=gm |  steal=off  spin=off|sched=gm\ncase=a")
                .unwrap();
        assert_eq!(s.variants, vec!["sched=gm", "steal=off spin=off"]);
        let names: Vec<String> = s.configs().iter().map(|c| c.test_name("a")).collect();
        assert_eq!(
            names,
            vec![
                "a [smp=1 sched=gm]",
                "a [smp=1 steal=off spin=off]",
                "a [smp=2 sched=gm]",
                "a [smp=2 steal=off spin=off]",
            ]
        );
        let e = parse(b"variants=a=1||b=2\ncase=a").unwrap_err();
        assert!(e.contains("`variants`") && e.contains("empty"), "{e}");
        assert!(parse(b"variants=x[1]\ncase=a").is_err());
    }

    #[test]
    fn full_matrix() {
        let s = parse(
            b"smp=1, 4\ncpu=default,max\nicount=0,1\nuefi=1\nmem=2G\ntimeout=0\n\
              args=a=1 b=x,y\nexpect=panic: boom\n# comment\ncase=one\0case=two",
        )
        .unwrap();
        assert_eq!(s.args, "a=1 b=x,y");
        assert_eq!(s.expect.as_deref(), Some("panic: boom"));
        assert_eq!(s.timeout, Duration::ZERO);
        let names: Vec<String> = s.configs().iter().map(|c| c.test_name("one")).collect();
        assert_eq!(
            names,
            vec![
                "one [smp=1 uefi]",
                "one [smp=1 icount uefi]",
                "one [smp=1 cpu=max uefi]",
                "one [smp=1 cpu=max icount uefi]",
                "one [smp=4 uefi]",
                "one [smp=4 icount uefi]",
                "one [smp=4 cpu=max uefi]",
                "one [smp=4 cpu=max icount uefi]",
            ]
        );
        assert_eq!(s.cases, vec!["one", "two"]);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = parse(b"smp=1\nfoo=bar\ncase=a").unwrap_err();
        assert!(
            e.contains("unknown key `foo`") && e.contains("line 2"),
            "{e}"
        );
        assert!(parse(b"smp=1").unwrap_err().contains("no `case=`"));
        assert!(parse(b"case=a\nsmp=0").unwrap_err().contains("smp"));
        assert!(parse(b"case=a\nicount=2").is_err());
        assert!(parse(b"case=a\ncase=a").is_err());
        assert!(parse(b"case=a b").is_err());
        assert!(
            parse(b"case=a\nsmp=1\nsmp=2")
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            parse(b"just text\ncase=a")
                .unwrap_err()
                .contains("key=value")
        );
        assert!(parse(&[0xff, b'\n']).is_err());
    }

    #[test]
    fn input_script() {
        let s = parse(
            br"case=a
            await=gmpos>\x20
            send=ps\n
            await=goroutine
            send=\e[A\x03
            await_timeout=5",
        )
        .unwrap();
        assert_eq!(
            s.script,
            vec![
                Step::Await(b"gmpos> ".to_vec()),
                Step::Send(b"ps\n".to_vec()),
                Step::Await(b"goroutine".to_vec()),
                Step::Send(b"\x1b[A\x03".to_vec()),
            ]
        );
        assert_eq!(s.await_timeout, Duration::from_secs(5));
        assert_eq!(
            parse(b"case=a").unwrap().await_timeout,
            Duration::from_secs(30)
        );
        let e = parse(b"case=a\nsend=\\q").unwrap_err();
        assert!(
            e.contains("line 2: `send`: ") && e.contains("unknown escape"),
            "{e}"
        );
        assert!(
            parse(b"case=a\nawait=")
                .unwrap_err()
                .contains("`await`: an empty text")
        );
        assert!(
            parse(b"case=a\nawait=x\nawait_timeout=0")
                .unwrap_err()
                .contains("wait forever")
        );
    }

    #[test]
    fn duplicates_in_lists_collapse() {
        let s = parse(b"smp=2,2\ncase=a").unwrap();
        assert_eq!(s.smp, vec![2]);
    }
}
