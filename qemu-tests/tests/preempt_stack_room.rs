//! Asynchronous preemption needs room on the goroutine's stack: the injected
//! call to `async_preempt` pushes its register-save frame and then calls
//! `async_preempt2` -> `mcall`. A goroutine spinning just above its guard page
//! must not be preempted there (the frames would land in the guard page: a
//! false "stack overflow"); the request stays pending and the spinner ends
//! by itself. With exactly `ASYNC_PREEMPT_STACK` bytes of room it is
//! preempted, the frames stay inside that room (measured with a fill
//! pattern), and the room may be unmapped (the injection grows the stack).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::sync::Arc;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, Ordering};

use gmpos::arch::preempt::ASYNC_PREEMPT_STACK;
use gmpos::layout::PAGE_SIZE;
use gmpos::sched::m::getg;
use gmpos::sched::preempt::counters;
use gmpos::time::{now_ns, ns_to_cycles};
use gmpos::{WaitGroup, go};

gmpos::qemu_test! {
    config: "
        smp=1,2
        icount=1
        args=slice=100us
        timeout=120
    ",
    cases: [spin_just_above_guard_page, preempted_with_just_enough_room,
            preempted_with_just_enough_unmapped_room],
}

/// How long each spinner runs (virtual time under icount): hundreds of
/// 100 us slices, so the timer asks for preemption hundreds of times.
const SPIN_NS: u64 = 50_000_000;

/// The lowest usable address of the current goroutine's stack: its window's
/// base plus the guard page.
fn guard_top() -> u64 {
    // SAFETY: the current G is live while it runs.
    let g = unsafe { &*getg() };
    g.stack_window.load(Ordering::Relaxed) + PAGE_SIZE
}

