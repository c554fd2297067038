//! A demo's arguments: optional `key=value` words after its name (`run
//! sieve n=500` in the shell). Each demo declares its parameters with a
//! default and a range; [`parse`] checks every word against them, so a typo
//! is a one-line error naming the word instead of a silently ignored value.
//! Pure logic: host-tested.
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cmdline::parse_duration_ns;

/// What a parameter's value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (`n=1000`).
    Count,
    /// A duration with a unit (`slice=5ms`, `timeout=200us`), kept in ns.
    Duration,
}

/// One parameter a demo accepts.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub key: &'static str,
    pub kind: Kind,
    /// The value when the word is absent (ns for a duration).
    pub default: u64,
    /// The accepted range, inclusive (ns for a duration).
    pub min: u64,
    pub max: u64,
}

impl Param {
    pub const fn count(key: &'static str, default: u64, min: u64, max: u64) -> Param {
        Param {
            key,
            kind: Kind::Count,
            default,
            min,
            max,
        }
    }

    /// A duration parameter; `default`, `min`, `max` in milliseconds.
    pub const fn millis(key: &'static str, default: u64, min: u64, max: u64) -> Param {
        Param {
            key,
            kind: Kind::Duration,
            default: default * 1_000_000,
            min: min * 1_000_000,
            max: max * 1_000_000,
        }
    }

    fn describe_range(&self) -> String {
        match self.kind {
            Kind::Count => format!("a whole number in {}..={}", self.min, self.max),
            Kind::Duration => format!(
                "a duration with a unit (ns/us/ms/s) in {}..={}",
                fmt_ns(self.min),
                fmt_ns(self.max)
            ),
        }
    }
}

/// `1500000` ns -> `1500us`, `2000000` -> `2ms`: the shortest exact unit.
fn fmt_ns(ns: u64) -> String {
    for (unit, per) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if ns >= per && ns.is_multiple_of(per) {
            return format!("{}{unit}", ns / per);
        }
    }
    format!("{ns}ns")
}

/// The values of `params`, in their order, from `line` (words separated by
/// blanks). Errors name the demo and the offending word:
/// `demo sieve: unknown argument `m=3` (takes: n)`.
pub fn parse(demo: &str, params: &[Param], line: &str) -> Result<Vec<u64>, String> {
    let mut values: Vec<u64> = params.iter().map(|p| p.default).collect();
    let takes = || {
        if params.is_empty() {
            String::from("takes no arguments")
        } else {
            let keys: Vec<&str> = params.iter().map(|p| p.key).collect();
            format!("takes: {}", keys.join(", "))
        }
    };
    for word in line.split_ascii_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "demo {demo}: expected key=value, got `{word}` ({})",
                takes()
            ));
        };
        let Some(i) = params.iter().position(|p| p.key == key) else {
            return Err(format!(
                "demo {demo}: unknown argument `{word}` ({})",
                takes()
            ));
        };
        let p = &params[i];
        let v = match p.kind {
            Kind::Count => value.parse::<u64>().ok(),
            Kind::Duration => parse_duration_ns(value),
        };
        match v {
            Some(v) if (p.min..=p.max).contains(&v) => values[i] = v,
            _ => {
                return Err(format!(
                    "demo {demo}: bad value in `{word}`: expected {}",
                    p.describe_range()
                ));
            }
        }
    }
    Ok(values)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const P: &[Param] = &[
        Param::count("n", 100, 1, 1000),
        Param::millis("wait", 5, 1, 100),
    ];

    #[test]
    fn defaults_when_absent() {
        assert_eq!(parse("d", P, ""), Ok(alloc::vec![100, 5_000_000]));
        assert_eq!(parse("d", P, "  "), Ok(alloc::vec![100, 5_000_000]));
    }

    #[test]
    fn values_in_range() {
        assert_eq!(
            parse("d", P, "wait=2000us n=7"),
            Ok(alloc::vec![7, 2_000_000])
        );
        assert_eq!(parse("d", P, "n=1000 n=1"), Ok(alloc::vec![1, 5_000_000]));
    }

    #[test]
    fn errors_name_the_word() {
        let e = parse("sieve", P, "m=3").unwrap_err();
        assert_eq!(e, "demo sieve: unknown argument `m=3` (takes: n, wait)");
        let e = parse("sieve", P, "n=abc").unwrap_err();
        assert_eq!(
            e,
            "demo sieve: bad value in `n=abc`: expected a whole number in 1..=1000"
        );
        let e = parse("sieve", P, "n=0").unwrap_err();
        assert!(e.contains("`n=0`"), "{e}");
        let e = parse("sieve", P, "wait=5").unwrap_err();
        assert_eq!(
            e,
            "demo sieve: bad value in `wait=5`: expected a duration with a unit (ns/us/ms/s) in 1ms..=100ms"
        );
        let e = parse("sieve", P, "wait=1s").unwrap_err();
        assert!(e.contains("`wait=1s`"), "{e}");
        let e = parse("sieve", P, "fast").unwrap_err();
        assert_eq!(
            e,
            "demo sieve: expected key=value, got `fast` (takes: n, wait)"
        );
        let e = parse("x", &[], "n=1").unwrap_err();
        assert_eq!(e, "demo x: unknown argument `n=1` (takes no arguments)");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn durations_print_in_their_unit() {
        assert_eq!(fmt_ns(1_500_000), "1500us");
        assert_eq!(fmt_ns(2_000_000_000), "2s");
        assert_eq!(fmt_ns(7), "7ns");
    }
}
