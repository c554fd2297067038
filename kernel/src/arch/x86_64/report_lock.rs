//! One CPU's report at a time. An NMI reaches every CPU at once (the
//! runner's timeout dump), and fatal errors can meet NMIs or each other:
//! without this, their lines interleave one by one and no block can be read.
//! Each report (an NMI block, a fatal exception, a panic) holds the report
//! lock for its whole output, so the console shows one CPU's block after
//! another.
//!
//! It is not an ordinary lock: it is taken in NMI context and on the way
//! down, where waiting forever for a CPU that died holding it would lose
//! every later report. So it is re-entrant on the same CPU (a fatal error
//! inside an NMI report) and a waiter gives up after [`WAIT_NS`] (or a spin
//! bound, before the clock is calibrated) and prints anyway.
use core::sync::atomic::{AtomicU32, Ordering};

use super::percpu;

const NOBODY: u32 = u32::MAX;
/// How long a CPU waits for another's report before printing anyway.
pub const WAIT_NS: u64 = 5_000_000_000;
/// The same bound in spins, for when the clock does not run yet.
const MAX_SPINS: u64 = 2_000_000_000;

static OWNER: AtomicU32 = AtomicU32::new(NOBODY);

/// Held while a CPU prints its report (see the module doc).
pub struct ReportBlock {
    taken: bool,
}

/// Waits (bounded) until no other CPU prints a report, then holds the lock
/// until the guard is dropped.
pub fn report_block() -> ReportBlock {
    let me = percpu::cpu_index() as u32;
    if OWNER.load(Ordering::Acquire) == me {
        return ReportBlock { taken: false };
    }
    let t0 = crate::clock::now_ns();
    let mut spins = 0u64;
    loop {
        if OWNER
            .compare_exchange(NOBODY, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return ReportBlock { taken: true };
        }
        spins += 1;
        if spins >= MAX_SPINS
            || (spins.is_multiple_of(1024) && crate::clock::now_ns().saturating_sub(t0) >= WAIT_NS)
        {
            // The owner is stuck or dead: print interleaved rather than not at all.
            return ReportBlock { taken: false };
        }
        core::hint::spin_loop();
    }
}

impl Drop for ReportBlock {
    fn drop(&mut self) {
        if self.taken {
            OWNER.store(NOBODY, Ordering::Release);
        }
    }
}
