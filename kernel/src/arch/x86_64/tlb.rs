//! TLB shootdown and the TLB generations: the hardware half of the TLB
//! epoch (`mem::tlb_epoch` is the other half: the limbo of unmapped frames
//! and their recycling).
//!
//! All CPUs share the kernel page tables, but each caches translations in its
//! own TLB. Two primitives make a stale translation go away everywhere:
//!
//! - [`shootdown`]: every online CPU flushes a range and acknowledges (a
//!   synchronous cross-call whose waiting loop keeps serving incoming
//!   cross-calls, so two CPUs shooting down at once do not deadlock). The
//!   caller must hold no lock another CPU may spin on with interrupts off.
//! - the generations: GEN, started by [`start_generation`], and per CPU the
//!   last generation it flushed its whole TLB for (SEEN), advanced at *flush
//!   points* ([`flush_point`]: the scheduler loop, the timer tick, a forced
//!   epoch's cross-call) and implied while a CPU halts ([`enter_idle`],
//!   [`leave_idle`]). Nothing is sent and nothing is waited for: a frame
//!   unmapped before GEN became t is unreachable from every CPU that has
//!   passed t ([`passed_everywhere`]). The design, the fence pairs and why
//!   they are enough: "The TLB epoch" in `mem/tlb_epoch.rs`.
use core::sync::atomic::{AtomicU64, Ordering};

use ::x86_64::registers::control::{Cr3, Cr4, Cr4Flags};

use super::percpu::{self, MAX_CPUS};
use super::{ipi, smp};
use crate::layout::PAGE_SIZE;

/// Above this many pages, flush the whole TLB instead of page by page.
const FULL_FLUSH_PAGES: u64 = 32;

#[repr(C, align(64))]
struct Counter(AtomicU64);
static FLUSHES: [Counter; MAX_CPUS] = [const { Counter(AtomicU64::new(0)) }; MAX_CPUS];

/// Flushes this CPU's TLB entries for `[start, start + len)`.
pub fn flush_local(start: u64, len: u64) {
    let first = start & !(PAGE_SIZE - 1);
    let end = start.saturating_add(len);
    let pages = end.saturating_sub(first).div_ceil(PAGE_SIZE);
    if pages > FULL_FLUSH_PAGES {
        flush_all_local();
    } else {
        for i in 0..pages {
            ::x86_64::instructions::tlb::flush(::x86_64::VirtAddr::new(first + i * PAGE_SIZE));
        }
    }
    FLUSHES[percpu::cpu_index()]
        .0
        .fetch_add(1, Ordering::Relaxed);
}

/// Flushes this CPU's whole TLB, global entries included.
fn flush_all_local() {
    let cr4 = Cr4::read();
    if cr4.contains(Cr4Flags::PAGE_GLOBAL) {
        // Toggling CR4.PGE flushes everything, global pages included.
        // SAFETY: only the global-page bit changes, and it is restored.
        unsafe {
            Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
            Cr4::write(cr4);
        }
    } else {
        flush_nonglobal_local();
    }
}

/// Flushes this CPU's non-global TLB entries (a CR3 reload; gmpos does not
/// use PCIDs, so that is all of them but the global ones). Lazily unmapped
/// pages are never global (checked in `mem::tlb_epoch::unmap`).
fn flush_nonglobal_local() {
    let (frame, flags) = Cr3::read();
    // SAFETY: reloading the current CR3 changes no translation.
    unsafe { Cr3::write(frame, flags) };
}

/// Flushes `[start, start + len)` from every online CPU's TLB (this one
/// included) and returns once all have done it.
pub fn shootdown(start: u64, len: u64) {
    ipi::run_on_all(&|| flush_local(start, len));
}

/// TLB flushes CPU `cpu` performed for shootdowns (and local flushes).
pub fn flushes(cpu: usize) -> u64 {
    FLUSHES[cpu].0.load(Ordering::Relaxed)
}

/// The generation frames wait for (see "The TLB epoch" in
/// `mem/tlb_epoch.rs`).
static GEN: AtomicU64 = AtomicU64::new(0);

/// SEEN bit: the CPU is idle (between `enter_idle` and `leave_idle`).
const IDLE: u64 = 1 << 63;

/// Per CPU: the generation of its last flush point, `| IDLE` while idle.
/// Starts at 0, not idle: a CPU that has not reached a flush point yet holds
/// recycling back (only at boot).
static SEEN: [Counter; MAX_CPUS] = [const { Counter(AtomicU64::new(0)) }; MAX_CPUS];

/// The current generation. SeqCst: the loads of fence pairs 1 and 3 (a
/// plain load on x86).
pub fn generation() -> u64 {
    GEN.load(Ordering::SeqCst)
}

