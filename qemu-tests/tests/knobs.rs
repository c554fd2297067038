//! The history knobs (`kernel/src/sched/knobs.rs`): one boot per knob,
//! each running Go's channel sieve to the right answer, with the counters
//! that show the knob took the code path it names (`sched=gm`: no ring, no
//! steal; `steal=off`: no steal; `runnext=off`: no runnext; `preempt=coop`:
//! no asynchronous preemption, a spinner yields only at safe points;
//! `preempt=off`: not even there; `spin=off`: no spinning M, no spinning
//! Mutex waiter), and live `knobs::set` round trips and errors.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gmpos::testing::sched::knobs::{self, Model, Preempt};
use gmpos::testing::sched::{counters, m, p, write_trace};
use gmpos::{Chan, Instant, Mutex, WaitGroup, chan, go, gomaxprocs, gosched, num_goroutine};
use qemu_tests::sieve;

gmpos::qemu_test! {
    config: "
        smp=2
        timeout=120
        variants=sched=gm | steal=off preempt=off | runnext=off spin=off | preempt=coop
    ",
}

/// Per-P counters summed over the Ps in use.
#[derive(Debug, Default, Clone, Copy)]
struct Use {
    steals: u64,
    ring_puts: u64,
    runnext_puts: u64,
    spinning_starts: u64,
    mutex_spins: u64,
    /// Ms that took their idle P back because they saw work (idle.rs's
    /// delicate dance, `Woken::Recheck`).
    idle_rechecks: u64,
}

fn usage() -> Use {
    let mut u = Use::default();
    for i in 0..gmpos::num_cpu() {
        let c = &p(i).counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        u.steals += get(&c.steals);
        u.ring_puts += get(&c.ring_puts);
        u.runnext_puts += get(&c.runnext_puts);
        u.spinning_starts += get(&c.spinning_starts);
        u.mutex_spins += get(&c.mutex_spins);
        u.idle_rechecks += get(&m(i).idle_rechecks);
    }
    u
}

/// The boot's knobs are the command line's, and the banner's and
/// schedtrace's `knobs` field shows the non-default ones.
#[gmpos::test]
fn knobs_come_from_the_command_line_and_show_in_schedtrace() {
    let k = knobs::current();
    assert_eq!(k, gmpos::config().knobs());
    assert_ne!(k, knobs::Knobs::DEFAULT, "every boot sets one knob");
    assert_eq!(knobs::describe(), alloc::format!("{k}"));
    let mut line = String::new();
    write_trace(&mut line, false).unwrap();
    // The same `name:value,...` form as the `preempt=` field.
    let field: String = alloc::format!("{}", k.non_default())
        .chars()
        .map(|c| match c {
            '=' => ':',
            ' ' => ',',
            c => c,
        })
        .collect();
    let want = alloc::format!(" knobs={field}");
    assert!(line.trim_end().ends_with(&want), "{line:?} lacks {want:?}");
    gmpos::test_note!("{}", line.trim_end());
}

#[gmpos::test]
fn sieve_finds_the_500th_prime_and_the_counters_follow_the_knob() {
    let g0 = num_goroutine();
    let t = Instant::now();
    let primes = sieve(500, 3571);
    assert_eq!(&primes[..5], &[2, 3, 5, 7, 11]);
    assert_eq!(primes[499], 3571);
    while num_goroutine() > g0 {
        gosched();
    }
    let u = usage();
    // What the command line asked for (not the knobs' own getters, so that
    // a knob the scheduler ignores cannot pass).
    let k = gmpos::config().knobs();
    gmpos::test_note!("{} in {:?}: {u:?}", knobs::describe(), t.elapsed());
    // Counted since boot: the knob held for the whole run.
    if k.model == Model::Gm {
        assert_eq!(u.steals, 0, "sched=gm stole");
        assert_eq!(
            (u.ring_puts, u.runnext_puts),
            (0, 0),
            "sched=gm used a P-local queue"
        );
        assert_eq!(u.spinning_starts, 0, "sched=gm: nothing to spin for");
    } else {
        assert!(
            u.ring_puts + u.runnext_puts > 0,
            "the local queues were not used"
        );
    }
    if !k.steal {
        assert_eq!(u.steals, 0, "steal=off stole");
        // An idle M must not keep taking its P back for work in another
        // P's ring that it may not steal (measured: 0 rechecks; 1.1 million
        // when halt.rs's `any_work` still counted other rings).
        assert!(
            u.idle_rechecks < 1000,
            "steal=off: {} idle rechecks",
            u.idle_rechecks
        );
        assert_eq!(u.spinning_starts, 0, "steal=off: nothing to spin for");
    }
    if !k.runnext {
        assert_eq!(u.runnext_puts, 0, "runnext=off used runnext");
        assert!(u.ring_puts > 0);
    }
    if !k.spin {
        assert_eq!(u.spinning_starts, 0, "spin=off: an M became spinning");
    }
}

