//! `gmpos-trace`: the host side of gmpos's execution tracer and CPU
//! profiler. It reads the stream the kernel writes to the debug console
//! (`make trace` / `make prof` save it under `target/trace/`) and writes
//! Chrome/Perfetto trace-event JSON, a PNG timeline, a top-N profile and
//! folded stacks.
//!
//! ```text
//! gmpos-trace trace STREAM OUT_PREFIX     OUT_PREFIX.json and OUT_PREFIX.png
//! gmpos-trace check STREAM [--unblocks N] [--steals N] [--preempts N]
//! gmpos-trace prof STREAM [--elf KERNEL] [--top N] [--folded FILE] [--expect-top FUNC]
//! ```
mod check;
mod json;
mod model;
mod png;
mod prof;
mod symbol;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use model::Trace;

const USAGE: &str = "usage:
  gmpos-trace trace STREAM OUT_PREFIX   write OUT_PREFIX.json (Perfetto) and OUT_PREFIX.png
  gmpos-trace check STREAM [--unblocks N] [--steals N] [--preempts N]
  gmpos-trace prof STREAM [--elf KERNEL] [--top N] [--folded FILE] [--expect-top FUNC]
STREAM is the file the runner wrote ($GMPOS_TRACE_OUT); KERNEL defaults to
the ELF named in STREAM.kernel.";

fn load(path: &str) -> Result<Trace, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Trace::from_bytes(&bytes).map_err(|e| format!("{path}: {e}"))
}

fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn num(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    opt(args, name).map_or(Ok(default), |v| {
        v.parse().map_err(|_| format!("{name}: not a number: {v}"))
    })
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, stream, out, ..] if cmd == "trace" => {
            let t = load(stream)?;
            let json = format!("{out}.json");
            let png = PathBuf::from(format!("{out}.png"));
            let text = serde_json::to_string(&json::to_json(&t)).map_err(|e| e.to_string())?;
            std::fs::write(&json, text).map_err(|e| format!("{json}: {e}"))?;
            png::write_png(&t, &png)?;
            println!(
                "gmpos-trace: {} goroutine runs on {} CPUs, {} flows, {} marks, {} dropped, {} inconsistencies -> {json}, {}",
                t.slices.len(),
                t.ncpu,
                t.flows.len(),
                t.marks.len(),
                t.dropped,
                t.errors.len(),
                png.display()
            );
            Ok(())
        }
        [cmd, stream, rest @ ..] if cmd == "check" => {
            let t = load(stream)?;
            let want = check::Want {
                unblocks: num(rest, "--unblocks", 0)?,
                steals: num(rest, "--steals", 0)?,
                preempts: num(rest, "--preempts", 0)?,
            };
            let bad = check::check(&t, &want);
            for b in &bad {
                eprintln!("gmpos-trace check: {b}");
            }
            if !bad.is_empty() {
                return Err(format!("{stream}: {} check(s) failed", bad.len()));
            }
            println!(
                "gmpos-trace check: ok: {} goroutine runs on {} CPUs, {} unblock flows, {} steals, dropped 0",
                t.slices.len(),
                t.ncpu,
                t.flows.iter().filter(|f| f.name == "unblock").count(),
                t.flows.iter().filter(|f| f.name == "steal").count()
            );
            Ok(())
        }
        [cmd, stream, rest @ ..] if cmd == "prof" => {
            let t = load(stream)?;
            let elf = match opt(rest, "--elf") {
                Some(e) => PathBuf::from(e),
                None => {
                    let side = format!("{stream}.kernel");
                    PathBuf::from(
                        std::fs::read_to_string(&side)
                            .map_err(|e| format!("{side}: {e} (give --elf KERNEL)"))?
                            .trim(),
                    )
                }
            };
            let sym = symbol::Symbolizer::load(Path::new(&elf))?;
            let mut cache = std::collections::HashMap::new();
            let mut resolve = |pc: u64, exact: bool| {
                cache
                    .entry((pc, exact))
                    .or_insert_with(|| sym.functions(pc, exact))
                    .clone()
            };
            let p = prof::build(&t.samples, &mut resolve);
            print!("{}", p.top(num(rest, "--top", 20)?));
            if let Some(f) = opt(rest, "--folded") {
                std::fs::write(f, p.folded_text()).map_err(|e| format!("{f}: {e}"))?;
                println!("gmpos-trace: folded stacks -> {f}");
            }
            if let Some(want) = opt(rest, "--expect-top") {
                match p.rows.first() {
                    Some((f, _, _)) if f.contains(want) => {}
                    other => {
                        return Err(format!(
                            "top function is {:?}, expected one named like `{want}`",
                            other.map(|r| &r.0)
                        ));
                    }
                }
            }
            if p.total == 0 {
                return Err("no samples in the stream".into());
            }
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gmpos-trace: {e}");
            ExitCode::FAILURE
        }
    }
}
