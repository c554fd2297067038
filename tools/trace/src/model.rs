//! The stream, read back: records in time order, then the timeline built
//! from them (per-CPU goroutine slices, idle spans, flows, instants) and
//! the profile samples. Inconsistencies are collected, not fatal: `check`
//! reports them, the renderers draw what there is.
use std::collections::{BTreeMap, HashMap};

use gmpos::trace::event::{Kind, MAGIC, RECORD_BYTES, Record, WHAT_PROF, WHAT_TRACE};

/// A goroutine's run on a CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub cpu: usize,
    pub goid: u64,
    pub start: u64,
    pub end: u64,
    /// Why it ended: "sched", "yield", "preempt (async)", "block: ...", ...
    pub why: String,
}

/// An arrow between two CPUs' lanes (an unblock, a steal).
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: &'static str,
    pub goid: u64,
    pub from_cpu: usize,
    pub from_ts: u64,
    pub to_cpu: usize,
    pub to_ts: u64,
}

/// A mark on a CPU's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub cpu: usize,
    pub ts: u64,
    pub name: String,
    pub goid: u64,
}

/// One profile sample: PC first, then return addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub cpu: usize,
    pub goid: u64,
    pub pcs: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Trace {
    pub tsc_hz: u64,
    pub ncpu: usize,
    pub t0: u64,
    pub t1: u64,
    pub slices: Vec<Slice>,
    /// (cpu, start, end) spans a P was idle.
    pub idle: Vec<(usize, u64, u64)>,
    pub flows: Vec<Flow>,
    pub marks: Vec<Mark>,
    pub names: BTreeMap<u64, String>,
    pub samples: Vec<Sample>,
    pub prof_hz: u32,
    pub dropped: u64,
    /// Recordings whose end was seen (WHAT_TRACE, WHAT_PROF).
    pub ended: Vec<u16>,
    pub errors: Vec<String>,
}

/// Splits a stream into records (a partial last record is an error).
pub fn records(bytes: &[u8]) -> Result<Vec<Record>, String> {
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(format!(
            "stream of {} bytes is not a whole number of {RECORD_BYTES}-byte records",
            bytes.len()
        ));
    }
    let recs: Vec<Record> = bytes
        .as_chunks::<RECORD_BYTES>()
        .0
        .iter()
        .map(Record::from_bytes)
        .collect();
    match recs.first() {
        Some(r) if r.kind == Kind::Header as u8 && r.b == MAGIC => Ok(recs),
        Some(_) => Err("not a gmpos trace stream (no GMPTRC01 header)".into()),
        None => Err("empty stream".into()),
    }
}

fn wait_reason(r: u16) -> &'static str {
    // The kernel's `WaitReason` order (sched/g.rs), with Go's strings.
    const NAMES: [&str; 17] = [
        "",
        "chan receive",
        "chan send",
        "chan receive (nil chan)",
        "chan send (nil chan)",
        "select",
        "select (no cases)",
        "sleep",
        "sync.Mutex.Lock",
        "sync.RWMutex.RLock",
        "sync.RWMutex.Lock",
        "sync.WaitGroup.Wait",
        "sync.Cond.Wait",
        "sync.Once.Do",
        "semacquire",
        "preempted",
        "park",
    ];
    NAMES.get(r as usize).copied().unwrap_or("?")
}

impl Trace {
    pub fn from_bytes(bytes: &[u8]) -> Result<Trace, String> {
        Ok(Trace::build(&records(bytes)?))
    }

