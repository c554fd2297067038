//! Channels (Go: `chan T`, runtime/chan.go): [`Chan<T>`] and [`chan`], the
//! kernel's binding of the generic algorithms in `sync/hchan.rs` (read its
//! design comment first) to goroutines: `gopark`/`goready`, sudogs from
//! the per-P cache (`sched/sudog.rs`), the channel lock.
//!
//! # From interrupt handlers
//!
//! `try_send`, `try_recv` and `close` work in interrupt handlers (a device
//! feeding a channel: a generalised netpoller); blocking operations there
//! are the named fatal error (`chan send called from an interrupt
//! handler`). The design: **the channel lock is interrupt-safe**
//! ([`IrqRawLock`]: interrupts off while held), not a lock-free per-CPU
//! list drained on g0 (Go's netpoll shape). Why:
//!
//! - A handler must learn *synchronously* whether its value went in: full
//!   means it keeps the value and retries (or drops it), as a driver must.
//!   A deferred list would accept everything and have to buffer without
//!   bound or lose values after saying yes.
//! - One code path: the handler runs exactly the algorithm a goroutine
//!   runs, so FIFO order and close semantics are the same for both, and the
//!   loom models cover it.
//! - The cost is small: interrupts are off for the few instructions of a
//!   channel operation, and goroutines are never preempted inside one
//!   anyway (a channel lock is a runtime lock).
//!
//! What makes it safe:
//!
//! - No CPU takes the lock with interrupts on, so a handler never spins on
//!   a lock its own CPU holds. That includes the window while a blocking
//!   operation parks: the lock is released on g0 by `gopark`'s unlock
//!   function, and `gopark_irqlocked` keeps interrupts off from the switch
//!   to g0 until that release.
//! - The TLB-epoch rule (no CPU waits for an IPI answer while holding a lock
//!   another CPU may spin on with interrupts off): nothing done under a
//!   channel lock waits for an IPI. Readying sends at most a wake-up IPI
//!   and waits for no answer, and happens after the unlock anyway; the only
//!   memory work is a sudog from the P's cache or central list (the heap
//!   when both are empty: it maps, never unmaps); `park_m` shrinks the
//!   parking goroutine's stack with the lock held, which only moves frames
//!   to the TLB epoch's limbo (with a lock held a full limbo means no
//!   shrink, never a forced epoch). No value is dropped under the lock (a
//!   `Drop` could do anything): values only move.
//! - Readying from an interrupt goes to the global run queue (`goready`),
//!   never into a ring the interrupted code may be pushing into.
//!
//! Interrupt handlers may only use channels made with
//! [`chan_from_interrupts`]; the flag is how the runtime knows that a
//! goroutine parked on one waits for an interrupt source (deadlock
//! detection counts it as not deadlocked). An interrupt-side operation on
//! another channel is a fatal error, so a missing flag is found at once,
//! not as a false deadlock report.
use alloc::sync::{Arc, Weak};
use core::ptr::NonNull;

use super::hchan::{ChanLock, HChan, ParkReason, RecvFail, Runtime, SendFail};
use crate::arch::percpu;
use crate::lock::IrqRawLock;
use crate::sched::sudog::{KSudog, acquire_sudog, release_sudog};
use crate::sched::{
    AcquireM, G, WaitReason, check_blocking, external_wait, getg, gopark_irqlocked, goready,
};

/// The kernel's parking primitive for channels: goroutines.
pub struct Kernel;

impl ChanLock for IrqRawLock {
    fn new() -> Self {
        IrqRawLock::new()
    }
    fn lock(&self) {
        IrqRawLock::lock(self)
    }
    fn unlock(&self) {
        IrqRawLock::unlock(self)
    }
    fn addr(&self) -> usize {
        IrqRawLock::addr(self)
    }
    fn try_lock(&self) -> bool {
        IrqRawLock::try_lock(self)
    }
}

// SAFETY: `gopark_irqlocked` runs `unlock` on g0 once the goroutine is off
// its stack and returns only after `goready`; the run queues' release and
// acquire order the readier's writes before the goroutine runs again.
unsafe impl Runtime for Kernel {
    type Waiter = NonNull<G>;
    type Lock = IrqRawLock;

