//! Issue 10 C: the frames of a shrunk goroutine stack are reused only after
//! every CPU has flushed its TLB.
//!
//! CPUs that never run a goroutine still touch its stack (cross-call
//! closures, timers on a sleeper's stack sifted by other CPUs, a channel
//! sender writing into a parked receiver): such a CPU may cache the
//! translation of a stack page that is unmapped later. Here a goroutine grows
//! its stack deep and makes every CPU read its deepest page through a
//! cross-call whose closure lives on that page's stack; then it parks and its
//! stack shrinks while every other CPU is held in an interrupt handler
//! (interrupts off: no scheduler loop, no tick, no idle, hence no flush
//! point), serving cross-calls only. While they are held, the frame of the
//! unmapped page must be in limbo: on no free list and in no reserve. Once
//! they are let go and every CPU has passed a flush point, reading the
//! unmapped page faults on every CPU.
//!
//! `regrown_page_keeps_its_frame` guards the other half of the rule: a page
//! that grows back before the epoch has passed gets its old frame back, so a
//! CPU still holding the old translation reads what the goroutine wrote.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::String;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::now_ns;
use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::hw::{apic, ipi, percpu, probe_read, smp};
use gmpos::testing::mem::{frame, paging};
use gmpos::testing::sched::AcquireM;
use gmpos::testing::sched::Sema;
use gmpos::testing::sched::m;
use gmpos::testing::sched::stack::{self, STATS};
use gmpos::testing::sched::{G, Status, WaitReason};

gmpos::qemu_test! {
    config: "
        smp=2,4
        timeout=60
    ",
}

// --- holding the other CPUs -------------------------------------------------

const HOLD_VECTOR: u8 = 0x72;
static HOLD: AtomicBool = AtomicBool::new(false);
static HELD: AtomicUsize = AtomicUsize::new(0);

fn on_hold(_: &mut TrapFrame) {
    apic::eoi();
    HELD.fetch_add(1, Ordering::AcqRel);
    // Interrupts stay off: this CPU runs neither its scheduler nor its tick
    // until let go, but it answers cross-calls.
    while HOLD.load(Ordering::Acquire) {
        ipi::service();
        core::hint::spin_loop();
    }
    HELD.fetch_sub(1, Ordering::AcqRel);
}

/// Every other CPU spins in [`on_hold`] while this lives.
struct Held;

impl Drop for Held {
    fn drop(&mut self) {
        HOLD.store(false, Ordering::Release);
        while HELD.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
    }
}

/// Holds the other CPUs where they hold no lock: halted in the idle path.
/// Afterwards the caller and every goroutine it starts run on this CPU only.
fn hold_others() -> Held {
    trap::register(HOLD_VECTOR, on_hold);
    let _pin = AcquireM::new();
    let me = percpu::cpu_index();
    let n = smp::ncpu();
    let deadline = now_ns() + 5_000_000_000;
    for cpu in (0..n).filter(|&c| c != me) {
        while !m(cpu).is_halted() {
            assert!(now_ns() < deadline, "cpu {cpu} never went idle");
            core::hint::spin_loop();
        }
    }
    HOLD.store(true, Ordering::Release);
    for cpu in (0..n).filter(|&c| c != me) {
        ipi::send(cpu, HOLD_VECTOR);
    }
    while HELD.load(Ordering::Acquire) < n - 1 {
        core::hint::spin_loop();
    }
    Held
}

// --- the deep goroutine ---------------------------------------------------

const DEPTH: u32 = 64;
const MAGIC: [u64; 2] = [0x5eed_0000_dead_0001, 0x5eed_0000_dead_0002];

/// Per round: the deep address, its frame, how many CPUs read MAGIC there.
static X: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static PA: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static READERS: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];
/// Per round, at the bottom: the goroutine's mapped stack, all stacks'.
static G_MAPPED: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static ALL_MAPPED: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static ROUNDS: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicBool = AtomicBool::new(false);
static GP: AtomicUsize = AtomicUsize::new(0);
static PARK: Sema = Sema::new(0);

