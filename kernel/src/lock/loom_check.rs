//! The runner every loom model uses: explores a model with a preemption
//! bound (`None`: exhaustive), counts the executions and prints them with
//! the time taken (visible with `make test-loom` and `--nocapture`), so the
//! table in ARCHITECTURE.md ("Model checking") can be checked by running it.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Go has no equivalent: this is tokio's `loom::model` with a count.
pub fn check(name: &str, bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut b = loom::model::Builder::new();
    b.preemption_bound = bound;
    let t0 = std::time::Instant::now();
    b.check(move || {
        counter.fetch_add(1, Relaxed);
        f();
    });
    std::eprintln!(
        "{name}: {} executions in {:.1} s",
        runs.load(Relaxed),
        t0.elapsed().as_secs_f64()
    );
}
