//! The CPU profile (Go's pprof CPU profile, as `go tool pprof -top` and
//! flame graphs show it): symbolised samples into a top-N table (flat: the
//! sample's innermost function; cumulative: every function on its stack,
//! once per sample) and folded stacks (`outer;...;inner count`, what
//! flamegraph.pl and inferno read).
use std::collections::{BTreeMap, HashSet};

use crate::model::Sample;

/// A sample's stack, outermost first: with `inlines` one name per
/// (inlined) function, else one per real function (the outermost of a PC's
/// frames: the function whose code it is, where `pprof -noinlines` puts it).
pub fn stack(
    s: &Sample,
    inlines: bool,
    sym: &mut dyn FnMut(u64, bool) -> Vec<String>,
) -> Vec<String> {
    let mut inner_first = Vec::new();
    for (i, &pc) in s.pcs.iter().enumerate() {
        let fs = sym(pc, i == 0);
        if inlines {
            inner_first.extend(fs);
        } else if let Some(real) = fs.last() {
            inner_first.push(real.clone());
        }
    }
    inner_first.reverse();
    inner_first
}

pub struct Profile {
    pub total: u64,
    /// (function, flat, cum), by flat then cum, descending.
    pub rows: Vec<(String, u64, u64)>,
    /// Folded stacks and their counts.
    pub folded: BTreeMap<String, u64>,
}

pub fn build(samples: &[Sample], sym: &mut dyn FnMut(u64, bool) -> Vec<String>) -> Profile {
    let mut flat: BTreeMap<String, u64> = BTreeMap::new();
    let mut cum: BTreeMap<String, u64> = BTreeMap::new();
    let mut folded = BTreeMap::new();
    for s in samples {
        let st = stack(s, false, sym);
        if let Some(leaf) = st.last() {
            *flat.entry(leaf.clone()).or_default() += 1;
        }
        let mut seen = HashSet::new();
        for f in &st {
            if seen.insert(f) {
                *cum.entry(f.clone()).or_default() += 1;
            }
        }
        let key = stack(s, true, sym)
            .iter()
            .map(|f| f.replace([';', ' '], "_"))
            .collect::<Vec<_>>()
            .join(";");
        *folded.entry(key).or_default() += 1;
    }
    let mut rows: Vec<(String, u64, u64)> = cum
        .into_iter()
        .map(|(f, c)| {
            let fl = flat.get(&f).copied().unwrap_or(0);
            (f, fl, c)
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    Profile {
        total: samples.len() as u64,
        rows,
        folded,
    }
}

impl Profile {
    /// `go tool pprof -top`'s table: flat, flat%, sum%, cum, cum%, name.
    pub fn top(&self, n: usize) -> String {
        let pct = |x: u64| 100.0 * x as f64 / self.total.max(1) as f64;
        let mut out = format!(
            "Showing top {} of {} functions, {} samples\n      flat  flat%   sum%        cum   cum%\n",
            n.min(self.rows.len()),
            self.rows.len(),
            self.total
        );
        let mut sum = 0;
        for (f, fl, c) in self.rows.iter().take(n) {
            sum += fl;
            out.push_str(&format!(
                "{fl:>10} {:>5.1}% {:>5.1}% {c:>10} {:>5.1}%  {f}\n",
                pct(*fl),
                pct(sum),
                pct(*c)
            ));
        }
        out
    }

    pub fn folded_text(&self) -> String {
        self.folded
            .iter()
            .map(|(k, v)| format!("{k} {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_cum_and_folded() {
        let s = |pcs: &[u64]| Sample {
            cpu: 0,
            goid: 1,
            pcs: pcs.to_vec(),
        };
        // 1 = spin, 2 = main, 3 = helper (inlined into main at 4).
        let samples = [s(&[1, 2]), s(&[1, 2]), s(&[4, 2]), s(&[2])];
        let mut sym = |pc: u64, _exact: bool| match pc {
            1 => vec!["spin".to_string()],
            2 => vec!["main".to_string()],
            4 => vec!["helper".to_string(), "main".to_string()],
            _ => vec!["?".to_string()],
        };
        let p = build(&samples, &mut sym);
        assert_eq!(p.total, 4);
        // Equal flat: the larger cum first.
        assert_eq!(p.rows[1], ("spin".to_string(), 2, 2));
        let main = p.rows.iter().find(|r| r.0 == "main").unwrap();
        // The PC in `helper` inlined into `main` is main's own in the table.
        assert_eq!((main.1, main.2), (2, 4), "main counted once per sample");
        assert!(!p.rows.iter().any(|r| r.0 == "helper"));
        assert_eq!(p.folded["main;spin"], 2);
        assert_eq!(p.folded["main;main;helper"], 1);
        assert!(p.top(2).contains("spin"));
        assert!(p.folded_text().contains("main;spin 2\n"));
    }
}
