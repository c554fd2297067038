//! Deadlock detection (Go's `checkdead`), expected-failure test: main
//! waits on a WaitGroup nobody will ever `done`, while a second goroutine
//! waits on a semaphore nobody releases and a system goroutine waits
//! forever too. Every CPU goes idle; the last one finds every user
//! goroutine parked, no timer, no interrupt source: Go's message, then the
//! dump of the user goroutines (not the system one), status 2.
//!
//! The first case proves what is *not* a deadlock, in the same boot: a
//! goroutine blocked forever while main sleeps (a pending timer) and then
//! goes on; a goroutine waiting on an interrupt source while all others
//! wait too, until an interrupt handler readies it; and the report-only
//! mode, which prints and carries on.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;

use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::hw::{apic, ipi};
use gmpos::testing::sched::{
    G, READY_WINDOW_DELAY_NS, Sema, WaitReason, deadlock_reports, external_wait, getg, go_system,
    gopark, goready, nwaiting, preempt_disable, set_report_only,
};
use gmpos::{WaitGroup, go, num_goroutine, sleep};

gmpos::qemu_test! {
    config: "
        smp=1,2
        timeout=60
        expect=fatal error: all goroutines are asleep - deadlock!
        expect=goroutine 1 [sync.WaitGroup.Wait]:
        expect=goroutine 6 [park]:
        expect=goroutine 2 [park]:
    ",
}

#[gmpos::test]
fn not_a_deadlock_while_a_timer_or_an_interrupt_can_wake() {
    // A goroutine blocked forever (goroutine 2, on a semaphore) is no
    // deadlock while main sleeps: main's timer will wake it.
    let forever = Arc::new(Sema::new(0));
    let f = forever.clone();
    go(move || f.acquire(WaitReason::Park));
    while nwaiting() < 1 {
        gmpos::gosched();
    }
    sleep(Duration::from_millis(20));
    assert_eq!(num_goroutine(), 2);
    // A system goroutine waiting forever is not counted at all.
    let sys = Arc::new(Sema::new(0));
    let s = sys.clone();
    go_system(move || s.acquire(WaitReason::Park));
    sleep(Duration::from_millis(5));
    assert_eq!(num_goroutine(), 2, "a system goroutine was counted");
    // Main waits on an interrupt source (here: its own CPU's IPI handler
    // will ready it) while every other user goroutine waits too: not a
    // deadlock, because an interrupt may still come.
    interrupt_wakes_main();
    timer_in_flight_is_no_deadlock();
    report_only_mode_prints_and_goes_on();
    gmpos::test_note!("no deadlock reported while a timer or an interrupt could wake");
}

/// The vector of the test's own interrupt, which readies main.
const WAKE_VECTOR: u8 = 0x71;
static PARKED: AtomicUsize = AtomicUsize::new(0);
static WOKEN: AtomicBool = AtomicBool::new(false);

fn on_wake(_: &mut TrapFrame) {
    apic::eoi();
    let g = PARKED.swap(0, Ordering::SeqCst);
    if g != 0 {
        WOKEN.store(true, Ordering::SeqCst);
        // SAFETY: `g` is main, parked (it stored itself before parking as an
        // external waiter, and only this handler readies it).
        goready(unsafe { NonNull::new_unchecked(g as *mut G) });
    }
}

/// Main parks as an external waiter; 30 ms later a system goroutine (whose
/// sleep is not a user timer) interrupts main's CPU, whose handler readies
/// main. Meanwhile every user goroutine is parked and every CPU idle: only
/// the external mark keeps the check from calling it a deadlock.
fn interrupt_wakes_main() {
    trap::register(WAKE_VECTOR, on_wake);
    let cpu = gmpos::testing::hw::cpu_index();
    go_system(move || {
        sleep(Duration::from_millis(30));
        ipi::send(cpu, WAKE_VECTOR);
    });
    let pin = preempt_disable();
    PARKED.store(getg() as usize, Ordering::SeqCst);
    external_wait();
    drop(pin);
    gopark(None, WaitReason::Park);
    assert!(WOKEN.load(Ordering::SeqCst));
}

/// A sleeper's timer has left its heap but not yet readied it (stalled
/// there 200 us, while the other CPU is woken and goes idle again, checking
/// for a deadlock): at that moment every user goroutine is parked and no
/// timer is pending, yet it is no deadlock (the wake-up is in flight:
/// `deadlock::Waking`).
fn timer_in_flight_is_no_deadlock() {
    if gmpos::num_cpu() < 2 {
        return;
    }
    READY_WINDOW_DELAY_NS.store(200_000, Ordering::Relaxed);
    for _ in 0..20 {
        sleep(Duration::from_millis(1));
    }
    READY_WINDOW_DELAY_NS.store(0, Ordering::Relaxed);
}

/// Report-only mode (the later serial shell's): a real deadlock (main and
/// goroutine 2 parked, no user timer, no interrupt source) is reported once
/// and the kernel keeps running; a system goroutine, which the check does
/// not count, then wakes main.
fn report_only_mode_prints_and_goes_on() {
    set_report_only(true);
    let before = deadlock_reports();
    let gate = Arc::new(Sema::new(0));
    let g2 = gate.clone();
    go_system(move || {
        sleep(Duration::from_millis(30));
        g2.release();
    });
    gate.acquire(WaitReason::Park);
    set_report_only(false);
    assert_eq!(
        deadlock_reports(),
        before + 1,
        "one report for one stuck state"
    );
}

#[gmpos::test]
fn everyone_asleep_is_a_deadlock() {
    // Goroutine 6 (after 2 and the system goroutines 3 to 5 of the first
    // case) waits forever on a semaphore; main waits forever on a
    // WaitGroup; goroutine 2 still waits. Nothing can wake them. The dump
    // shows main first, then the others, and no system goroutine.
    let never = Arc::new(Sema::new(0));
    let n = never.clone();
    go(move || n.acquire(WaitReason::Park));
    let wg = WaitGroup::new();
    wg.add(1);
    wg.wait();
    unreachable!("woke from a deadlock");
}