fn rsp() -> u64 {
    let sp: u64;
    // SAFETY: reads RSP into a register; touches nothing else.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// Recurses with 1 KiB frames until RSP is within `slack` bytes of `sp` (so
/// the stack is really grown down to there, as a deep goroutine's is), then
/// spins with RSP at `sp` until the TSC reaches `until`.
#[inline(never)]
fn descend(sp: u64, slack: u64, until: u64) -> u64 {
    let mut buf = [0u8; 1024];
    black_box(&mut buf);
    if rsp() > sp + slack {
        let r = descend(sp, slack, until);
        return r + black_box(&buf)[0] as u64;
    }
    spin_at(sp, until)
}

/// Moves RSP down to `sp` (below this frame: nothing live there) and spins
/// there without calls or memory accesses until the TSC passes `until`:
/// only an asynchronous preemption can interrupt it, with exactly that RSP.
/// Returns the RSP it spun at.
#[inline(never)]
fn spin_at(sp: u64, until: u64) -> u64 {
    assert!(rsp() > sp + 256, "spin_at: {sp:#x} is not below this frame");
    // SAFETY: RSP moves into this goroutine's own stack window, below every
    // live frame, and is restored before the block ends; interrupts go to IST
    // stacks, so nothing is pushed at the moved RSP. `pause` is the
    // busy-wait hint (core::hint::spin_loop's instruction), inline because a
    // call would push a frame.
    unsafe {
        core::arch::asm!(
            "mov {saved}, rsp",
            "mov rsp, {sp}",
            // Spin work (a counter), then the busy-wait hint and a clock
            // read: both stop QEMU's translated code, so not every round.
            "2:",
            "mov ecx, 4096",
            "3:",
            "dec ecx",
            "jnz 3b",
            "pause",
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "cmp rax, {until}",
            "jb 2b",
            "mov rsp, {saved}",
            sp = in(reg) sp,
            until = in(reg) until,
            saved = out(reg) _,
            out("rax") _,
            out("rcx") _,
            out("rdx") _,
        );
    }
    sp
}

/// What the room below the spinning RSP is filled with, to see how deep
/// the injection wrote.
const PATTERN: u64 = 0x5a5a_c3c3_a5a5_3c3c;

/// How the room below the spinning RSP is prepared.
#[derive(Clone, Copy, PartialEq)]
enum Room {
    /// Filled with PATTERN (mapped), to measure how deep the injection wrote.
    Filled,
    /// Left unmapped: the injection's first write is a growth fault.
    Unmapped,
}

struct Spun {
    async_preempts: u64,
    refused: u64,
    /// Bytes below the spinning RSP that were written (Filled only).
    depth: u64,
}

/// Runs a goroutine that spins for SPIN_NS with RSP `above` bytes over its
/// guard page; counts the preemptions meanwhile.
fn spinner(above: u64, room: Room) -> Spun {
    let wg = Arc::new(WaitGroup::new());
    let depth = Arc::new(AtomicU64::new(0));
    let (a0, _, r0) = counters();
    wg.add(1);
    let (w, d) = (wg.clone(), depth.clone());
    go(move || {
        let lo = guard_top();
        let sp = lo + above;
        // Unmapped: stop recursing a few pages above, so the pages around
        // `sp` are untouched. Filled: recurse close, then fill below.
        let slack = if room == Room::Unmapped {
            3 * PAGE_SIZE
        } else {
            2048
        };
        let until = gmpos::arch::rdtsc() + ns_to_cycles(SPIN_NS);
        let spun = descend_and_fill(sp, slack, until, room);
        assert_eq!(spun, sp);
        if room == Room::Filled {
            // The lowest word no longer holding the pattern.
            let mut a = lo;
            // SAFETY: [lo, sp) was mapped by the fill and nothing is live
            // there (it is below our frames).
            while a < sp && unsafe { core::ptr::read_volatile(a as *const u64) } == PATTERN {
                a += 8;
            }
            d.store(sp - a, Ordering::Relaxed);
        }
        w.done();
    });
    let t0 = now_ns();
    wg.wait();
    let (a1, _, r1) = counters();
    let s = Spun {
        async_preempts: a1 - a0,
        refused: r1 - r0,
        depth: depth.load(Ordering::Relaxed),
    };
    gmpos::test_note!(
        "spun {} ms with RSP {above} bytes above the guard page ({}): {} async preemptions, {} refused{}",
        (now_ns() - t0) / 1_000_000,
        if room == Room::Filled {
            "room mapped"
        } else {
            "room unmapped"
        },
        s.async_preempts,
        s.refused,
        if room == Room::Filled {
            alloc::format!(", deepest write {} bytes below RSP", s.depth)
        } else {
            alloc::string::String::new()
        }
    );
    s
}

/// `descend`, with the room below `sp` filled first when asked.
#[inline(never)]
fn descend_and_fill(sp: u64, slack: u64, until: u64, room: Room) -> u64 {
    if room == Room::Filled {
        let mut a = guard_top();
        while a < sp {
            // SAFETY: inside our window above the guard page and below `sp`,
            // far below RSP (we have not descended yet): nothing live is
            // there (the target has no red zone). A fault grows the stack.
            unsafe { core::ptr::write_volatile(a as *mut u64, PATTERN) };
            a += 8;
        }
    }
    descend(sp, slack, until)
}

fn spin_just_above_guard_page() {
    for above in [64, 96, 128] {
        let s = spinner(above, Room::Unmapped);
        // The timer did ask (and was refused: no room), and we got here: no
        // false stack overflow, the spinner ended by itself.
        assert!(
            s.refused > 0,
            "no preemption was attempted while spinning {above} bytes above the guard page"
        );
    }
}

fn preempted_with_just_enough_room() {
    let s = spinner(ASYNC_PREEMPT_STACK, Room::Filled);
    assert!(
        s.async_preempts > 0,
        "never preempted with ASYNC_PREEMPT_STACK ({ASYNC_PREEMPT_STACK}) bytes of room"
    );
    // The injection's frames (AsyncPreemptFrame, realignment, call chain)
    // fit the room the check demands.
    assert!(
        s.depth > 0 && s.depth <= ASYNC_PREEMPT_STACK,
        "the injection wrote {} bytes below RSP, ASYNC_PREEMPT_STACK is {ASYNC_PREEMPT_STACK}",
        s.depth
    );
}

fn preempted_with_just_enough_unmapped_room() {
    let s = spinner(ASYNC_PREEMPT_STACK, Room::Unmapped);
    assert!(
        s.async_preempts > 0,
        "never preempted with ASYNC_PREEMPT_STACK ({ASYNC_PREEMPT_STACK}) bytes of unmapped room"
    );
}