/// Two goroutines on two Ps contend for one Mutex: by default waiters spin
/// a few rounds first (the holder is running); with `spin=off` never.
#[gmpos::test]
fn mutex_waiters_spin_only_with_spin_on() {
    let before = usage().mutex_spins;
    let m = Arc::new(Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    for _ in 0..2 {
        let (m, wg) = (m.clone(), wg.clone());
        go(move || {
            for _ in 0..20_000 {
                let mut g = m.lock();
                *g += 1;
                for _ in 0..20 {
                    core::hint::spin_loop();
                }
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(*m.lock(), 40_000);
    let spins = usage().mutex_spins - before;
    gmpos::test_note!("{spins} Mutex spin rounds ({})", knobs::describe());
    if !gmpos::config().knobs().spin {
        assert_eq!(spins, 0, "spin=off: a Mutex waiter spun");
    }
}

/// How far a ticker goroutine (`count += 1; gosched()`, on the same single
/// P) gets while a spinner holds the CPU for `spin_ms` of clock time;
/// `safe_points`: the spinner passes a cooperative safe point (a buffered
/// channel's send and receive) on every round, else it calls nothing.
fn ticker_progress_during_spin(spin_ms: u64, safe_points: bool) -> u64 {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(u64::MAX));
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    {
        let (count, stop, wg) = (count.clone(), stop.clone(), wg.clone());
        go(move || {
            while !stop.load(Ordering::Relaxed) {
                count.fetch_add(1, Ordering::Relaxed);
                gosched();
            }
            wg.done();
        });
    }
    {
        let (count, stop, progress, wg) =
            (count.clone(), stop.clone(), progress.clone(), wg.clone());
        go(move || {
            let c: Chan<u8> = chan(1);
            let start = count.load(Ordering::Relaxed);
            let t = Instant::now();
            while t.elapsed().as_millis() < spin_ms as u128 {
                if safe_points {
                    c.send(1);
                    c.recv();
                } else {
                    core::hint::spin_loop();
                }
            }
            progress.store(count.load(Ordering::Relaxed) - start, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    progress.load(Ordering::Relaxed)
}

/// One P, a ticker and a spinner that holds the CPU for 3 slices (30 ms):
/// - `async`: the spinner is preempted anywhere, so the ticker gets on
///   even while the spinner calls nothing;
/// - `coop`: never asynchronously (zero async preemptions since boot); the
///   ticker gets on only while the spinner passes safe points;
/// - `off`: the ticker does not get on at all until the spinner is done.
#[gmpos::test]
fn preemption_follows_the_knob() {
    let old = gmpos::set_gomaxprocs(1);
    assert_eq!(gomaxprocs(), 1);
    let (a0, c0, _) = counters();
    let bare = ticker_progress_during_spin(30, false);
    let (a1, c1, _) = counters();
    let with_safe_points = ticker_progress_during_spin(30, true);
    let (a2, c2, _) = counters();
    gmpos::set_gomaxprocs(old);
    gmpos::test_note!(
        "{}: ticker rounds during a bare spin {bare} (async preemptions {}, coop {}), during a spin through safe points {with_safe_points} (async {}, coop {})",
        knobs::describe(),
        a1 - a0,
        c1 - c0,
        a2 - a1,
        c2 - c1
    );
    match gmpos::config().knobs().preempt {
        Preempt::Async => {
            assert!(bare > 0, "async: the bare spinner was not preempted");
            assert!(a1 > a0, "async: no asynchronous preemption");
        }
        Preempt::Coop => {
            assert_eq!(a2, 0, "coop: an asynchronous preemption since boot");
            assert_eq!(
                bare, 0,
                "coop: the ticker ran while the spinner called nothing"
            );
            assert!(
                with_safe_points > 0,
                "coop: the spinner did not yield at its safe points"
            );
            assert!(c2 > c1, "coop: no cooperative preemption counted");
        }
        Preempt::Off => {
            assert_eq!((a2, c2), (0, 0), "off: a preemption since boot");
            assert_eq!(
                (bare, with_safe_points),
                (0, 0),
                "off: the ticker ran during a spin"
            );
        }
    }
}

#[gmpos::test]
fn live_set_round_trips_and_errors_name_the_problem() {
    let boot = knobs::current();
    for (name, value) in [
        ("steal", "off"),
        ("runnext", "off"),
        ("preempt", "coop"),
        ("spin", "off"),
        ("slice", "3ms"),
    ] {
        knobs::set(name, value).unwrap();
        let want = alloc::format!("{name}={value}");
        assert!(
            knobs::describe().contains(&want),
            "{} lacks {want}",
            knobs::describe()
        );
    }
    assert_eq!(
        knobs::describe(),
        alloc::format!(
            "sched={} steal=off runnext=off preempt=coop slice=3ms spin=off",
            if boot.model == Model::Gm { "gm" } else { "gmp" }
        )
    );
    // The scheduler runs on with them: a short sieve.
    assert_eq!(sieve(50, 229)[49], 229);
    assert_eq!(
        knobs::set("sched", "gmp").unwrap_err(),
        "knob sched: only settable on the kernel command line"
    );
    assert!(
        knobs::set("stealing", "on")
            .unwrap_err()
            .starts_with("knob stealing: unknown knob")
    );
    assert_eq!(
        knobs::set("preempt", "signal").unwrap_err(),
        "knob preempt: bad value `signal`: expected async, coop or off"
    );
    assert!(
        knobs::set("slice", "10")
            .unwrap_err()
            .contains("knob slice: bad value `10`")
    );
    // Back to the boot's values, one knob at a time.
    let on_off = |b: bool| if b { "on" } else { "off" };
    let preempt = match boot.preempt {
        Preempt::Async => "async",
        Preempt::Coop => "coop",
        Preempt::Off => "off",
    };
    let slice = alloc::format!("{}us", boot.slice_ns / 1000);
    for (name, value) in [
        ("steal", on_off(boot.steal)),
        ("runnext", on_off(boot.runnext)),
        ("preempt", preempt),
        ("spin", on_off(boot.spin)),
        ("slice", slice.as_str()),
    ] {
        knobs::set(name, value).unwrap();
    }
    assert_eq!(knobs::current(), boot);
}
