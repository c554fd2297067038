//! `run <demo> [args]`: one demo at a time, in a user goroutine with a
//! cancellable `Context`, while the shell keeps reading keys.
//!
//! Goroutines cannot be killed, so stopping a demo means cancelling its
//! Context (Ctrl-C on an empty line, or a deadlock report) and waiting for
//! it to return; a demo's contract is that every goroutine it started has
//! finished when `run` returns. A watcher (a system goroutine on a 10 ms
//! timer while a demo runs; system sleepers do not keep `checkdead` from
//! reporting) notices a new deadlock report and cancels the demo (the
//! deadlock demo's goroutines wait in `select!` on `ctx.done()` too), and
//! once the demo returned it waits for the goroutine count to come back to
//! what it was before, and says so: a demo that leaks goroutines shows.
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use crate::context::{CancelFunc, Context};
use crate::sched::deadlock;
use crate::sync::Mutex;
use crate::time::Instant;
use crate::{println, sched};

pub use crate::demos::Demo;

/// Demos registered at run time (test kernels add their own), before the
/// library's table (`crate::demos`).
static EXTRA: Mutex<Vec<&'static Demo>> = Mutex::new(Vec::new());

/// Adds a demo to the shell's `run` (it hides a library demo of the same
/// name; a name registered twice is replaced).
pub fn register(d: &'static Demo) {
    let mut v = EXTRA.lock();
    v.retain(|x| x.name != d.name);
    v.push(d);
}

/// Every demo `run` knows: the registered ones, then the library's.
pub fn all() -> Vec<&'static Demo> {
    let extra = EXTRA.lock().clone();
    let mut v = extra.clone();
    v.extend(
        crate::demos::all()
            .iter()
            .filter(|d| !extra.iter().any(|x| x.name == d.name)),
    );
    v
}

/// The demo called `name`.
pub fn find(name: &str) -> Option<&'static Demo> {
    all().into_iter().find(|d| d.name == name)
}

/// The demo running now.
struct Running {
    name: &'static str,
    cancel: CancelFunc,
    /// Set (with the Context's cause) when Ctrl-C or a report cancelled it.
    canceled_by: Option<&'static str>,
}

static CURRENT: Mutex<Option<Running>> = Mutex::new(None);

/// The running demo's name.
pub fn current() -> Option<&'static str> {
    CURRENT.lock().as_ref().map(|r| r.name)
}

/// Cancels the running demo's Context (saying so first: the demo's own
/// last lines follow); its name, or `None` if none runs.
pub fn cancel(why: &'static str) -> Option<&'static str> {
    let mut cur = CURRENT.lock();
    let r = cur.as_mut()?;
    if r.canceled_by.is_none() {
        r.canceled_by = Some(why);
        println!(
            "run: canceling demo `{}` ({why}; its Context is done, it stops itself)",
            r.name
        );
    }
    r.cancel.cancel();
    Some(r.name)
}

/// Starts `name` with `args` (one demo at a time).
pub fn start(name: &str, args: &str) -> Result<(), String> {
    let Some(e) = find(name) else {
        let names: Vec<&str> = all().iter().map(|d| d.name).collect();
        return Err(format!(
            "run: no demo `{name}` (demos: {})",
            if names.is_empty() {
                String::from("none")
            } else {
                names.join(", ")
            }
        ));
    };
    let mut cur = CURRENT.lock();
    if let Some(r) = cur.as_ref() {
        return Err(format!(
            "run: demo `{}` is still running (one at a time; Ctrl-C cancels it)",
            r.name
        ));
    }
    let (ctx, cancel) = Context::background().with_cancel();
    *cur = Some(Running {
        name: e.name,
        cancel,
        canceled_by: None,
    });
    drop(cur);
    let before = sched::num_goroutine();
    let reports = deadlock::reports();
    let finished = Arc::new(AtomicBool::new(false));
    let result: Arc<Mutex<Option<Result<(), String>>>> = Arc::new(Mutex::new(None));
    let t0 = Instant::now();
    println!(
        "run: demo `{}` started (Ctrl-C on an empty line cancels it)",
        e.name
    );
    {
        let (finished, result, args) = (finished.clone(), result.clone(), String::from(args));
        let run = e.run;
        // A user goroutine: the demo's goroutines are the program.
        sched::go(move || {
            let r = run(&ctx, &args);
            *result.lock() = Some(r);
            finished.store(true, Ordering::Release);
        });
    }
    sched::go_system(move || watch(e.name, before, reports, finished, result, t0));
    Ok(())
}

/// The watcher (a system goroutine): deadlock reports cancel the demo; its
/// end is reported with the goroutine count.
fn watch(
    name: &'static str,
    before: u64,
    mut reports: u64,
    finished: Arc<AtomicBool>,
    result: Arc<Mutex<Option<Result<(), String>>>>,
    t0: Instant,
) {
    let tick = Duration::from_millis(10);
    while !finished.load(Ordering::Acquire) {
        crate::time::sleep(tick);
        let now = deadlock::reports();
        if now != reports {
            reports = now;
            cancel("a deadlock report");
        }
    }
    let took = t0.elapsed();
    // Its goroutines have finished; give them a moment to exit (a
    // goroutine that called `done()` may not have returned yet).
    let wait = Instant::now();
    while sched::num_goroutine() > before && wait.elapsed() < Duration::from_secs(2) {
        crate::time::sleep(tick);
    }
    let after = sched::num_goroutine();
    let why = CURRENT.lock().take().and_then(|r| r.canceled_by);
    // A demo's `Err`: bad arguments, or how far it got when cancelled.
    let r = result.lock().take().unwrap_or(Ok(()));
    if let Err(e) = &r {
        println!("run: {e}");
    }
    println!(
        "run: demo `{name}` {} after {:?}; goroutines: {}",
        match (why, &r) {
            (Some(w), _) => format!("canceled by {w}"),
            (None, Ok(())) => String::from("finished"),
            (None, Err(_)) => String::from("failed"),
        },
        took,
        if after <= before {
            format!("back to {after} (as before the demo)")
        } else {
            format!("{after} now, {before} before the demo (leaked?)")
        }
    );
    let _ = super::input::input().try_send(super::input::Input::Redraw);
}
