//! The shell's commands. Each takes the words after its name and prints
//! its output; `Err` is the one-line error the shell prints before the
//! next prompt. They run on the shell's goroutine (a system goroutine),
//! so a long one (`bench`) holds the prompt until it returns; `run` starts
//! its demo on a goroutine of its own and returns at once.
use alloc::format;
use alloc::string::String;
use core::sync::atomic::Ordering;

use super::demo;
use crate::arch::{self, percpu};
use crate::sched::{self, tracing};
use crate::{bench, println};

/// One command: its name, its argument synopsis, what it does.
struct Command {
    name: &'static str,
    args: &'static str,
    about: &'static str,
    run: fn(&str) -> Result<(), String>,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        args: "",
        about: "this list, the keys, the demos",
        run: help,
    },
    Command {
        name: "ps",
        args: "",
        about: "every user goroutine with its traceback (Go's SIGQUIT dump)",
        run: ps,
    },
    Command {
        name: "sched",
        args: "",
        about: "a schedtrace line, then per-P and per-M counters",
        run: sched_cmd,
    },
    Command {
        name: "cpus",
        args: "",
        about: "the CPUs (Ms): APIC id, P, halted or running, timer ticks",
        run: cpus,
    },
    Command {
        name: "mem",
        args: "",
        about: "read_mem_stats: frames, heap, stacks, goroutines, timers",
        run: mem,
    },
    Command {
        name: "run",
        args: "DEMO [key=value...]",
        about: "start a demo on its own goroutines (one at a time; Ctrl-C cancels)",
        run,
    },
    Command {
        name: "bench",
        args: "[NAME]",
        about: "run one workload of `make bench` (no NAME: list them)",
        run: bench_cmd,
    },
    Command {
        name: "gomaxprocs",
        args: "[N]",
        about: "show or set the number of Ps, live (runtime.GOMAXPROCS)",
        run: gomaxprocs,
    },
    Command {
        name: "trace",
        args: "start|stop",
        about: "the execution tracer (stream to the debug console: make trace)",
        run: trace,
    },
    Command {
        name: "prof",
        args: "start [HZ]|stop",
        about: "the CPU profiler (default 100 Hz; make prof)",
        run: prof,
    },
    Command {
        name: "knob",
        args: "NAME=VALUE",
        about: "set a scheduler history knob where that is safe live",
        run: knob,
    },
    Command {
        name: "halt",
        args: "",
        about: "power off (status 0)",
        run: halt,
    },
];

/// Runs one line: `Ok` or the one-line error.
pub fn dispatch(line: &str) -> Result<(), String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(());
    }
    let (name, rest) = match line.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (line, ""),
    };
    match COMMANDS.iter().find(|c| c.name == name) {
        Some(c) => (c.run)(rest),
        None => Err(format!(
            "unknown command `{name}` (`help` lists the commands)"
        )),
    }
}

fn no_args(cmd: &str, args: &str) -> Result<(), String> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(format!("{cmd}: takes no arguments (got `{args}`)"))
    }
}

fn help(args: &str) -> Result<(), String> {
    no_args("help", args)?;
    println!("commands:");
    for c in COMMANDS {
        let synopsis = if c.args.is_empty() {
            String::from(c.name)
        } else {
            format!("{} {}", c.name, c.args)
        };
        println!("  {synopsis:<26} {}", c.about);
    }
    println!(
        "keys: Backspace edits, Up/Down walk the history, Ctrl-C cancels the line (on an empty \
         line: the running demo), Ctrl-\\ prints every goroutine's traceback, Ctrl-A x quits QEMU"
    );
    let demos = demo::all();
    if demos.is_empty() {
        println!("demos: none in this kernel");
    } else {
        println!("demos:");
        for d in demos {
            println!("  {:<26} {}", d.name, d.about);
        }
    }
    Ok(())
}

fn ps(args: &str) -> Result<(), String> {
    no_args("ps", args)?;
    println!(
        "ps: {} user goroutine(s), {} parked",
        sched::num_goroutine(),
        sched::schedt::nwaiting()
    );
    sched::dump::dump_all();
    Ok(())
}

fn sched_cmd(args: &str) -> Result<(), String> {
    no_args("sched", args)?;
    sched::schedtrace::print_trace(false);
    sched::dump::print_sched_state();
    println!("knobs: {}", sched::knobs::describe());
    println!(
        "deadlock: reports={} (report-only while the shell is up)",
        sched::deadlock::reports()
    );
    Ok(())
}

fn cpus(args: &str) -> Result<(), String> {
    no_args("cpus", args)?;
    let mut buf = [0u8; 48];
    println!(
        "cpus: {} online, gomaxprocs={}, {} ({} APIC)",
        arch::smp::ncpu(),
        sched::gomaxprocs(),
        arch::cpuinfo::model(&mut buf),
        if arch::apic::is_x2apic() {
            "x2APIC"
        } else {
            "xAPIC"
        }
    );
    for i in 0..arch::smp::ncpu() {
        let m = sched::m::m(i);
        println!(
            "  cpu {i}: apic_id={} M{i} {} P={} timer_ticks={}",
            percpu::cpu(i).apic_id.load(Ordering::Relaxed),
            if m.is_halted() { "halted" } else { "running" },
            if i < sched::gomaxprocs() {
                format!("{i}")
            } else {
                String::from("none")
            },
            arch::timer::ticks(i),
        );
    }
    Ok(())
}