/// ~1 KiB frames down to `DEPTH`: about 70 KiB of stack.
#[inline(never)]
fn descend(n: u32, round: usize) -> u64 {
    let mut buf = [0u8; 1024];
    core::hint::black_box(&mut buf);
    if n == 0 {
        return at_bottom(round);
    }
    descend(n - 1, round).wrapping_add(buf[n as usize % 1024] as u64)
}

#[inline(never)]
fn at_bottom(round: usize) -> u64 {
    let mut cell = 0u64;
    // SAFETY: a live local of ours.
    unsafe { core::ptr::write_volatile(&mut cell, MAGIC[round]) };
    let x = &cell as *const u64 as u64;
    let readers = AtomicUsize::new(0);
    // Every CPU reads the deep page (the closure and `readers` live on this
    // stack too: the real path by which other CPUs cache its translation).
    ipi::run_on_all(&|| {
        if probe_read(x) == Ok(MAGIC[round]) {
            readers.fetch_add(1, Ordering::Relaxed);
        }
    });
    X[round].store(x, Ordering::Relaxed);
    PA[round].store(
        paging::translate(x).expect("deep page mapped").as_u64() & !0xfff,
        Ordering::Relaxed,
    );
    READERS[round].store(readers.load(Ordering::Relaxed), Ordering::Relaxed);
    let me = g();
    G_MAPPED[round].store(
        me.stack_hi.load(Ordering::Relaxed) - me.stack_lo.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
    ALL_MAPPED[round].store(stack::mapped_bytes(), Ordering::Relaxed);
    core::hint::black_box(&mut cell);
    cell
}

/// Starts the goroutine: `rounds` times, go deep, come back, park (the
/// scheduler shrinks the mostly unused stack in `park_m`).
fn start(rounds: usize) {
    ROUNDS.store(0, Ordering::Relaxed);
    FINISHED.store(false, Ordering::Relaxed);
    gmpos::go(move || {
        GP.store(gmpos::testing::sched::getg() as usize, Ordering::Relaxed);
        for round in 0..rounds {
            core::hint::black_box(descend(DEPTH, round));
            ROUNDS.store(round + 1, Ordering::Release);
            PARK.acquire(WaitReason::Park);
        }
        FINISHED.store(true, Ordering::Release);
    });
}

fn g() -> &'static G {
    // SAFETY: set by the goroutine before anything else; Gs are never
    // freed (a dead one goes to the free list).
    unsafe { &*(GP.load(Ordering::Relaxed) as *const G) }
}

/// Waits (on this CPU) until the goroutine parked after `round` rounds.
/// Parking, the shrink and the unlock all happen in `park_m` on this CPU
/// before we run again.
fn wait_parked(round: usize) {
    while ROUNDS.load(Ordering::Acquire) < round
        || GP.load(Ordering::Relaxed) == 0
        || g().status() != Status::Waiting
    {
        gmpos::testing::sched::goyield();
    }
}

fn finish() {
    PARK.release();
    while !FINISHED.load(Ordering::Acquire) {
        gmpos::testing::sched::goyield();
    }
}

/// The CPUs (bitmask) on which reading `x` does not fault.
fn cpus_reading(x: u64) -> u64 {
    let mask = AtomicU64::new(0);
    ipi::run_on_all(&|| {
        if probe_read(x).is_ok() {
            mask.fetch_or(1 << percpu::cpu_index(), Ordering::Relaxed);
        }
    });
    mask.load(Ordering::Relaxed)
}

// --- the cases ----------------------------------------------------------------

