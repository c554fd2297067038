//! Command-line parsing of the runner's own options (everything before the
//! kernel ELF). Pure code: unit-tested below.

use std::path::PathBuf;
use std::time::Duration;

/// Which accelerator QEMU should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// KVM when it really works here, TCG otherwise.
    Auto,
    Kvm,
    Tcg,
}

impl Accel {
    pub fn parse(s: &str) -> Result<Accel, String> {
        match s.trim() {
            "auto" | "" => Ok(Accel::Auto),
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            other => Err(format!(
                "invalid accelerator `{other}` (expected auto, kvm or tcg)"
            )),
        }
    }
}

/// The runner's options. `None` means "not given on the command line" so
/// that test mode can tell defaults from explicit choices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub smp: Option<u32>,
    pub mem: Option<String>,
    pub cpu: Option<String>,
    pub accel: Option<Accel>,
    pub icount: bool,
    pub timeout: Option<Duration>,
    pub uefi: bool,
    pub gdb: bool,
    pub args: Option<String>,
    pub kernel: PathBuf,
    /// Everything after the kernel ELF: libtest arguments in test mode,
    /// extra kernel command-line words otherwise.
    pub extra: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Help,
    Version,
    Run(Box<Options>),
}

/// Parses `[OPTIONS] KERNEL_ELF [EXTRA...]` (program name already removed).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut i = 0;
    let mut kernel = None;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            if i < args.len() {
                kernel = Some(args[i].clone());
                i += 1;
            }
            break;
        }
        if !a.starts_with('-') || a == "-" {
            kernel = Some(a.clone());
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            if i < args.len() {
                i += 1;
                Ok(args[i - 1].clone())
            } else {
                Err(format!("{name} needs a value"))
            }
        };
        let no_value = |name: &str| -> Result<(), String> {
            match inline {
                Some(_) => Err(format!("{name} takes no value")),
                None => Ok(()),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--smp" => o.smp = Some(parse_smp(&value(flag)?)?),
            "--mem" | "-m" => o.mem = Some(parse_mem(&value(flag)?)?),
            "--cpu" => {
                let v = value(flag)?;
                o.cpu = if v.is_empty() { None } else { Some(v) };
            }
            "--accel" => o.accel = Some(Accel::parse(&value(flag)?)?),
            "--icount" => {
                no_value(flag)?;
                o.icount = true
            }
            "--uefi" => {
                no_value(flag)?;
                o.uefi = true
            }
            "--gdb" => {
                no_value(flag)?;
                o.gdb = true
            }
            "--timeout" => o.timeout = Some(parse_timeout(&value(flag)?)?),
            "--args" | "--cmdline" => o.args = Some(value(flag)?),
            _ => return Err(format!("unknown option `{a}` (see --help)")),
        }
    }
    let Some(kernel) = kernel else {
        return Err("missing KERNEL_ELF (see --help)".into());
    };
    o.kernel = PathBuf::from(kernel);
    o.extra = args[i..].to_vec();
    Ok(Parsed::Run(Box::new(o)))
}

/// A CPU count QEMU accepts for q35 (1..=255 keeps us within xAPIC ids).
pub fn parse_smp(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=255).contains(&n) => Ok(n),
        _ => Err(format!("invalid CPU count `{s}` (expected 1..=255)")),
    }
}

/// Memory size as QEMU's `-m` takes it: digits with an optional K/M/G/T suffix.
pub fn parse_mem(s: &str) -> Result<String, String> {
    let t = s.trim();
    let digits = t.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T']);
    let suffix_len = t.len() - digits.len();
    if digits.is_empty()
        || suffix_len > 1
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.bytes().all(|b| b == b'0')
    {
        return Err(format!(
            "invalid memory size `{s}` (expected e.g. 512M or 1G)"
        ));
    }
    Ok(t.to_string())
}

/// Seconds (fractions allowed); 0 means no timeout.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim().trim_end_matches('s');
    match t.parse::<f64>() {
        Ok(v) if (0.0..1e9).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "invalid timeout `{s}` (expected seconds, 0 = none)"
        )),
    }
}

/// Formats a duration in whole seconds when it is whole, for messages such as
/// "timed out after 60 s".
pub fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}", d.as_secs())
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn run(args: &[&str]) -> Options {
        match p(args).unwrap() {
            Parsed::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_before_kernel_extra_after() {
        let o = run(&[
            "--smp",
            "4",
            "--mem=2G",
            "--cpu",
            "max",
            "--icount",
            "--timeout",
            "7",
            "--args",
            "a=1 b=2",
            "k.elf",
            "--smp",
            "x",
        ]);
        assert_eq!(o.smp, Some(4));
        assert_eq!(o.mem.as_deref(), Some("2G"));
        assert_eq!(o.cpu.as_deref(), Some("max"));
        assert!(o.icount && !o.uefi && !o.gdb);
        assert_eq!(o.timeout, Some(Duration::from_secs(7)));
        assert_eq!(o.args.as_deref(), Some("a=1 b=2"));
        assert_eq!(o.kernel, PathBuf::from("k.elf"));
        assert_eq!(o.extra, vec!["--smp", "x"]);
    }

    #[test]
    fn libtest_args_pass_through() {
        let o = run(&["/t/deps/sched-123", "--nocapture", "spawn", "--quiet"]);
        assert_eq!(o.extra, vec!["--nocapture", "spawn", "--quiet"]);
        assert_eq!(o.smp, None);
        assert_eq!(o.accel, None);
    }

    #[test]
    fn errors() {
        assert!(p(&[]).is_err());
        assert!(p(&["--smp"]).is_err());
        assert!(p(&["--smp", "0", "k"]).is_err());
        assert!(p(&["--bogus", "k"]).is_err());
        assert!(p(&["--accel", "hvf", "k"]).is_err());
        assert!(p(&["--icount=1", "k"]).is_err());
        assert!(p(&["--mem", "lots", "k"]).is_err());
        assert_eq!(p(&["--help"]).unwrap(), Parsed::Help);
        assert_eq!(p(&["--smp", "2", "-h", "k"]).unwrap(), Parsed::Help);
    }

    #[test]
    fn values() {
        assert_eq!(parse_mem("512M").unwrap(), "512M");
        assert_eq!(parse_mem("1024").unwrap(), "1024");
        assert!(parse_mem("0G").is_err());
        assert!(parse_mem("1GG").is_err());
        assert_eq!(parse_timeout("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_timeout("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_timeout("-1").is_err());
        assert_eq!(Accel::parse("tcg").unwrap(), Accel::Tcg);
        assert_eq!(secs(Duration::from_secs(60)), "60");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5");
        assert_eq!(run(&["--", "k", "x"]).extra, vec!["x"]);
    }
}
