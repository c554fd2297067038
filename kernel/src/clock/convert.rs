//! Clock-unit conversions: nanoseconds, TSC cycles, APIC timer counts.
//! Pure functions (host unit-tested), used by `clock`, `time` and the arch
//! timer.
//!
//! Every conversion and every `now + d` saturates instead of wrapping. A
//! wrapped far deadline is a small one: with the TSC-deadline timer,
//! `sleep(Duration::MAX)` would then be programmed for a TSC value in the
//! past, fire at once, be found early by the handler (`now < deadline` on
//! the ns scale) and be re-armed, forever: an interrupt storm on an idle
//! CPU. Saturated, a far deadline stays far: `u64::MAX` ns is the "never"
//! of the timer code (no CPU timer is programmed for it), and a TSC value
//! of `u64::MAX` is not reached in a century at any clock rate.
use core::time::Duration;

const NS_PER_SEC: u128 = 1_000_000_000;

fn saturate(x: u128) -> u64 {
    x.min(u64::MAX as u128) as u64
}

/// `d` in nanoseconds, saturated at `u64::MAX` (584 years; `Duration::MAX`
/// is far beyond).
pub fn duration_ns(d: Duration) -> u64 {
    saturate(d.as_nanos())
}

/// The deadline `ns` after `now` (both on the `now_ns` scale), saturated:
/// `u64::MAX` means never.
pub fn deadline_after(now: u64, ns: u64) -> u64 {
    now.saturating_add(ns)
}

/// Ticks of a `hz` clock in `ns` nanoseconds, rounded down, saturated.
pub fn ns_to_ticks(ns: u64, hz: u64) -> u64 {
    saturate(ns as u128 * hz as u128 / NS_PER_SEC)
}

/// Ticks of a `hz` clock in `ns` nanoseconds, rounded up (a timer armed for
/// that many ticks never ends before `ns`), saturated.
pub fn ns_to_ticks_ceil(ns: u64, hz: u64) -> u64 {
    saturate((ns as u128 * hz as u128).div_ceil(NS_PER_SEC))
}

/// ns per cycle of a `hz` clock as a 32.32 fixed-point number (`now_ns`
/// multiplies and shifts instead of dividing). Truncated: the error is below
/// one part in 10^9 at any rate above 4.3 Hz. 0 for an unknown rate.
pub fn ns_per_cycle_fp32(hz: u64) -> u64 {
    if hz == 0 {
        0
    } else {
        saturate((NS_PER_SEC << 32) / hz as u128)
    }
}

/// `cycles` in nanoseconds with the factor from [`ns_per_cycle_fp32`]
/// (rounded down, saturated).
pub fn cycles_to_ns(cycles: u64, ns_per_cycle_fp32: u64) -> u64 {
    saturate((cycles as u128 * ns_per_cycle_fp32 as u128) >> 32)
}

/// The fewest cycles `c` with `cycles_to_ns(c, fp) >= ns`: the exact inverse
/// of [`cycles_to_ns`], so a TSC deadline computed with it fires exactly
/// when `now_ns()` reaches `ns`, never a cycle before (the handler would
/// re-arm) and never late. (Converting with the exact frequency instead
/// would fire before `now_ns()`, which truncates, reached `ns` by up to one
/// part in 10^9 of the uptime: a burst of re-arms that grows with uptime.)
/// Saturated at `u64::MAX`; `u64::MAX` also when the rate is unknown
/// (`fp == 0`: no cycle count reaches `ns > 0`).
pub fn ns_to_cycles_ceil(ns: u64, ns_per_cycle_fp32: u64) -> u64 {
    if ns == 0 {
        return 0;
    }
    if ns_per_cycle_fp32 == 0 {
        return u64::MAX;
    }
    saturate(((ns as u128) << 32).div_ceil(ns_per_cycle_fp32 as u128))
}

/// The `IA32_TSC_DEADLINE` value for `deadline_ns` on the `now_ns` scale
/// (`now_ns` counts from the TSC value `tsc_at_boot`): the first TSC value
/// at which `now_ns() >= deadline_ns`, saturated at `u64::MAX` (never
/// reached), and never 0 (writing 0 disarms the timer).
pub fn tsc_deadline(tsc_at_boot: u64, deadline_ns: u64, ns_per_cycle_fp32: u64) -> u64 {
    tsc_at_boot
        .saturating_add(ns_to_cycles_ceil(deadline_ns, ns_per_cycle_fp32))
        .max(1)
}