fn mem(args: &str) -> Result<(), String> {
    no_args("mem", args)?;
    let s = crate::read_mem_stats();
    println!(
        "mem: frames {} free of {} ({} MiB of {} MiB); heap {} KiB in use of {} KiB; stacks {} KiB mapped",
        s.frames_free,
        s.frames_total,
        (s.frames_free * 4096) >> 20,
        (s.frames_total * 4096) >> 20,
        s.heap_in_use >> 10,
        s.heap_size >> 10,
        s.stack_mapped >> 10,
    );
    println!(
        "mem: goroutines {} (Gs allocated {}), timers {}",
        s.goroutines, s.goroutines_allocated, s.timers
    );
    Ok(())
}

fn run(args: &str) -> Result<(), String> {
    let (name, rest) = match args.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (args, ""),
    };
    if name.is_empty() {
        let names: alloc::vec::Vec<&str> = demo::all().iter().map(|d| d.name).collect();
        return Err(format!(
            "run: which demo? (run DEMO [key=value...]; demos: {})",
            if names.is_empty() {
                String::from("none")
            } else {
                names.join(", ")
            }
        ));
    }
    demo::start(name, rest)
}

fn bench_cmd(args: &str) -> Result<(), String> {
    if args.is_empty() {
        let names: alloc::vec::Vec<&str> = bench::WORKLOADS.iter().map(|w| w.name).collect();
        println!(
            "bench: workloads: {} (bench NAME runs one, as `make bench BENCH=NAME` does; the shell waits for it)",
            names.join(", ")
        );
        return Ok(());
    }
    if args.contains(char::is_whitespace) {
        return Err(format!("bench: one workload name, got `{args}`"));
    }
    let w = bench::find(args)
        .ok_or_else(|| format!("bench: no workload `{args}` (`bench` lists them)"))?;
    if w.fresh_boot {
        println!(
            "bench: `{}` is meant for a fresh boot (make bench boots one per run); figures here include this kernel's history",
            w.name
        );
    }
    bench::run(w, None);
    Ok(())
}

fn gomaxprocs(args: &str) -> Result<(), String> {
    let ncpu = arch::smp::ncpu();
    if args.is_empty() {
        println!("gomaxprocs={} (CPUs: {ncpu})", sched::gomaxprocs());
        return Ok(());
    }
    let n: usize = args
        .parse()
        .map_err(|_| format!("gomaxprocs: `{args}` is not a number (1..={ncpu})"))?;
    if n == 0 || n > ncpu {
        return Err(format!("gomaxprocs: {n} is out of range (1..={ncpu})"));
    }
    let old = sched::set_gomaxprocs(n);
    println!("gomaxprocs: {old} -> {n}");
    Ok(())
}

fn trace(args: &str) -> Result<(), String> {
    match args {
        "start" if tracing::trace_start() => {
            println!("trace: on (the stream goes to the debug console; `make trace` saves it)");
            Ok(())
        }
        "start" => Err(String::from("trace: already on")),
        "stop" if tracing::trace_stop() => {
            println!("trace: off");
            Ok(())
        }
        "stop" => Err(String::from("trace: not on")),
        _ => Err(format!("trace: expected `start` or `stop`, got `{args}`")),
    }
}

fn prof(args: &str) -> Result<(), String> {
    let mut w = args.split_whitespace();
    match (w.next(), w.next(), w.next()) {
        (Some("start"), hz, None) => {
            let hz: u32 = match hz {
                None => 100,
                Some(h) => match h.parse() {
                    Ok(n) if (1..=10_000).contains(&n) => n,
                    _ => return Err(format!("prof: HZ must be 1..=10000, got `{h}`")),
                },
            };
            if tracing::start_cpu_profile(hz) {
                println!("prof: sampling at {hz} Hz (to the debug console; `make prof` saves it)");
                Ok(())
            } else {
                Err(String::from("prof: already on"))
            }
        }
        (Some("stop"), None, None) if tracing::stop_cpu_profile() => {
            println!("prof: off");
            Ok(())
        }
        (Some("stop"), None, None) => Err(String::from("prof: not on")),
        _ => Err(format!(
            "prof: expected `start [HZ]` or `stop`, got `{args}`"
        )),
    }
}

fn knob(args: &str) -> Result<(), String> {
    let Some((name, value)) = args.split_once('=') else {
        return Err(format!("knob: expected NAME=VALUE, got `{args}`"));
    };
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || value.is_empty() {
        return Err(format!("knob: expected NAME=VALUE, got `{args}`"));
    }
    // Live where that is safe (`sched/knobs.rs` says why for each knob);
    // `sched=` is boot-only and says so.
    sched::knobs::set(name, value)?;
    println!("knob: {name}={value}; now {}", sched::knobs::describe());
    Ok(())
}

fn halt(args: &str) -> Result<(), String> {
    no_args("halt", args)?;
    if let Some(name) = demo::current() {
        println!("halt: demo `{name}` is still running; powering off anyway");
    }
    tracing::trace_stop();
    tracing::stop_cpu_profile();
    println!("halt: powering off");
    crate::panic::exit(0)
}