    pub fn build(recs: &[Record]) -> Trace {
        let mut t = Trace::default();
        // Names and sample frames travel in the records right after theirs,
        // in stream order: gather them before sorting by time.
        let mut events: Vec<(Record, Vec<u64>)> = Vec::new();
        for r in recs {
            match Kind::from_u8(r.kind) {
                Some(Kind::GoName) => {
                    let mut b = r.a.to_le_bytes().to_vec();
                    b.extend_from_slice(&r.b.to_le_bytes());
                    b.truncate(r.small as usize);
                    t.names
                        .entry(r.aux as u64)
                        .or_default()
                        .push_str(&String::from_utf8_lossy(&b));
                }
                Some(Kind::Frames) => {
                    if let Some((last, frames)) = events.last_mut()
                        && last.kind == Kind::Sample as u8
                    {
                        frames.push(r.a);
                        if r.small > 1 {
                            frames.push(r.b);
                        }
                    }
                }
                Some(Kind::GoCreate) => {
                    // A goroutine created again (a reused G's new id) starts
                    // a new name.
                    t.names.insert(r.a, String::new());
                    events.push((*r, Vec::new()));
                }
                _ => events.push((*r, Vec::new())),
            }
        }
        events.sort_by_key(|(r, _)| r.tsc);
        let mut running: HashMap<usize, (u64, u64)> = HashMap::new();
        let mut idle_since: HashMap<usize, u64> = HashMap::new();
        // goid -> (cpu, ts) of its last unblock, waiting for its start.
        let mut unblocked: HashMap<u64, (usize, u64)> = HashMap::new();
        let mut gomaxprocs = 0usize;
        t.t0 = u64::MAX;
        for (r, frames) in &events {
            let cpu = r.cpu as usize;
            let Some(kind) = Kind::from_u8(r.kind) else {
                t.errors.push(format!("unknown record kind {}", r.kind));
                continue;
            };
            if kind != Kind::Header {
                t.t1 = t.t1.max(r.tsc);
            }
            let mut stop = |t: &mut Trace, why: String| match running.remove(&cpu) {
                Some((g, start)) if g == r.a => t.slices.push(Slice {
                    cpu,
                    goid: g,
                    start,
                    end: r.tsc,
                    why,
                }),
                Some((g, start)) => {
                    t.errors.push(format!(
                        "cpu {cpu}: goroutine {} stops ({why}) while {g} runs",
                        r.a
                    ));
                    running.insert(cpu, (g, start));
                }
                None => t.errors.push(format!(
                    "cpu {cpu}: goroutine {} stops ({why}) without a start",
                    r.a
                )),
            };
            match kind {
                Kind::Header => {
                    t.tsc_hz = r.a;
                    t.t0 = t.t0.min(r.tsc);
                    if r.small == WHAT_TRACE {
                        t.ncpu = (r.aux & 0xffff) as usize;
                        gomaxprocs = (r.aux >> 16) as usize;
                    } else if r.small == WHAT_PROF {
                        t.prof_hz = r.aux;
                    }
                }
                Kind::End => t.ended.push(r.small),
                Kind::GoCreate | Kind::GoName | Kind::Frames => {}
                Kind::GoStart => {
                    if let Some((g, _)) = running.get(&cpu) {
                        t.errors.push(format!(
                            "cpu {cpu}: goroutine {} starts while {g} runs",
                            r.a
                        ));
                    }
                    running.insert(cpu, (r.a, r.tsc));
                    if let Some((from, ts)) = unblocked.remove(&r.a) {
                        t.flows.push(Flow {
                            name: "unblock",
                            goid: r.a,
                            from_cpu: from,
                            from_ts: ts,
                            to_cpu: cpu,
                            to_ts: r.tsc,
                        });
                    }
                }
                Kind::GoSched => stop(&mut t, if r.small == 1 { "yield" } else { "sched" }.into()),
                Kind::GoPreempt => {
                    let how = if r.small == 1 { "coop" } else { "async" };
                    t.marks.push(Mark {
                        cpu,
                        ts: r.tsc,
                        name: format!("preempt ({how})"),
                        goid: r.a,
                    });
                    stop(&mut t, format!("preempt ({how})"));
                }
                Kind::GoBlock => stop(&mut t, format!("block: {}", wait_reason(r.small))),
                Kind::GoEnd => stop(&mut t, "end".into()),
                Kind::GoStopSynth => stop(&mut t, "trace stop".into()),
                Kind::GoUnblock => {
                    // The readier (b != 0) must be what runs on this CPU.
                    if r.b != 0 && running.get(&cpu).map(|x| x.0) != Some(r.b) {
                        t.errors.push(format!(
                            "cpu {cpu}: goroutine {} readies {} but {:?} runs there",
                            r.b,
                            r.a,
                            running.get(&cpu).map(|x| x.0)
                        ));
                    }
                    unblocked.insert(r.a, (cpu, r.tsc));
                }
                Kind::Steal => {
                    let victim = r.small as usize;
                    if victim == cpu || (gomaxprocs != 0 && victim >= gomaxprocs) {
                        t.errors.push(format!(
                            "cpu {cpu}: steal from P {victim} (gomaxprocs {gomaxprocs})"
                        ));
                    }
                    t.flows.push(Flow {
                        name: "steal",
                        goid: r.a,
                        from_cpu: victim,
                        from_ts: r.tsc,
                        to_cpu: cpu,
                        to_ts: r.tsc,
                    });
                    t.marks.push(Mark {
                        cpu,
                        ts: r.tsc,
                        name: format!("steal {} from P{victim}", r.b),
                        goid: r.a,
                    });
                }
                Kind::ProcStop => {
                    if r.aux == 0 {
                        idle_since.insert(cpu, r.tsc);
                    }
                }
                Kind::ProcStart => {
                    if let Some(s) = idle_since.remove(&cpu) {
                        t.idle.push((cpu, s, r.tsc));
                    }
                }
                Kind::Ipi => t.marks.push(Mark {
                    cpu,
                    ts: r.tsc,
                    name: format!(
                        "IPI to cpu {}{}",
                        r.small,
                        if r.aux == 1 { " (stw)" } else { "" }
                    ),
                    goid: 0,
                }),
                Kind::TimerFire => t.marks.push(Mark {
                    cpu,
                    ts: r.tsc,
                    name: format!("timer of P{} fires", r.small),
                    goid: r.a,
                }),
                Kind::Gomaxprocs => {
                    gomaxprocs = r.a as usize;
                    t.marks.push(Mark {
                        cpu,
                        ts: r.tsc,
                        name: format!("GOMAXPROCS {} -> {}", r.b, r.a),
                        goid: 0,
                    })
                }
                Kind::Sample => {
                    let mut pcs = vec![r.b];
                    pcs.extend_from_slice(frames);
                    t.samples.push(Sample {
                        cpu,
                        goid: r.a,
                        pcs,
                    });
                }
                Kind::Dropped => t.dropped += r.a,
            }
        }
        for (cpu, (g, _)) in running {
            t.errors.push(format!(
                "cpu {cpu}: goroutine {g} still running at the end (no end event)"
            ));
        }
        if t.t0 == u64::MAX {
            t.t0 = 0;
        }
        t.t1 = t.t1.max(t.t0);
        t.ncpu = t
            .ncpu
            .max(t.slices.iter().map(|s| s.cpu + 1).max().unwrap_or(0));
        t.slices.sort_by_key(|s| (s.cpu, s.start));
        t
    }

