//! The stream: records leave the per-CPU buffers through the debug console
//! (`arch::debugcon`, a file on the host), one drainer at a time.
//!
//! Drains happen where nothing is in a hurry: the scheduler loop on g0
//! ([`super::flush_point`], once a buffer holds [`FLUSH_AT`] records), an
//! M about to halt (everything it has), and trace or profile stop (every
//! buffer). Never from an interrupt handler: writing out a buffer takes
//! time, and the lock is a plain spin lock.
use core::sync::atomic::Ordering;

use super::buf::Ring;
use super::event::Record;
use crate::arch::{MAX_CPUS, debugcon};
use crate::lock::SpinLock;

/// A buffer is drained by its CPU's scheduler loop once it holds this many
/// records (8 KiB): small drains keep the g0 pause short.
pub const FLUSH_AT: usize = 256;

/// The stream's lock: one writer of the debug console at a time (the bytes
/// of two drains must not interleave).
static OUT: SpinLock<()> = SpinLock::new(());

/// Writes `r` to the stream (the caller holds [`OUT`]).
fn put(r: &Record) {
    debugcon::write(&r.to_bytes());
}

/// Drains `ring` if it holds at least `min` records and no one else is
/// writing the stream (the scheduler loop's drain: skipping is fine, the
/// next round drains).
pub fn try_drain(ring: &Ring, min: usize) {
    if ring.len() < min.max(1) {
        return;
    }
    if let Some(_g) = OUT.try_lock() {
        ring.drain(put);
    }
}

/// Drains every buffer in `rings`, then writes `tail` (records that must
/// come after everything buffered: drop counts, the end).
pub fn drain_all(rings: &[core::sync::atomic::AtomicPtr<Ring>; MAX_CPUS], tail: &[Record]) {
    let _g = OUT.lock();
    for r in rings {
        let p = r.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: rings are allocated once and never freed.
            unsafe { &*p }.drain(put);
        }
    }
    for r in tail {
        put(r);
    }
}

/// Writes `recs` to the stream now, ahead of anything still buffered (a
/// recording's header and its snapshot of existing goroutines, written
/// before any CPU records).
/// A function writing records through the `put` it is given.
pub type Writer<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&Record));

pub fn write_now(recs: Writer) {
    let _g = OUT.lock();
    recs(&mut |r| put(r));
}
