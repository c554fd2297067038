//! Inter-processor interrupts: the wake-up IPI, and "run this function on
//! CPU n / on all CPUs and wait" (which the TLB shootdown is built on).
//!
//! Cross-calls: each CPU owns one request slot (a function and the set of
//! CPUs that still have to run it) and each CPU has an incoming bitmask of
//! the CPUs whose requests it must serve. The caller publishes its request,
//! sets its bit in every target's incoming mask, sends [`CALL_VECTOR`], and
//! waits until every target cleared its bit in the request. While waiting it
//! serves requests addressed to itself, by polling, so two CPUs calling each
//! other at the same moment (say, two TLB shootdowns) never deadlock, even
//! with interrupts off.
//!
//! Rules: the function runs in interrupt context on the targets (interrupts
//! off, on the interrupt stack) and must not itself cross-call; a CPU must not
//! cross-call while holding a lock that another CPU may spin on with
//! interrupts off (that CPU could not serve the call).
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use super::apic;
use super::percpu::{self, MAX_CPUS};
use super::smp;
use super::trap::{self, TrapFrame};

/// Wakes a CPU from `hlt`; the handler only acknowledges it.
pub const WAKEUP_VECTOR: u8 = 0xf0;
/// Cross-call: run the functions other CPUs asked this one to run.
pub const CALL_VECTOR: u8 = 0xf1;

type CallFn = *const (dyn Fn() + Sync);

/// Polls of the request between two `pause`s while a caller waits. Under
/// QEMU's multi-threaded TCG every `pause` leaves the translated code and
/// retakes QEMU's global lock; with several CPUs waiting on each other
/// that costs far more than the cross-call (measured at -smp 2: 2 ms per
/// TLB shootdown with a pause per poll, 20 us with this). On hardware a
/// pause every few hundred polls of a cached line is still a cheap wait.
pub const POLLS_PER_PAUSE: u32 = 256;

/// One CPU's outgoing request.
#[repr(C, align(64))]
struct Request {
    /// The function (valid while `pending` is non-zero).
    func: UnsafeCell<Option<CallFn>>,
    /// CPUs that have not run it yet.
    pending: AtomicU64,
}

// SAFETY: `func` is written only by its owning CPU while `pending` is 0 (no
// reader), and read by targets only after they saw their incoming bit, which
// the owner sets (Release) after writing it (see `run_on_mask`).
unsafe impl Sync for Request {}

#[repr(C, align(64))]
struct Incoming(AtomicU64);

static REQUESTS: [Request; MAX_CPUS] = [const {
    Request {
        func: UnsafeCell::new(None),
        pending: AtomicU64::new(0),
    }
}; MAX_CPUS];
static INCOMING: [Incoming; MAX_CPUS] = [const { Incoming(AtomicU64::new(0)) }; MAX_CPUS];

