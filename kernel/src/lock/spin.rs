//! Kernel spin locks. Both kinds count as *runtime locks*: taking one bumps the
//! CPU's `locks` count (Go: `lock()` -> `acquirem()`), and while it is
//! non-zero the running goroutine is never preempted, parked or moved to
//! another CPU. [`IrqSpinLock`] also disables interrupts while held: use it
//! for every lock an interrupt handler may take (console, frame allocator,
//! timers), or a handler interrupting the holder on the same CPU would spin
//! forever.
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::{Upcall, irq, percpu};

fn acquirem() {
    percpu::locks_inc();
}

fn releasem() {
    percpu::locks_dec();
}

/// The scheduler's "last runtime lock released" hook (an upcall: the lock
/// sits below the scheduler). Empty until registered.
// SAFETY: `fn()` is a function pointer type.
static LAST_RELEASE: Upcall<fn()> = unsafe { Upcall::new() };

/// Registers `f` to run when a CPU releases its last runtime lock with
/// interrupts on (Go: `releasem` checking `gp.preempt`). `init` registers
/// `sched::preempt::on_last_lock_released` once, at boot, before the
/// scheduler starts; before that, nothing can be pending.
pub fn set_last_release_handler(f: fn()) {
    LAST_RELEASE.set(f);
}

/// Go: `releasem` checking `gp.preempt`: after the last runtime lock is
/// released (and interrupts are back on), honour a pending preemption.
#[inline]
fn after_release() {
    if percpu::locks() == 0
        && let Some(f) = LAST_RELEASE.get()
    {
        f();
    }
}

/// Number of runtime locks held on this CPU (Go: `m.locks`).
pub fn locks_held() -> u32 {
    percpu::locks()
}

/// A spin lock for code that never runs in interrupt handlers.
pub struct SpinLock<T> {
    inner: ::spin::Mutex<T>,
}

/// Guard of a [`SpinLock`].
pub struct SpinGuard<'a, T> {
    guard: Option<::spin::MutexGuard<'a, T>>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock {
            inner: ::spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> SpinGuard<'_, T> {
        acquirem();
        SpinGuard {
            guard: Some(self.inner.lock()),
        }
    }

    pub fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        acquirem();
        match self.inner.try_lock() {
            Some(g) => Some(SpinGuard { guard: Some(g) }),
            None => {
                releasem();
                None
            }
        }
    }

    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Releases a lock whose guard was `mem::forget`-ed: how `gopark`'s
    /// unlock function drops a lock on g0 after the goroutine is off its
    /// stack (Go passes the lock itself to `gopark`). Runs on the CPU that
    /// took the lock (the parking goroutine cannot move before it is parked).
    ///
    /// # Safety
    /// The lock must be held through a forgotten guard, by this CPU.
    pub unsafe fn unlock_forgotten(&self) {
        // SAFETY: forwarded to the caller.
        unsafe { self.inner.force_unlock() };
        releasem();
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("live guard")
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("live guard")
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        releasem();
        after_release();
    }
}

/// A spin lock held with interrupts disabled (restored on release).
pub struct IrqSpinLock<T> {
    inner: ::spin::Mutex<T>,
}

/// Guard of an [`IrqSpinLock`].
pub struct IrqSpinGuard<'a, T> {
    guard: Option<::spin::MutexGuard<'a, T>>,
    were_enabled: bool,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            inner: ::spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        let were_enabled = irq::enabled();
        irq::disable();
        acquirem();
        IrqSpinGuard {
            guard: Some(self.inner.lock()),
            were_enabled,
        }
    }

    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let were_enabled = irq::enabled();
        irq::disable();
        acquirem();
        match self.inner.try_lock() {
            Some(g) => Some(IrqSpinGuard {
                guard: Some(g),
                were_enabled,
            }),
            None => {
                releasem();
                if were_enabled {
                    irq::enable();
                }
                None
            }
        }
    }

    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Releases the lock without a guard: only for the last-resort paths
    /// (panic, fatal errors) after the holder is known to be dead.
    ///
    /// # Safety
    /// No live guard may be used afterwards.
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded to the caller.
        unsafe { self.inner.force_unlock() }
    }
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("live guard")
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("live guard")
    }
}

impl<T> Drop for IrqSpinGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        releasem();
        if self.were_enabled {
            irq::enable();
            after_release();
        }
    }
}

/// An interrupt-safe spin lock without a guard (Go's `lock(&c.lock)` and
/// `unlock(&c.lock)`): a channel's lock. Channels need locks a guard cannot
/// express: `select` holds a set chosen at run time, taken in address order
/// and released in reverse (Go: `sellock`/`selunlock`), and a blocking
/// operation releases them on g0 from `gopark`'s unlock function.
///
/// Interrupts are off from `lock` to `unlock` (an interrupt handler may take
/// the same lock: `try_send` from a device interrupt). The interrupt state
/// seen by `lock` is kept in the lock itself, written and read only by the
/// holder, so nested locks released in reverse order restore it exactly:
/// only the outermost one turns interrupts back on.
pub struct IrqRawLock {
    locked: AtomicBool,
    irq_was_on: AtomicBool,
}

impl IrqRawLock {
    pub const fn new() -> Self {
        IrqRawLock {
            locked: AtomicBool::new(false),
            irq_was_on: AtomicBool::new(false),
        }
    }

    /// Go: `lock`. Interrupts off, counted as a runtime lock, then spins.
    pub fn lock(&self) {
        let was_on = irq::enabled();
        irq::disable();
        acquirem();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        self.irq_was_on.store(was_on, Ordering::Relaxed);
    }

    /// Go: `unlock`. Restores the interrupt state `lock` found. May run on
    /// another stack than `lock` (g0, in `gopark`'s unlock function), never
    /// on another CPU: the holder cannot migrate (interrupts are off).
    pub fn unlock(&self) {
        let was_on = self.irq_was_on.load(Ordering::Relaxed);
        self.locked.store(false, Ordering::Release);
        releasem();
        if was_on {
            irq::enable();
            after_release();
        }
    }

    /// Its address: select takes locks in address order (Go: `lockorder`).
    pub fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// [`lock`](Self::lock) if it is free, else false at once (the
    /// watchdog's scan, from an interrupt: it never waits for a holder).
    pub fn try_lock(&self) -> bool {
        let was_on = irq::enabled();
        irq::disable();
        acquirem();
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            releasem();
            if was_on {
                irq::enable();
            }
            return false;
        }
        self.irq_was_on.store(was_on, Ordering::Relaxed);
        true
    }
}