    fn current() -> NonNull<G> {
        NonNull::new(getg()).expect("channel operation outside a goroutine")
    }

    fn acquire_sudog(w: NonNull<G>) -> NonNull<KSudog> {
        acquire_sudog(w)
    }

    unsafe fn release_sudog(s: NonNull<KSudog>) {
        // SAFETY: forwarded to the caller.
        unsafe { release_sudog(s) }
    }

    fn park(_me: NonNull<G>, unlock: &dyn Fn(), reason: ParkReason, external: bool) {
        let reason = match reason {
            ParkReason::ChanSend => WaitReason::ChanSend,
            ParkReason::ChanReceive => WaitReason::ChanReceive,
            ParkReason::Select => WaitReason::Select,
            ParkReason::SelectNoCases => WaitReason::SelectNoCases,
        };
        if external {
            external_wait();
        }
        gopark_irqlocked(
            &|| {
                unlock();
                true
            },
            reason,
        );
    }

    fn ready(w: NonNull<G>) {
        if crate::sched::watchdog::lose_wakeup_for_test() {
            // The watchdog's test hook: dequeued and handed its value, the
            // waiter is never readied.
            return;
        }
        goready(w)
    }

    fn rand_n(n: u32) -> u32 {
        let _m = AcquireM::new();
        // Go: `cheaprandn`: multiply-shift, no modulo bias worth the name.
        ((crate::sched::m::getm().cheaprand() as u64 * n as u64) >> 32) as u32
    }
}

type Inner<T> = HChan<T, Kernel>;

/// The watchdog's check of a goroutine parked in a blocking send or
/// receive on the channel at `ch` (`watchdog::ChanCheck`).
fn watch_check<T>(ch: usize, g: &G) -> Option<Option<&'static str>> {
    // SAFETY: the watchdog passes back the channel the goroutine recorded
    // while it is still parked in an operation on it (holding the handle).
    let ch = unsafe { &*(ch as *const Inner<T>) };
    ch.watch_state(|w| core::ptr::eq(w.as_ptr(), g))
}

/// Records, for the watchdog, the channel a blocking operation may park
/// on; the record goes when the operation returns (or when it resumes
/// from parking).
struct Watched;

impl Watched {
    fn new<T>(ch: &Inner<T>) -> Option<Watched> {
        crate::sched::watchdog::wait_on_chan(ch as *const Inner<T> as usize, watch_check::<T>)
            .then_some(Watched)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        crate::sched::watchdog::done_waiting();
    }
}

/// Go: `chan T`. One cloneable handle (like Go's bidirectional channel
/// value: clones are the same channel). Share it by cloning into each
/// goroutine.
///
/// Differences from Go, all from Rust's ownership: a receive returns
/// `Option<T>` (`None` once closed and drained, Go's `v, ok := <-ch` with
/// `ok == false`), a failed `try_send` hands the value back, and there is
/// no nil `Chan` (a `select!` case on `None` plays Go's nil channel).
pub struct Chan<T>(Arc<Inner<T>>);

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan(self.0.clone())
    }
}

/// A handle that does not keep the channel alive: the runtime's timers hold
/// their channel this way (`time/`), so a timer channel nobody holds any
/// more frees its timer when it next fires instead of leaking it (Go 1.23:
/// an unreferenced timer is garbage).
pub(crate) struct WeakChan<T>(Weak<Inner<T>>);

impl<T> WeakChan<T> {
    /// The channel, if some [`Chan`] handle still exists.
    pub(crate) fn upgrade(&self) -> Option<Chan<T>> {
        self.0.upgrade().map(Chan)
    }
}

impl<T> Chan<T> {
    /// A [`WeakChan`] to this channel.
    pub(crate) fn downgrade(&self) -> WeakChan<T> {
        WeakChan(Arc::downgrade(&self.0))
    }

