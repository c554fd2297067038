//! Chrome/Perfetto trace-event JSON (the "JSON Array/Object Format" that
//! ui.perfetto.dev and chrome://tracing open): one track per CPU with a
//! slice per goroutine run, an idle track per CPU, flow arrows for
//! unblocks and steals, instant events for preemptions and the rest.
use serde_json::{Value, json};

use crate::model::Trace;

/// Track ids: CPU `n` is tid `n`, its P's idle spans tid `IDLE_TID + n`.
const IDLE_TID: usize = 1000;

pub fn to_json(t: &Trace) -> Value {
    let mut ev: Vec<Value> = Vec::new();
    ev.push(json!({"ph": "M", "name": "process_name", "pid": 0, "args": {"name": "gmpos"}}));
    for cpu in 0..t.ncpu {
        ev.push(
            json!({"ph": "M", "name": "thread_name", "pid": 0, "tid": cpu,
            "args": {"name": format!("cpu {cpu}")}}),
        );
        ev.push(
            json!({"ph": "M", "name": "thread_sort_index", "pid": 0, "tid": cpu,
            "args": {"sort_index": 2 * cpu}}),
        );
        ev.push(
            json!({"ph": "M", "name": "thread_name", "pid": 0, "tid": IDLE_TID + cpu,
            "args": {"name": format!("cpu {cpu} P idle")}}),
        );
        ev.push(
            json!({"ph": "M", "name": "thread_sort_index", "pid": 0, "tid": IDLE_TID + cpu,
            "args": {"sort_index": 2 * cpu + 1}}),
        );
    }
    for s in &t.slices {
        ev.push(
            json!({"ph": "X", "name": t.label(s.goid), "cat": "goroutine", "pid": 0,
            "tid": s.cpu, "ts": t.us(s.start), "dur": t.us(s.end) - t.us(s.start),
            "args": {"goid": s.goid, "end": s.why}}),
        );
    }
    for &(cpu, a, b) in &t.idle {
        ev.push(json!({"ph": "X", "name": "idle", "cat": "proc", "pid": 0,
            "tid": IDLE_TID + cpu, "ts": t.us(a), "dur": t.us(b) - t.us(a)}));
    }
    for (id, f) in t.flows.iter().enumerate() {
        ev.push(
            json!({"ph": "s", "id": id, "name": f.name, "cat": f.name, "pid": 0,
            "tid": f.from_cpu, "ts": t.us(f.from_ts), "args": {"goid": f.goid}}),
        );
        ev.push(
            json!({"ph": "f", "bp": "e", "id": id, "name": f.name, "cat": f.name,
            "pid": 0, "tid": f.to_cpu, "ts": t.us(f.to_ts), "args": {"goid": f.goid}}),
        );
    }
    for m in &t.marks {
        ev.push(
            json!({"ph": "i", "s": "t", "name": m.name, "cat": "sched", "pid": 0,
            "tid": m.cpu, "ts": t.us(m.ts), "args": {"goid": m.goid}}),
        );
    }
    json!({
        "traceEvents": ev,
        "displayTimeUnit": "ns",
        "otherData": {"dropped": t.dropped, "tsc_hz": t.tsc_hz, "errors": t.errors.len()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_trace_json_parses_with_tracks_slices_and_flows() {
        let t = Trace::from_bytes(&crate::model::tests::canned()).unwrap();
        let text = serde_json::to_string(&to_json(&t)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let ev = v["traceEvents"].as_array().unwrap();
        let count = |ph: &str| ev.iter().filter(|e| e["ph"] == ph).count();
        assert_eq!(count("X"), 4 + t.idle.len());
        assert_eq!(count("s"), t.flows.len());
        assert_eq!(count("f"), t.flows.len());
        assert!(count("i") >= 2);
        assert!(ev.iter().any(|e| e["name"] == "g1 main" && e["tid"] == 0));
        assert!(
            ev.iter()
                .any(|e| e["ph"] == "M" && e["args"]["name"] == "cpu 1")
        );
    }
}
