//! `gmpos-trace check`: the invariants a traced boot must satisfy (the
//! `make test` traced-boot test): the stream ended, nothing was dropped,
//! every start has an end (the model's errors), per-CPU slices never
//! overlap, unblock flows go from the readier's CPU to where the readied
//! goroutine starts (the model checks the readier was running there),
//! steals name a real victim (another P, below gomaxprocs), and the JSON
//! export parses back.
use crate::model::Trace;
use gmpos::trace::event::WHAT_TRACE;

/// What a check must also have seen (so a test cannot pass vacuously).
#[derive(Default)]
pub struct Want {
    pub unblocks: usize,
    pub steals: usize,
    pub preempts: usize,
}

pub fn check(t: &Trace, want: &Want) -> Vec<String> {
    let mut bad: Vec<String> = t.errors.iter().take(20).cloned().collect();
    if t.errors.len() > 20 {
        bad.push(format!("... {} inconsistencies in all", t.errors.len()));
    }
    if !t.ended.contains(&WHAT_TRACE) {
        bad.push("the trace has no end record (trace stop not reached?)".into());
    }
    if t.dropped != 0 {
        bad.push(format!("{} events dropped", t.dropped));
    }
    if t.slices.is_empty() {
        bad.push("no goroutine ran".into());
    }
    for w in t.slices.windows(2) {
        if w[0].cpu == w[1].cpu && w[1].start < w[0].end {
            bad.push(format!(
                "cpu {}: g{} [{}, {}) overlaps g{} from {}",
                w[0].cpu, w[0].goid, w[0].start, w[0].end, w[1].goid, w[1].start
            ));
        }
    }
    for s in &t.slices {
        if s.end < s.start {
            bad.push(format!("cpu {}: g{} ends before it starts", s.cpu, s.goid));
        }
    }
    let count = |name: &str| t.flows.iter().filter(|f| f.name == name).count();
    for f in t.flows.iter().filter(|f| f.name == "unblock") {
        if f.to_ts < f.from_ts {
            bad.push(format!("g{} starts before it is readied", f.goid));
        }
    }
    let preempts = t
        .marks
        .iter()
        .filter(|m| m.name.starts_with("preempt"))
        .count();
    for (what, have, need) in [
        ("unblock flows", count("unblock"), want.unblocks),
        ("steals", count("steal"), want.steals),
        ("preemptions", preempts, want.preempts),
    ] {
        if have < need {
            bad.push(format!("{have} {what}, expected at least {need}"));
        }
    }
    let text = serde_json::to_string(&crate::json::to_json(t)).unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v["traceEvents"].as_array().is_some_and(|a| !a.is_empty()) => {}
        _ => bad.push("the JSON export does not parse back".into()),
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_trace_passes_and_a_broken_one_fails() {
        let t = Trace::from_bytes(&crate::model::tests::canned()).unwrap();
        let want = Want {
            unblocks: 1,
            steals: 1,
            preempts: 1,
        };
        assert_eq!(check(&t, &want), Vec::<String>::new());
        let greedy = Want {
            steals: 5,
            ..Want::default()
        };
        assert!(check(&t, &greedy).iter().any(|e| e.contains("steals")));
        // Without its end record.
        let mut v = crate::model::tests::canned();
        v.truncate(v.len() - 64);
        let t = Trace::from_bytes(&v).unwrap();
        let errs = check(&t, &Want::default());
        assert!(errs.iter().any(|e| e.contains("no end record")), "{errs:?}");
    }
}