    /// Is this the only handle (no clone exists)? A timer's owner dropping
    /// the last handle frees the timer at once rather than at its firing.
    pub(crate) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

/// Go: `make(chan T, cap)`. `cap == 0` is unbuffered: a send waits for its
/// receiver, and the value moves straight from one goroutine to the other.
pub fn chan<T: Send>(cap: usize) -> Chan<T> {
    Chan(Arc::new(HChan::new(cap, false)))
}

/// `chan(cap)` for a channel interrupt handlers feed (`try_send`,
/// `try_recv`, `close` from a handler): only these may be used from
/// interrupt handlers, and a goroutine blocked on one is waiting on an
/// interrupt source, which deadlock detection does not count as a deadlock.
pub fn chan_from_interrupts<T: Send>(cap: usize) -> Chan<T> {
    Chan(Arc::new(HChan::new(cap, true)))
}

/// Why `try_send` returned its value.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No receiver waiting and no room in the buffer.
    Full(T),
    /// The channel is closed (not a panic, unlike `send`).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

/// Why `try_recv` got nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No sender waiting and nothing buffered.
    Empty,
    /// Closed and drained.
    Closed,
}

impl<T: Send> Chan<T> {
    /// A goroutine-only operation, not from an interrupt handler.
    fn check_goroutine(what: &str) {
        check_blocking(what);
    }

    /// From an interrupt handler only channels made for it.
    fn check_irq_side(&self, what: &str) {
        if percpu::irq_depth() != 0 && !self.0.is_irq_fed() {
            crate::panic::fatal(format_args!(
                "{what} from an interrupt handler on a channel not made with chan_from_interrupts"
            ));
        }
    }

    /// Go: `ch <- v`. Blocks until a receiver takes the value or the buffer
    /// has room. Panics `send on closed channel` if the channel is closed,
    /// also while blocked.
    pub fn send(&self, v: T) {
        Self::check_goroutine("chan send");
        crate::sched::safe_point();
        let _w = Watched::new(&self.0);
        match self.0.send(v, true) {
            Ok(()) => {}
            // The value is dropped with the panic's abort (no unwinding):
            // never under a lock.
            Err(SendFail::Closed(_)) => panic!("send on closed channel"),
            Err(SendFail::Full(_)) => unreachable!("a blocking send is never full"),
        }
    }

    /// Go: `v, ok := <-ch`. Blocks until a value arrives; `None` once the
    /// channel is closed and drained.
    pub fn recv(&self) -> Option<T> {
        Self::check_goroutine("chan receive");
        crate::sched::safe_point();
        let _w = Watched::new(&self.0);
        self.0.recv(true).ok()
    }

    /// Go: `select { case ch <- v: default: }`. Never blocks; also from
    /// interrupt handlers (channels from [`chan_from_interrupts`]).
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.check_irq_side("try_send");
        self.0.send(v, false).map_err(|e| match e {
            SendFail::Full(v) => TrySendError::Full(v),
            SendFail::Closed(v) => TrySendError::Closed(v),
        })
    }

    /// Go: `select { case v, ok := <-ch: default: }`. Never blocks; also
    /// from interrupt handlers (channels from [`chan_from_interrupts`]).
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.check_irq_side("try_recv");
        self.0.recv(false).map_err(|e| match e {
            RecvFail::Empty => TryRecvError::Empty,
            RecvFail::Closed => TryRecvError::Closed,
        })
    }

    /// Go: `close(ch)`: receivers drain what is buffered, then get `None`;
    /// every blocked goroutine wakes (blocked senders panic). Panics `close
    /// of closed channel` the second time. Also from interrupt handlers.
    pub fn close(&self) {
        self.check_irq_side("close");
        if self.0.close().is_err() {
            panic!("close of closed channel");
        }
    }

    /// Go: `len(ch)`: values buffered now (a snapshot).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is buffered now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Go: `cap(ch)`.
    pub fn cap(&self) -> usize {
        self.0.cap()
    }

    /// The channel as `select!` sees it.
    #[doc(hidden)]
    pub fn sel(&self) -> &dyn super::hchan::SelChan<Kernel> {
        &*self.0
    }

    /// Whether two handles are the same channel.
    pub fn same(&self, other: &Chan<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Go: `for v := range ch`: receives until the channel is closed and
/// drained.
impl<'a, T: Send> IntoIterator for &'a Chan<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        Iter(self)
    }
}

/// The iterator of `for v in &ch`.
pub struct Iter<'a, T>(&'a Chan<T>);

impl<T: Send> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.0.recv()
    }
}