/// The APIC one-shot initial count for `delta_ns` at `apic_hz` (divide by
/// 1): rounded up, at least 1 (0 stops the timer), at most `u32::MAX` (the
/// register's width: a longer wait takes an early interrupt, after which the
/// handler re-arms for the rest).
pub fn apic_count(delta_ns: u64, apic_hz: u64) -> u32 {
    ns_to_ticks_ceil(delta_ns, apic_hz).clamp(1, u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TSC rates of real CPUs, round and odd.
    const RATES: [u64; 9] = [
        2_000_000_000,
        2_500_000_000,
        3_000_000_000,
        3_500_000_000,
        4_000_000_000,
        2_123_456_789,
        3_399_999_999,
        1_000_000_000,
        5_700_000_001,
    ];

    /// Far deadlines: the ones `sleep(Duration::MAX)` and friends produce.
    fn huge_ns() -> [u64; 6] {
        [
            u64::MAX,
            duration_ns(Duration::MAX),
            u64::MAX - 1,
            u64::MAX / 2,
            u64::MAX / 2 + 12_345_678_901,
            1 << 62,
        ]
    }

    /// An increasing set of ns values from 0 to u64::MAX, dense at both
    /// ends and around powers of two (where a truncated product would wrap).
    fn ladder() -> Vec<u64> {
        let mut v: Vec<u64> = (0..2000).collect();
        for s in 0..64 {
            let p = 1u64 << s;
            for d in [p - 1, p, p + 1, p.saturating_mul(3) / 2] {
                v.push(d);
            }
        }
        for k in 0..2000 {
            v.push(u64::MAX - k);
            v.push(u64::MAX / 2 - 1000 + k);
        }
        for r in RATES {
            // Where ns * hz crosses 2^64 (the old code's wrap point).
            let x = (u64::MAX as u128 * NS_PER_SEC / r as u128) as u64;
            for d in 0..100 {
                v.push(x.saturating_sub(50).saturating_add(d));
            }
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn duration_max_saturates() {
        assert_eq!(duration_ns(Duration::MAX), u64::MAX);
        assert_eq!(duration_ns(Duration::from_nanos(u64::MAX)), u64::MAX);
        assert_eq!(
            duration_ns(Duration::from_secs(u64::MAX / 1_000_000_000 + 1)),
            u64::MAX
        );
        assert_eq!(duration_ns(Duration::from_millis(200)), 200_000_000);
        assert_eq!(duration_ns(Duration::ZERO), 0);
    }

    #[test]
    fn deadline_after_saturates() {
        assert_eq!(deadline_after(5, 7), 12);
        assert_eq!(deadline_after(1_000_000, u64::MAX), u64::MAX);
        assert_eq!(
            deadline_after(123_456_789, duration_ns(Duration::MAX)),
            u64::MAX
        );
        assert_eq!(deadline_after(u64::MAX - 1, 2), u64::MAX);
    }

    #[test]
    fn huge_ns_never_wraps_to_a_small_value() {
        for hz in RATES {
            let fp = ns_per_cycle_fp32(hz);
            for ns in huge_ns() {
                // Every rate here is >= 1 GHz: at least one tick per ns,
                // so a result below `ns` can only be a wrapped one.
                let floor = ns_to_ticks(ns, hz);
                let ceil = ns_to_ticks_ceil(ns, hz);
                let exact = ns as u128 * hz as u128 / NS_PER_SEC;
                assert_eq!(
                    floor as u128,
                    exact.min(u64::MAX as u128),
                    "hz={hz} ns={ns}"
                );
                assert!(ceil >= floor, "hz={hz} ns={ns}");
                assert!(ceil >= ns, "hz={hz} ns={ns}: ceil {ceil} wrapped");
                let c = ns_to_cycles_ceil(ns, fp);
                assert!(
                    c as u128 >= exact.min(u64::MAX as u128),
                    "hz={hz} ns={ns}: {c} cycles < {exact}"
                );
                // As a TSC deadline: never earlier than now, whatever the
                // boot TSC was (a reboot-free host may have a big one).
                for boot in [0u64, 1, 123_456_789_012, 1 << 40, 1 << 62, u64::MAX / 2] {
                    let d = tsc_deadline(boot, ns, fp);
                    let now_tsc = boot + 1_000_000_000_000; // ~5 min of uptime
                    assert!(
                        d > now_tsc,
                        "hz={hz} ns={ns} boot={boot}: deadline {d} in the past"
                    );
                }
                assert_eq!(apic_count(ns, hz), u32::MAX, "hz={hz} ns={ns}");
            }
        }
    }

    #[test]
    fn the_old_truncation_did_wrap() {
        // Sanity check of the test itself: the old `as u64` of the same
        // product gives a small value for sleep's old clamp at 2.5 GHz.
        let ns = u64::MAX / 2;
        let hz = 2_500_000_000u128;
        let truncated = (ns as u128 * hz).div_ceil(NS_PER_SEC) as u64;
        assert!(truncated < ns / 2, "{truncated}");
        assert_eq!(ns_to_ticks_ceil(ns, hz as u64), u64::MAX);
    }

    #[test]
    fn monotonic() {
        let v = ladder();
        for hz in RATES {
            let fp = ns_per_cycle_fp32(hz);
            let mut last = (0u64, 0u64, 0u64, 0u64, 0u32);
            for &ns in &v {
                let now = (
                    ns_to_ticks(ns, hz),
                    ns_to_ticks_ceil(ns, hz),
                    ns_to_cycles_ceil(ns, fp),
                    tsc_deadline(987_654_321, ns, fp),
                    apic_count(ns, hz),
                );
                assert!(
                    now.0 >= last.0,
                    "ns_to_ticks not monotonic at hz={hz} ns={ns}"
                );
                assert!(
                    now.1 >= last.1,
                    "ns_to_ticks_ceil not monotonic at hz={hz} ns={ns}"
                );
                assert!(
                    now.2 >= last.2,
                    "ns_to_cycles_ceil not monotonic at hz={hz} ns={ns}"
                );
                assert!(
                    now.3 >= last.3,
                    "tsc_deadline not monotonic at hz={hz} ns={ns}"
                );
                assert!(
                    now.4 >= last.4,
                    "apic_count not monotonic at hz={hz} ns={ns}"
                );
                last = now;
            }
            let mut last = 0;
            for &c in &v {
                let ns = cycles_to_ns(c, fp);
                assert!(ns >= last, "cycles_to_ns not monotonic at hz={hz} c={c}");
                last = ns;
            }
        }
    }

    #[test]
    fn ceil_rounding_small_values() {
        for hz in RATES {
            for ns in 0..5000u64 {
                let c = ns_to_ticks_ceil(ns, hz);
                // c ticks last at least ns, c - 1 ticks less than ns.
                assert!(
                    c as u128 * NS_PER_SEC >= ns as u128 * hz as u128,
                    "hz={hz} ns={ns}"
                );
                if c > 0 {
                    assert!(
                        ((c - 1) as u128) * NS_PER_SEC < ns as u128 * hz as u128,
                        "hz={hz} ns={ns}"
                    );
                }
                let f = ns_to_ticks(ns, hz);
                assert!(f == c || f + 1 == c, "hz={hz} ns={ns}: floor {f} ceil {c}");
            }
            assert_eq!(ns_to_ticks_ceil(0, hz), 0);
            assert_eq!(apic_count(0, hz), 1, "a zero count would stop the timer");
        }
        // Round rates give round results.
        assert_eq!(ns_to_ticks_ceil(1, 2_000_000_000), 2);
        assert_eq!(ns_to_ticks_ceil(1, 2_500_000_000), 3);
        assert_eq!(ns_to_ticks_ceil(2, 2_500_000_000), 5);
        assert_eq!(ns_to_ticks_ceil(1_000, 3_500_000_000), 3_500);
        assert_eq!(ns_to_ticks_ceil(1, 2_123_456_789), 3);
        assert_eq!(ns_to_ticks(1, 2_123_456_789), 2);
        assert_eq!(apic_count(1_000_000, 1_000_000_000), 1_000_000);
    }

    /// A TSC deadline fires exactly when `now_ns` (cycles_to_ns of the TSC
    /// since boot) reaches the deadline: not a cycle before, not after.
    #[test]
    fn tsc_deadline_is_the_exact_inverse_of_now_ns() {
        let boot = 1_234_567_890_123u64;
        let mut ns_values: Vec<u64> = (0..3000).collect();
        ns_values.extend([
            1_000_000,
            1_000_001,
            200_000_000,
            3_600_000_000_000,      // an hour
            86_400_000_000_000,     // a day
            31_536_000_000_000_000, // a year
            1 << 60,
        ]);
        for hz in RATES {
            let fp = ns_per_cycle_fp32(hz);
            for &ns in &ns_values {
                let d = tsc_deadline(boot, ns, fp);
                let since = d - boot;
                assert!(
                    cycles_to_ns(since, fp) >= ns,
                    "hz={hz} ns={ns}: fires early"
                );
                if ns > 0 {
                    assert!(
                        cycles_to_ns(since - 1, fp) < ns,
                        "hz={hz} ns={ns}: could have fired a cycle sooner"
                    );
                }
            }
        }
    }

    #[test]
    fn cycles_to_ns_saturates_and_matches_the_rate() {
        for hz in RATES {
            let fp = ns_per_cycle_fp32(hz);
            // One second of cycles is one second, to one part in 10^9.
            let s = cycles_to_ns(hz, fp);
            assert!((999_999_998..=1_000_000_000).contains(&s), "hz={hz}: {s}");
            assert!(cycles_to_ns(u64::MAX, fp) >= u64::MAX / 6, "hz={hz}");
        }
        // A slow clock: u64::MAX cycles are more ns than u64 holds.
        assert_eq!(
            cycles_to_ns(u64::MAX, ns_per_cycle_fp32(100_000_000)),
            u64::MAX
        );
        assert_eq!(ns_per_cycle_fp32(0), 0);
        assert_eq!(cycles_to_ns(12345, 0), 0);
        assert_eq!(ns_to_cycles_ceil(5, 0), u64::MAX);
        assert_eq!(ns_to_cycles_ceil(0, 0), 0);
    }
}
