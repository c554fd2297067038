//! Go's `GODEBUG=schedtrace=X,scheddetail=1` (`schedtrace=20 scheddetail=1`
//! on the command line): the lines parse with Go's grammar, gmpos's extras
//! come after Go's fields, `scheddetail` prints one line per P (and per M),
//! and the system goroutine on its timer prints them by itself (checked on
//! the serial output: expected-failure test, it ends with a panic).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use gmpos::testing::sched::{nwaiting, write_trace};

gmpos::qemu_test! {
    config: "
        smp=2
        args=schedtrace=20 scheddetail=1
        expect=gmpos-test: ok schedtrace_lines_parse_with_gos_grammar
        expect=SCHED
        expect=^  P0: status=
        expect=^  P1: status=
        expect=^  M0: p=0
        expect=panic: schedtrace printed on its own
    ",
}

/// `key=value` with a decimal value, or a test failure naming the field.
fn field<'a>(words: &mut impl Iterator<Item = &'a str>, key: &str) -> i64 {
    let w = words.next().unwrap_or_else(|| panic!("missing `{key}=`"));
    let v = w
        .strip_prefix(key)
        .and_then(|r| r.strip_prefix('='))
        .unwrap_or_else(|| panic!("expected `{key}=`, got `{w}`"));
    v.parse()
        .unwrap_or_else(|_| panic!("`{key}={v}` is not a number"))
}

/// Go's line: `SCHED <n>ms: gomaxprocs=N idleprocs=N threads=N
/// spinningthreads=N needspinning=N idlethreads=N runqueue=N [N N ...]`,
/// then gmpos's extras.
fn parse_sched_line(line: &str, procs: usize) {
    let rest = line.strip_prefix("SCHED ").expect("starts with `SCHED `");
    let (ms, rest) = rest.split_once("ms: ").expect("`<n>ms: `");
    ms.parse::<u64>().expect("the time is a number of ms");
    let (go, extras) = rest.split_once(" [").expect("the local queues in [...]");
    let mut w = go.split(' ');
    assert_eq!(field(&mut w, "gomaxprocs"), procs as i64);
    let idle = field(&mut w, "idleprocs");
    assert!((0..=procs as i64).contains(&idle));
    assert_eq!(field(&mut w, "threads"), gmpos::num_cpu() as i64);
    for k in ["spinningthreads", "needspinning", "idlethreads", "runqueue"] {
        assert!(field(&mut w, k) >= 0);
    }
    assert!(w.next().is_none(), "Go's fields end before the queues");
    let (queues, extras) = extras.split_once("] ").expect("`] ` then the extras");
    assert_eq!(queues.split(' ').count(), procs, "one queue length per P");
    assert!(queues.split(' ').all(|q| q.parse::<u32>().is_ok()));
    let mut w = extras.split(' ');
    assert!(field(&mut w, "steals") >= 0);
    let p = w.next().expect("preempt=");
    let p = p
        .strip_prefix("preempt=async:")
        .expect("preempt=async:A,coop:C");
    let (a, c) = p.split_once(",coop:").expect("preempt=async:A,coop:C");
    assert!(a.parse::<u64>().is_ok() && c.parse::<u64>().is_ok());
    assert!(field(&mut w, "goroutines") >= 1);
    assert!(field(&mut w, "waiting") >= 0);
}

#[gmpos::test]
fn schedtrace_lines_parse_with_gos_grammar() {
    // Something to see: goroutines sleeping.
    let parked = nwaiting();
    for _ in 0..3 {
        gmpos::go(|| gmpos::sleep(Duration::from_millis(200)));
    }
    // Until they sleep: at smp=2 the other CPU may still be starting them
    // when the trace is written (a loaded host made that a flake).
    while nwaiting() < parked + 3 {
        gmpos::gosched();
    }
    let mut s = String::new();
    write_trace(&mut s, true).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    let procs = gmpos::gomaxprocs();
    parse_sched_line(lines[0], procs);
    let ps: Vec<&&str> = lines.iter().filter(|l| l.starts_with("  P")).collect();
    assert_eq!(ps.len(), procs, "scheddetail: one line per P");
    for (i, l) in ps.iter().enumerate() {
        let rest = l
            .strip_prefix(&alloc::format!("  P{i}: "))
            .expect("`  P<i>: `");
        let mut w = rest.split(' ');
        for k in [
            "status",
            "schedtick",
            "syscalltick",
            "m",
            "runqsize",
            "gfreecnt",
            "timerslen",
        ] {
            field(&mut w, k);
        }
    }
    let ms = lines.iter().filter(|l| l.starts_with("  M")).count();
    assert_eq!(ms, gmpos::num_cpu(), "scheddetail: one line per M");
    let gs: Vec<&&str> = lines.iter().filter(|l| l.starts_with("  G")).collect();
    assert!(gs.len() >= 4, "main and the sleepers: {gs:?}");
    assert!(
        gs.iter().any(|l| l.contains("status=4(sleep)")),
        "a sleeper as Go shows it: {gs:?}"
    );
}

#[gmpos::test]
fn the_system_goroutine_prints_on_its_timer() {
    // 20 ms periods: a few traces while main sleeps; the runner checks them.
    gmpos::sleep(Duration::from_millis(70));
    panic!("schedtrace printed on its own");
}