#[gmpos::test]
fn shrunk_frames_wait_for_every_cpu() {
    let n = smp::ncpu();
    let held = hold_others();
    let me = percpu::cpu_index();
    let shrinks0 = STATS.shrinks.load(Ordering::Relaxed);
    start(1);
    wait_parked(1);
    let (x, pa) = (X[0].load(Ordering::Relaxed), PA[0].load(Ordering::Relaxed));
    let lo = g().stack_lo.load(Ordering::Relaxed);
    assert_eq!(
        READERS[0].load(Ordering::Relaxed),
        n,
        "not every CPU read the deep page"
    );
    assert!(
        STATS.shrinks.load(Ordering::Relaxed) > shrinks0 && x < lo,
        "the stack did not shrink past the deep page ({x:#x}, mapped from {lo:#x})"
    );
    // The shrink is accounted: mapped bytes drop by what was unmapped, and
    // those frames are counted in limbo.
    let unmapped =
        G_MAPPED[0].load(Ordering::Relaxed) - (g().stack_hi.load(Ordering::Relaxed) - lo);
    assert_eq!(
        ALL_MAPPED[0].load(Ordering::Relaxed) - stack::mapped_bytes(),
        unmapped,
        "stack mapped bytes did not drop by the unmapped size"
    );
    // The other CPUs have passed no flush point since they read the page.
    let in_limbo = stack::frame_in_limbo(pa);
    let free = frame::is_free(pa);
    let reserved = stack::in_reserve(pa);
    let limbo = stack::limbo_frames();
    // The shrinking CPU flushed its own TLB at once.
    let here = probe_read(x);
    drop(held);

    // Let every CPU pass a flush point: the frame becomes recyclable (it
    // then stays in limbo until a reserve wants it) or leaves limbo.
    let waiting = || stack::frame_in_limbo(pa) && !stack::frame_recyclable(pa);
    let t0 = now_ns();
    while waiting() && now_ns() - t0 < 5_000_000_000 {
        gmpos::testing::sched::goyield();
    }
    let drained_us = (now_ns() - t0) / 1000;
    let still_in_limbo = waiting();
    let stale = cpus_reading(x);
    finish();

    let mut report = String::new();
    let mut ok = true;
    if !in_limbo || free || reserved {
        ok = false;
        let _ = write!(
            report,
            "\n  frame {pa:#x} of the unmapped deep page was recycled while the CPUs other than {me} \
             had passed no flush point: in limbo {in_limbo}, free {free}, in a reserve {reserved}"
        );
    }
    if limbo < unmapped / 4096 {
        ok = false;
        let _ = write!(
            report,
            "\n  {limbo} frames counted in limbo after unmapping {} KiB",
            unmapped / 1024
        );
    }
    if here.is_ok() {
        ok = false;
        let _ = write!(
            report,
            "\n  cpu {me} (the shrinker) still read the unmapped page"
        );
    }
    if still_in_limbo {
        ok = false;
        let _ = write!(
            report,
            "\n  frame {pa:#x} still waiting for a flush 5 s after every CPU was let go"
        );
    }
    if stale != 0 {
        ok = false;
        let _ = write!(
            report,
            "\n  after every CPU passed a flush point, CPUs {stale:#b} (bit = cpu) still read the \
             unmapped page at {x:#x}"
        );
    }
    assert!(ok, "stale TLB entries for a shrunk stack:{report}");
    gmpos::test_note!(
        "{n} CPUs: deep page {x:#x} (frame {pa:#x}) in limbo with {limbo} frames until every CPU \
         flushed; recyclable {drained_us} us after the CPUs were let go; then unreadable everywhere"
    );
}

#[gmpos::test]
fn regrown_page_keeps_its_frame() {
    let n = smp::ncpu();
    let held = hold_others();
    start(2);
    wait_parked(1);
    let x0 = X[0].load(Ordering::Relaxed);
    assert_eq!(READERS[0].load(Ordering::Relaxed), n);
    assert!(
        x0 < g().stack_lo.load(Ordering::Relaxed),
        "no shrink past the deep page"
    );
    // The others still cache the old translation of x0. The goroutine goes
    // deep again, writes MAGIC[1] at the same address and has every CPU
    // read it.
    PARK.release();
    wait_parked(2);
    let x1 = X[1].load(Ordering::Relaxed);
    let (pa0, pa1) = (PA[0].load(Ordering::Relaxed), PA[1].load(Ordering::Relaxed));
    let readers = READERS[1].load(Ordering::Relaxed);
    drop(held);
    finish();
    assert_eq!(x0, x1, "the second descent took another path");
    assert_eq!(
        readers, n,
        "{} of {n} CPUs read the regrown page's new contents (frames: {pa0:#x} before the shrink, \
         {pa1:#x} after regrowing)",
        readers
    );
    gmpos::test_note!(
        "{n} CPUs: page {x0:#x} regrown before the epoch passed: frame {pa0:#x} -> {pa1:#x}, \
         every CPU read the new contents"
    );
}