/// Per-CPU counters: wake-ups received, cross-call functions run.
#[repr(C, align(64))]
struct Counters {
    wakeups: AtomicU64,
    calls: AtomicU64,
}
static COUNTERS: [Counters; MAX_CPUS] = [const {
    Counters {
        wakeups: AtomicU64::new(0),
        calls: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Registers the IPI vectors (bootstrap CPU, once).
pub fn init() {
    trap::register(WAKEUP_VECTOR, on_wakeup);
    trap::register(CALL_VECTOR, on_call);
}

fn apic_id(cpu: usize) -> u32 {
    percpu::cpu(cpu).apic_id.load(Ordering::Relaxed)
}

/// Sends interrupt `vector` to CPU `cpu` (index).
pub fn send(cpu: usize, vector: u8) {
    apic::send_ipi(apic_id(cpu), vector);
}

/// Sends interrupt `vector` to every other online CPU.
pub fn send_all_but_self(vector: u8) {
    if smp::ncpu() == smp::ncpu_found() {
        apic::send_ipi_all_but_self(vector);
    } else {
        // Some CPUs the shorthand would reach are not ours.
        let me = percpu::cpu_index();
        for cpu in (0..MAX_CPUS).filter(|&c| c != me && smp::online_mask() & (1 << c) != 0) {
            send(cpu, vector);
        }
    }
}

/// Sends an NMI to CPU `cpu` (index): the watchdog's heartbeat, which
/// reaches a CPU even with interrupts off.
pub fn send_nmi(cpu: usize) {
    apic::send_nmi(apic_id(cpu));
}

/// Gets CPU `cpu` out of `hlt` (the scheduler's `wakep`).
pub fn send_wakeup(cpu: usize) {
    send(cpu, WAKEUP_VECTOR);
}

fn on_wakeup(_: &mut TrapFrame) {
    COUNTERS[percpu::cpu_index()]
        .wakeups
        .fetch_add(1, Ordering::Relaxed);
    apic::eoi();
}

fn on_call(_: &mut TrapFrame) {
    service();
    apic::eoi();
}

/// Runs the cross-call functions other CPUs addressed to this CPU. Called
/// by the IPI handler and by waiting callers; harmless at any time.
pub fn service() {
    let me = percpu::cpu_index();
    let mut from = INCOMING[me].0.swap(0, Ordering::Acquire);
    while from != 0 {
        let src = from.trailing_zeros() as usize;
        from &= from - 1;
        let req = &REQUESTS[src];
        // SAFETY: our bit in `src`'s incoming mask was set after `func` was
        // written (Release/Acquire), and `src` does not touch `func` until
        // we clear our pending bit below; the pointee outlives the call
        // (the caller waits for us).
        let f = unsafe { (*req.func.get()).expect("cross-call without a function") };
        // SAFETY: as above, the closure is alive until pending is cleared.
        unsafe { (*f)() };
        COUNTERS[me].calls.fetch_add(1, Ordering::Relaxed);
        req.pending.fetch_and(!(1u64 << me), Ordering::Release);
    }
}

/// Runs `f` on every CPU in `mask` (bit i = CPU index i; offline CPUs are
/// ignored) and returns when all of them have. This CPU runs its share
/// directly. See the module documentation for the rules `f` follows.
pub fn run_on_mask(mask: u64, f: &(dyn Fn() + Sync)) {
    // The caller stays on this CPU until every target is done (the request
    // slot is this CPU's): counted as a held runtime lock, like Go's
    // `acquirem`, so the running goroutine is neither preempted nor moved.
    // (One gs-relative instruction each: reading `this()` first would let a
    // preemption in between count the lock on the CPU we just left.)
    percpu::locks_inc();
    run_pinned(mask, f);
    percpu::locks_dec();
}

fn run_pinned(mask: u64, f: &(dyn Fn() + Sync)) {
    let me = percpu::cpu_index();
    let online = smp::online_mask();
    let targets = mask & online & !(1u64 << me);
    if targets != 0 {
        // Interrupts off while publishing: a handler on this CPU that
        // cross-called between the check and the store would overwrite the
        // function the targets are about to run.
        super::irq::without(|| publish(me, online, targets, f));
    }
    if mask & (1u64 << me) != 0 {
        f();
    }
    if targets != 0 {
        let req = &REQUESTS[me];
        'wait: while req.pending.load(Ordering::Acquire) != 0 {
            service();
            for _ in 0..POLLS_PER_PAUSE {
                if req.pending.load(Ordering::Acquire) == 0
                    || INCOMING[me].0.load(Ordering::Relaxed) != 0
                {
                    continue 'wait;
                }
            }
            core::hint::spin_loop();
        }
    }
}

/// Publishes `f` as CPU `me`'s request to `targets` and interrupts them.
fn publish(me: usize, online: u64, targets: u64, f: &(dyn Fn() + Sync)) {
    let req = &REQUESTS[me];
    if req.pending.load(Ordering::Acquire) != 0 {
        super::exceptions::throw(format_args!(
            "cross-call from cpu {me} while its previous cross-call is still waiting (a cross-call from an \
             interrupt handler or from a cross-called function)"
        ));
    }
    // SAFETY: the pointer is only dereferenced while the caller waits for
    // `pending` to clear, so the lifetime extension never outlives `f`.
    let fp: CallFn =
        unsafe { core::mem::transmute::<&(dyn Fn() + Sync), &'static (dyn Fn() + Sync)>(f) };
    // SAFETY: pending is 0, so no target reads `func` now.
    unsafe { *req.func.get() = Some(fp) };
    req.pending.store(targets, Ordering::Release);
    for cpu in bits(targets) {
        INCOMING[cpu].0.fetch_or(1u64 << me, Ordering::Release);
    }
    if targets == online & !(1u64 << me) {
        send_all_but_self(CALL_VECTOR);
    } else {
        for cpu in bits(targets) {
            send(cpu, CALL_VECTOR);
        }
    }
}

/// Runs `f` on CPU `cpu` and waits for it to finish.
pub fn run_on(cpu: usize, f: &(dyn Fn() + Sync)) {
    assert!(
        cpu < MAX_CPUS && smp::online_mask() & (1 << cpu) != 0,
        "run_on: cpu {cpu} is not online"
    );
    run_on_mask(1u64 << cpu, f);
}

/// Runs `f` on every online CPU (this one included) and waits for all.
pub fn run_on_all(f: &(dyn Fn() + Sync)) {
    run_on_mask(u64::MAX, f);
}

/// Runs `f` on every other online CPU and waits for all.
pub fn run_on_others(f: &(dyn Fn() + Sync)) {
    run_on_mask(!(1u64 << percpu::cpu_index()), f);
}

/// The set bits of `mask`, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let i = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(i)
    })
}

/// Wake-up IPIs CPU `cpu` received.
pub fn wakeups(cpu: usize) -> u64 {
    COUNTERS[cpu].wakeups.load(Ordering::Relaxed)
}

/// Cross-call functions CPU `cpu` ran for others.
pub fn calls_served(cpu: usize) -> u64 {
    COUNTERS[cpu].calls.load(Ordering::Relaxed)
}
