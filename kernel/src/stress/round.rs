//! One round: every workload kind at once, from one seed; waits for all of
//! them and checks that every goroutine ran exactly once. Each kind checks
//! its own invariants in its goroutines (a failed check panics there: the
//! panic path prints the goroutine dump).
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::ledger::Ledger;
use super::rng::Rng;
use super::{bank, chans, deep, hogs, procs, timers, tree, xcall};
use crate::cmdline::StressBug;

/// The most goroutines one round spawns (the ledger's room).
const MAX_TASKS: usize = 4096;

/// What the kinds of a round share.
pub struct Cx {
    pub ledger: Arc<Ledger>,
    /// The commutative checksum fold (`checksum::fold`).
    pub sum: Arc<AtomicU64>,
    pub ops: Arc<Ops>,
    pub bug: Option<StressBug>,
}

/// Operation counts: the deterministic ones (decided by the seed) go into
/// the checksum, `timeouts` does not.
#[derive(Default)]
pub struct Ops {
    pub chan: AtomicU64,
    pub transfers: AtomicU64,
    pub xcalls: AtomicU64,
    pub procs_changes: AtomicU64,
    pub timeouts: AtomicU64,
}

impl Ops {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// A round's results.
#[derive(Clone, Copy, Default, Debug)]
pub struct Done {
    pub checksum: u64,
    pub goroutines: u64,
    pub chan_ops: u64,
    pub transfers: u64,
    pub xcalls: u64,
    pub procs_changes: u64,
    pub timeouts: u64,
}

/// Runs round `seed`.
pub fn run(seed: u64, bug: Option<StressBug>) -> Done {
    let twice = (bug == Some(StressBug::Twice)).then_some(3);
    let cx = Cx {
        ledger: Ledger::new(MAX_TASKS, twice),
        sum: Arc::new(AtomicU64::new(0)),
        ops: Arc::new(Ops::default()),
        bug,
    };
    let root = Rng::new(seed);
    // Each kind draws from its own child stream: adding a kind or changing
    // one's draws leaves the others' work as it was.
    tree::start(&cx, root.child(0));
    chans::start_pipeline(&cx, root.child(1));
    chans::start_select_network(&cx, root.child(2));
    bank::start(&cx, root.child(3));
    timers::start(&cx, root.child(4));
    deep::start(&cx, root.child(5));
    hogs::start(&cx, root.child(6));
    procs::start(&cx, root.child(7));
    xcall::start(&cx, root.child(8));
    let goroutines = cx.ledger.wait_and_check();
    let o = &cx.ops;
    let ld = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let d = Done {
        checksum: 0,
        goroutines,
        chan_ops: ld(&o.chan),
        transfers: ld(&o.transfers),
        xcalls: ld(&o.xcalls),
        procs_changes: ld(&o.procs_changes),
        timeouts: ld(&o.timeouts),
    };
    // The op counts are the seed's too: fold them in (not `timeouts`).
    let sum = ld(&cx.sum)
        ^ super::checksum::mix(d.goroutines)
        ^ super::checksum::mix(d.chan_ops).rotate_left(13)
        ^ super::checksum::mix(d.transfers).rotate_left(29)
        ^ super::checksum::mix(d.xcalls).rotate_left(41)
        ^ super::checksum::mix(d.procs_changes).rotate_left(53);
    Done {
        checksum: sum ^ seed,
        ..d
    }
}