    /// TSC -> microseconds since the first header.
    pub fn us(&self, tsc: u64) -> f64 {
        let hz = if self.tsc_hz == 0 {
            1_000_000_000
        } else {
            self.tsc_hz
        };
        tsc.saturating_sub(self.t0) as f64 * 1e6 / hz as f64
    }

    /// `g5 counter::main::{{closure}}`.
    pub fn label(&self, goid: u64) -> String {
        match self.names.get(&goid).filter(|n| !n.is_empty()) {
            Some(n) => format!("g{goid} {n}"),
            None => format!("g{goid}"),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A canned two-CPU trace: g1 runs on cpu 0, creates g2, readies it;
    /// cpu 1 steals it; g2 is preempted; both end at trace stop.
    pub fn canned() -> Vec<u8> {
        let mut v = Vec::new();
        let mut put = |tsc: u64, kind: Kind, cpu: usize, small: u16, aux: u32, a: u64, b: u64| {
            let mut r = Record::new(kind, cpu, small, aux, a, b);
            r.tsc = tsc;
            v.extend_from_slice(&r.to_bytes());
        };
        put(
            1000,
            Kind::Header,
            0,
            WHAT_TRACE,
            2 | 2 << 16,
            1_000_000_000,
            MAGIC,
        );
        put(1000, Kind::GoCreate, 0, 1, 2, 1, 0);
        put(
            1000,
            Kind::GoName,
            0,
            4,
            1,
            u64::from_le_bytes(*b"main\0\0\0\0"),
            0,
        );
        put(1100, Kind::ProcStart, 0, 0, 0, 0, 0);
        put(1100, Kind::GoStart, 0, 0, 0, 1, 0);
        put(2000, Kind::GoCreate, 0, 0, 0, 2, 1);
        put(3000, Kind::GoUnblock, 0, 0, 0, 3, 1);
        put(3500, Kind::ProcStart, 1, 1, 3, 0, 0);
        put(4000, Kind::Steal, 1, 0, 0, 2, 1);
        put(4100, Kind::GoStart, 1, 1, 0, 2, 0);
        put(6000, Kind::GoPreempt, 1, 0, 0, 2, 0);
        put(6100, Kind::GoStart, 1, 1, 0, 3, 0);
        put(7000, Kind::GoBlock, 1, 7, 0, 3, 0);
        put(7100, Kind::GoStart, 1, 1, 0, 2, 0);
        put(9000, Kind::GoStopSynth, 0, 0, 0, 1, 0);
        put(9000, Kind::GoStopSynth, 1, 0, 0, 2, 0);
        put(9001, Kind::Dropped, 0, 0, 1, 0, 0);
        put(9001, Kind::End, 0, WHAT_TRACE, 0, 0, 0);
        v
    }

    #[test]
    fn canned_trace_builds_slices_flows_and_marks() {
        let t = Trace::from_bytes(&canned()).unwrap();
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        assert_eq!(t.ncpu, 2);
        assert_eq!(t.slices.len(), 4);
        assert_eq!(t.label(1), "g1 main");
        let s = &t.slices[1];
        assert_eq!((s.cpu, s.goid, s.start, s.end), (1, 2, 4100, 6000));
        assert_eq!(s.why, "preempt (async)");
        assert_eq!(t.slices[2].why, "block: sleep");
        let unblock = t.flows.iter().find(|f| f.name == "unblock").unwrap();
        assert_eq!((unblock.from_cpu, unblock.to_cpu, unblock.goid), (0, 1, 3));
        assert!(t.flows.iter().any(|f| f.name == "steal" && f.from_cpu == 0));
        assert!(t.marks.iter().any(|m| m.name == "preempt (async)"));
        assert_eq!(t.ended, [WHAT_TRACE]);
        assert_eq!(t.us(2000), 1.0);
    }

    #[test]
    fn inconsistencies_are_reported() {
        let mut v = canned();
        // Drop g1's synthetic end: its slice never closes.
        let cut = 14 * RECORD_BYTES;
        v.drain(cut..cut + RECORD_BYTES);
        let t = Trace::from_bytes(&v).unwrap();
        assert!(
            t.errors.iter().any(|e| e.contains("still running")),
            "{:?}",
            t.errors
        );
        assert!(Trace::from_bytes(&v[..40]).is_err());
        assert!(Trace::from_bytes(&[0u8; 32]).is_err());
    }
}