/// Starts generation `t` (greater than the current one). Fence pair 1: the
/// caller made the PTE stores of every frame tagged `t` before this store
/// (under the limbo's lock).
pub fn start_generation(t: u64) {
    GEN.store(t, Ordering::SeqCst);
}

/// The newest generation every online CPU has passed: `cur` (a GEN value
/// read before), lowered by each CPU that is not idle and has not seen it.
pub fn passed(cur: u64) -> u64 {
    let mut p = cur;
    let mut online = smp::online_mask();
    while online != 0 {
        let cpu = online.trailing_zeros() as usize;
        online &= online - 1;
        // Fence pair 2 (SEEN >= t: that CPU flushed after t began) and 3
        // (IDLE: it will flush before using any translation).
        let s = SEEN[cpu].0.load(Ordering::SeqCst);
        if s & IDLE == 0 {
            p = p.min(s);
        }
    }
    p
}

/// A flush point: if GEN moved since this CPU's last one, flush its TLB and
/// record the generation. Any context (the scheduler on g0, the tick, a
/// forced epoch's cross-call); takes no lock.
pub fn flush_point() {
    // Fast path: this CPU has seen the newest generation (and is not marked
    // idle: an idle SEEN has the IDLE bit, which GEN never has). Read with
    // interrupts on: if a shootdown lands in between, its handler flushes
    // and claims on its own; and returning claims nothing, so a stale read
    // (even from another CPU's slot, were the caller to migrate) can only
    // delay a claim, never make a false one.
    if SEEN[percpu::cpu_index()].0.load(Ordering::Relaxed) == GEN.load(Ordering::Acquire) {
        return;
    }
    super::irq::without(|| {
        let seen = &SEEN[percpu::cpu_index()].0;
        let s = seen.load(Ordering::Relaxed);
        if s & IDLE != 0 {
            // Not expected outside the halt, but harmless: leaving idle is
            // a flush point.
            leave_idle_slow();
            return;
        }
        let cur = GEN.load(Ordering::SeqCst);
        if cur != s {
            flush_nonglobal_local();
            // Fence pair 2: claim `cur` only with a clean TLB.
            seen.store(cur, Ordering::SeqCst);
        }
    })
}

/// This CPU is about to halt (interrupts off, nothing but `sti; hlt`
/// follows): from now on it counts as having passed every generation.
pub fn enter_idle() {
    let seen = &SEEN[percpu::cpu_index()].0;
    seen.store(seen.load(Ordering::Relaxed) | IDLE, Ordering::SeqCst);
}

/// This CPU left `hlt`: before it touches anything, it stops counting as
/// idle and flushes if GEN moved while it slept. Called first thing by every
/// interrupt handler and after `hlt` returns; a load and a branch when not
/// idle.
#[inline]
pub fn leave_idle() {
    if SEEN[percpu::cpu_index()].0.load(Ordering::Relaxed) & IDLE != 0 {
        // Interrupts off: an interrupt in the middle would leave idle
        // itself, and our stores would then move SEEN backwards.
        super::irq::without(leave_idle_slow);
    }
}

fn leave_idle_slow() {
    let seen = &SEEN[percpu::cpu_index()].0;
    let s = seen.load(Ordering::Relaxed);
    if s & IDLE == 0 {
        return;
    }
    // Fence pair 3: clear IDLE, then read GEN (a SeqCst store then a
    // SeqCst load: x86 keeps them in order with the xchg Rust emits).
    seen.store(s & !IDLE, Ordering::SeqCst);
    let cur = GEN.load(Ordering::SeqCst);
    if cur != s & !IDLE {
        flush_nonglobal_local();
        seen.store(cur, Ordering::SeqCst);
    }
}

/// Has this CPU passed generation `tag` (flushed its whole TLB since
/// frames tagged `tag` were unmapped)?
pub fn passed_here(tag: u64) -> bool {
    let s = SEEN[percpu::cpu_index()].0.load(Ordering::Relaxed);
    s & IDLE == 0 && s >= tag
}

/// Has every online CPU passed generation `tag`?
pub fn passed_everywhere(tag: u64) -> bool {
    passed(GEN.load(Ordering::SeqCst)) >= tag
}

/// Makes every online CPU that is not idle and has not passed the current
/// generation run a flush point (a cross-call), then returns; false if none
/// lagged. Waits for other CPUs: the caller holds no lock.
pub fn flush_lagging() -> bool {
    let cur = GEN.load(Ordering::SeqCst);
    let mut lagging = 0u64;
    let mut online = smp::online_mask();
    while online != 0 {
        let cpu = online.trailing_zeros() as usize;
        online &= online - 1;
        let s = SEEN[cpu].0.load(Ordering::SeqCst);
        if s & IDLE == 0 && s < cur {
            lagging |= 1 << cpu;
        }
    }
    if lagging != 0 {
        ipi::run_on_mask(lagging, &flush_point);
    }
    lagging != 0
}
