//! The TLB epoch's memory side: when a frame of a lazily unmapped kernel
//! page may be reused (the limbo), and the one unmap-and-recycle function.
//!
//! All CPUs share the kernel page tables, but each caches translations in its
//! own TLB, and not only for pages it "uses": goroutine stacks are read and
//! written by CPUs that never run the goroutine (cross-call closures, timers
//! on a sleeper's stack sifted by other CPUs, a sender writing into a parked
//! receiver), and a CPU may cache any present translation speculatively.
//! After a page is unmapped, another CPU may still reach the old frame
//! through a stale entry; the frame may be reused only once no TLB can hold
//! one. Two ways to get there, both through [`unmap`]:
//!
//! - [`Recycle::Shootdown`] ([`unmap_and_free`]): `arch::tlb::shootdown`
//!   (every online CPU flushes the range and acknowledges), then the frames
//!   are freed. The caller must hold no lock another CPU may spin on with
//!   interrupts off.
//! - [`Recycle::Lazy`]: the frames go to the **limbo** tagged with a
//!   generation and are recycled once every online CPU has flushed its TLB
//!   since ([`reclaim`]); nothing is sent and nothing is waited for while
//!   the caller holds a lock, so code holding locks may unmap this way (not
//!   interrupt handlers: the limbo's lock is a plain spin lock). Goroutine
//!   stacks (`sched/stack.rs`) unmap this way. See "The TLB epoch" below.
//!
//! The per-CPU half (the generation GEN, each CPU's SEEN, flush points, the
//! idle bit) is hardware state and lives in `arch::tlb`; this module owns
//! the limbo, the PTE encoding of a lazily unmapped page and the page-table
//! walks.
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::tlb::{self, flush_local, passed, shootdown};
use crate::layout::PAGE_SIZE;
use crate::lock::{SpinGuard, SpinLock, locks_held};
use crate::mem::{frame, paging};

// ---------------------------------------------------------------------------
// The TLB epoch
//
// Frames unmapped lazily are recycled by generation, the way Linux's x86
// `tlb_gen` lets a CPU catch up on flushes it missed, or RCU waits for a
// grace period. Why not shoot down at once: the unmap happens where a lock
// may be held (`park_m` shrinks with the wait-queue lock held), and waiting
// for other CPUs' answers with a lock held deadlocks against a CPU spinning
// on that lock with interrupts off.
//
// GEN is the global generation. A lazy unmap, holding LIMBO's lock, makes
// the PTEs not present and tags the range GEN+1 (one limbo entry): it waits
// for a generation that has not started. Every online CPU passes *flush
// points* (`arch::tlb::flush_point`): its scheduler loop on g0 (`stack::flush_point`, once per round,
// before it runs the goroutine it found), its timer tick (at least every
// millisecond while it runs goroutines), leaving idle, and a forced epoch's
// cross-call. At a flush point a CPU reads GEN and, if it moved since
// SEEN[cpu], flushes its TLB (a CR3 reload) and stores GEN into SEEN[cpu].
// Someone on g0 starts the generation the waiting entries need (GEN = their
// tag) at most every EPOCH_NS, sooner under pressure: each generation costs
// every CPU one full flush. Entries whose tag is <= every online CPU's SEEN
// are recyclable: their frames go to a reserve that wants a batch, or stay
// in limbo (like Go's stack pool) until one does or the limbo is under
// pressure, then to the frame allocator.
//
// Why this is enough: a frame tagged t was unmapped before GEN became t
// (the lock orders the PTE stores before the GEN store), so a CPU that read
// GEN >= t and then flushed holds no translation to it, and cannot load one
// again (the PTE is not present). Fence pairs, all SeqCst:
//
//  1. unmap: PTE stores; (unlock) ... (lock) GEN.store(t)     [advance]
//     flush point: GEN.load() == t; CR3 reload; SEEN.store(t)
//     The GEN load reads the store that the PTE stores happen before, so
//     the page walks after the serialising CR3 write see them.
//  2. flush point: SEEN.store(t) after the CR3 reload
//     reclaim: SEEN.load() >= t, then the frame is recycled
//     A CPU only claims t once its TLB is clean.
//
// Idle CPUs. A halted CPU passes no flush point, and must not hold the
// epoch back forever: right before `sti; hlt` (interrupts off) it sets the
// IDLE bit in SEEN, and the reclaimer treats it as having passed every
// generation. It executes nothing while the bit is set, so it uses no
// translation (its TLB may still hold stale ones, even speculatively
// loaded ones: harmless while unused). Leaving idle, first thing in every
// interrupt handler and after `hlt` returns, it clears the bit and flushes
// if GEN moved since SEEN, before it touches anything:
//
//  3. leave_idle: SEEN.store(s & !IDLE); GEN.load()
//     reclaim:    GEN.load() >= t;       SEEN.load() has IDLE
//     If the reclaimer saw IDLE, its SEEN load came before the store that
//     cleared it, so the waking CPU's GEN load comes after the reclaimer's
//     GEN load: it sees >= t and flushes (Dekker: each side stores, then
//     loads what the other stores; SeqCst forbids both missing).
//
// Regrowing a page before its frame is recycled. A lazy unmap leaves the
// frame's address and the (truncated) tag in the not-present PTE (x86
// ignores every other bit of a not-present entry). Mapping that page again
// with a *new* frame while another CPU still caches the old translation
// would make that CPU read and write the old frame: the goroutine's own data
// would fork (a cross-call closure read from the old frame crashed the
// target CPU in a test without this). So the owner's fault path
// [`regain`]s the old frame (the PTE goes back to present with the same
// frame) as long as it is in limbo, and the reclaimer recycles a frame only
// if the PTE still holds exactly what that unmap left there (a
// compare-exchange, so exactly one of them wins; a page regained and
// unmapped again carries the newer tag, and the newer entry governs it).
// Once the reclaimer has won, every CPU has flushed: the page may map any
// frame. Tags in the PTE are truncated to TAG_BITS: a remembered PTE
// always has a live entry with its tag, a live entry is fewer than
// LIMBO_ENTRIES generations old (each generation needs a newer entry, and
// the ring is FIFO), so a truncated tag never matches another live one.
//
// The goroutine itself must not run through a stale translation of its
// own unmapped pages either (it would not fault, and would write into a
// frame that is about to be recycled): the unmapping CPU flushes the range
// at once, and `stack::flush_point` flushes it on a CPU that has neither
// done so nor passed the generation before the goroutine runs there.
//
// What if a CPU stops for 10 us anywhere? Holding LIMBO's lock: GEN cannot
// move, others' lazy unmaps wait for the lock (bounded: no lock taker waits
// for anything while holding it), flush points do not need it. Between its
// GEN load and SEEN store: SEEN is only late, recycling waits. A reclaimer
// between its SEEN loads and recycling: the CPUs it counted have flushed
// already, or are idle and will flush on waking. The owner between reading
// a remembered PTE and regaining it: the compare-exchange fails if the
// frame was recycled meanwhile (then every CPU has flushed; a fresh frame is
// fine).
//
// Bounded memory: the limbo holds at most LIMBO_CAP frames (16 MiB) in at
// most LIMBO_ENTRIES entries; above LIMBO_PRESSURE frames (4 MiB)
// generations start at once and recyclable frames go to the frame
// allocator. A lazy unmap that finds the limbo full recycles what it can;
// if still full and the caller holds no lock, it forces the epoch
// ([`force_epoch`]: a new generation, then a cross-call making each CPU
// that lags pass a flush point: the only wait, and only with no lock held);
// holding a lock, it stops there and says how far it got (a stack shrink is
// then partial or skipped: the rest stays mapped and counted, and is
// trimmed at a later safe point).
//
// Not covered: the NMI handler (a diagnostic dump of a dying kernel) may
// read through a stale translation while its CPU is marked idle; it only
// reads.

/// Frames the limbo holds at most (16 MiB).
pub const LIMBO_CAP: usize = 4096;

/// Unmaps (page ranges) the limbo remembers at most. Each generation
/// needs a newer entry, so a live tag is never this many generations old.
const LIMBO_ENTRIES: usize = 2048;

/// One lazy unmap covers at most this many pages (longer ranges take
/// several entries).
const MAX_RANGE_PAGES: u64 = 256;

/// A generation starts at most this often (unless the limbo is under
/// pressure): each one costs every CPU a full TLB flush.
const EPOCH_NS: u64 = 1_000_000;

/// Recyclable frames stay in limbo until a reserve wants them or a page
/// regains them (like Go's stack pool, they are kept for the next stack
/// that grows), unless the limbo holds more than this: then generations
/// start at once and recycled frames beyond what reserves want go to the
/// frame allocator.
const LIMBO_PRESSURE: u64 = LIMBO_CAP as u64 / 4;

/// Bits of the tag kept in a lazily unmapped PTE: bits 1..=11 and 52..=62.
const TAG_BITS: u32 = 22;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const _: () = assert!(LIMBO_ENTRIES < 1 << (TAG_BITS - 1));
const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;
const PTE_PRESENT: u64 = 1;
const PTE_GLOBAL: u64 = 1 << 8;

/// The not-present PTE a lazy unmap leaves: the frame and the tag.
fn remembered(pa: u64, tag: u64) -> u64 {
    let t = tag & TAG_MASK;
    pa | ((t & 0x7ff) << 1) | ((t >> 11) << 52)
}

/// Does `pte` remember a frame unmapped with `tag`?
fn remembers(pte: u64, tag: u64) -> bool {
    pte & PTE_PRESENT == 0 && pte != 0 && pte == remembered(pte & PTE_ADDR, tag)
}

/// One lazy unmap: the frames are in the (not-present) PTEs of the range.
#[derive(Clone, Copy)]
struct Entry {
    va: u64,
    pages: u64,
    /// The generation every CPU must pass.
    tag: u64,
}

/// The unmaps waiting for a generation: a FIFO ring, oldest (lowest tag)
/// first.
struct Limbo {
    ring: [Entry; LIMBO_ENTRIES],
    head: usize,
    len: usize,
    /// The highest tag in the ring (0: none yet).
    newest: u64,
    /// When the last generation started (ns).
    started: u64,
}

/// Nothing is waited for while it is held, and only the frame allocator's
/// lock is taken under it (recycled frames go to their owner under it).
/// Never taken in interrupt handlers (the tick only flushes).
static LIMBO: SpinLock<Limbo> = SpinLock::new(Limbo {
    ring: [Entry {
        va: 0,
        pages: 0,
        tag: 0,
    }; LIMBO_ENTRIES],
    head: 0,
    len: 0,
    newest: 0,
    started: 0,
});

/// Lock-free hints for the fast paths (written under the lock): the oldest
/// entry's tag (u64::MAX: empty), the newest tag.
static OLDEST: AtomicU64 = AtomicU64::new(u64::MAX);
static NEWEST: AtomicU64 = AtomicU64::new(0);
static LIMBO_LEN: AtomicU64 = AtomicU64::new(0);
/// Frames in limbo: unmapped lazily, neither recycled nor regained yet.
static LIMBO_FRAMES: AtomicU64 = AtomicU64::new(0);

/// How [`unmap`] recycles the frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Recycle {
    /// Shoot the range down on every CPU, then free the frames. The caller
    /// holds no lock another CPU may spin on with interrupts off.
    Shootdown,
    /// To the limbo, recycled once every CPU has passed a flush point.
    /// Never sends or waits for an IPI while the caller holds a lock.
    Lazy,
}

/// What [`unmap`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Unmapped {
    /// Frames unmapped.
    pub frames: u64,
    /// Pages covered from `start`: all of them, unless the limbo was full
    /// (and the caller held a lock) before the end (lazy unmaps go from the
    /// lowest page up).
    pub pages: u64,
    /// The generation the frames wait for (lazy; 0 for a shootdown).
    pub tag: u64,
}

/// Unmaps the mapped pages among `npages` pages from `start` (pages not
/// mapped are skipped) and recycles their frames as `how` says; this CPU's
/// TLB is flushed for the range before returning. The page tables must
/// exist and stay (they are walked without the page-table lock: see
/// `paging::pte`). The one unmap-and-recycle function.
pub fn unmap(start: u64, npages: u64, how: Recycle) -> Unmapped {
    let first = start & !(PAGE_SIZE - 1);
    let end = first + npages * PAGE_SIZE;
    match how {
        Recycle::Shootdown => {
            const BATCH: usize = 64;
            let mut freed = 0;
            let mut page = first;
            while page < end {
                let batch_start = page;
                let mut frames = [0u64; BATCH];
                let mut n = 0;
                let pages = ((end - page) / PAGE_SIZE).min(BATCH as u64);
                each_pte(page, pages, |va, pte| {
                    if let Some(pa) = take(va, pte, 0) {
                        frames[n] = pa;
                        n += 1;
                    }
                });
                page += pages * PAGE_SIZE;
                shootdown(batch_start, page - batch_start);
                for &pa in &frames[..n] {
                    free_frame(pa);
                }
                freed += n as u64;
            }
            Unmapped {
                frames: freed,
                pages: npages,
                tag: 0,
            }
        }
        Recycle::Lazy => {
            let mut done = Unmapped {
                frames: 0,
                pages: 0,
                tag: 0,
            };
            let mut page = first;
            while page < end {
                let pages = ((end - page) / PAGE_SIZE).min(MAX_RANGE_PAGES);
                let Ok(mut limbo) = limbo_with_room(pages) else {
                    break;
                };
                // GEN moves only under this lock, after our PTE stores: the
                // frames wait for the generation after the current one.
                let tag = tlb::generation() + 1;
                let mut n = 0;
                each_pte(page, pages, |va, pte| {
                    if take(va, pte, tag).is_some() {
                        n += 1;
                    }
                });
                if n != 0 {
                    let l = &mut *limbo;
                    let i = (l.head + l.len) % LIMBO_ENTRIES;
                    l.ring[i] = Entry {
                        va: page,
                        pages,
                        tag,
                    };
                    l.len += 1;
                    l.newest = tag;
                    publish_hints(l);
                    LIMBO_FRAMES.fetch_add(n, Ordering::Relaxed);
                    done.tag = tag;
                }
                drop(limbo);
                done.frames += n;
                done.pages += pages;
                page += pages * PAGE_SIZE;
            }
            // This CPU at once: the goroutine whose stack this was may run
            // here next, without a flush point in between.
            flush_local(first, done.pages * PAGE_SIZE);
            done
        }
    }
}

/// Unmaps `npages` kernel pages from `start`, shoots the range down on every
/// CPU, then frees the frames (never before every CPU acknowledged). Pages
/// that were not mapped are skipped. Returns the number of frames freed.
pub fn unmap_and_free(start: u64, npages: u64) -> u64 {
    unmap(start, npages, Recycle::Shootdown).frames
}

/// Calls `f(va, pte)` for each of `pages` pages from `va` whose page
/// tables exist, with one table walk per 2 MiB.
fn each_pte(mut va: u64, pages: u64, mut f: impl FnMut(u64, &AtomicU64)) {
    let end = va + pages * PAGE_SIZE;
    while va < end {
        let left = (end - va) / PAGE_SIZE;
        match paging::pte_run(va) {
            Some(run) => {
                let n = (run.len() as u64).min(left);
                for (i, pte) in run[..n as usize].iter().enumerate() {
                    f(va + i as u64 * PAGE_SIZE, pte);
                }
                va += n * PAGE_SIZE;
            }
            // No table: skip to the next 2 MiB.
            None => va = ((va >> 21) + 1) << 21,
        }
    }
}

/// Clears `pte` (of page `va`) if present, leaving `remembered(frame,
/// tag)` in it (0 for tag 0); returns the frame.
fn take(va: u64, pte: &AtomicU64, tag: u64) -> Option<u64> {
    let mut old = pte.load(Ordering::Acquire);
    loop {
        if old & PTE_PRESENT == 0 {
            return None;
        }
        let pa = old & PTE_ADDR;
        debug_assert!(
            tag == 0 || old & PTE_GLOBAL == 0,
            "lazy unmap of a global page {va:#x}: a CR3 reload would not flush it"
        );
        let new = if tag == 0 { 0 } else { remembered(pa, tag) };
        match pte.compare_exchange(old, new, Ordering::SeqCst, Ordering::Acquire) {
            Ok(_) => return Some(pa),
            Err(now) => old = now,
        }
    }
}

fn free_frame(pa: u64) {
    let f =
        ::x86_64::structures::paging::PhysFrame::containing_address(::x86_64::PhysAddr::new(pa));
    // SAFETY: the frame was mapped only at the page just unmapped, and every
    // CPU flushed that page from its TLB (shootdown) or has passed a flush
    // point since (epoch); nobody else owns it.
    unsafe { frame::free(f) };
}

/// The limbo's lock with room for an entry of `pages` pages. A full limbo
/// first recycles what every CPU has passed; if that is not enough and the
/// caller holds no lock, the epoch is forced (and what it frees recycled);
/// holding a lock, a full limbo is an error (nothing may wait).
fn limbo_with_room(pages: u64) -> Result<SpinGuard<'static, Limbo>, LimboFull> {
    let mut forced = false;
    // Bounded: other CPUs may refill the limbo as fast as we empty it.
    for _ in 0..8 {
        let limbo = LIMBO.lock();
        if limbo.len < LIMBO_ENTRIES
            && LIMBO_FRAMES.load(Ordering::Relaxed) + pages <= LIMBO_CAP as u64
        {
            return Ok(limbo);
        }
        drop(limbo);
        if reclaim(0, &mut free_frame) != 0 {
            continue;
        }
        // (Our own hold of LIMBO is released: these are the caller's.)
        if forced || locks_held() != 0 {
            break;
        }
        force_epoch();
        forced = true;
    }
    Err(LimboFull)
}

/// The limbo is full and the caller holds a lock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LimboFull;

/// Refreshes the lock-free hints (under the lock).
fn publish_hints(l: &Limbo) {
    let oldest = if l.len == 0 {
        u64::MAX
    } else {
        l.ring[l.head].tag
    };
    OLDEST.store(oldest, Ordering::Relaxed);
    NEWEST.store(l.newest, Ordering::Relaxed);
    LIMBO_LEN.store(l.len as u64, Ordering::Relaxed);
}

/// Starts the generation the limbo's newest frames wait for, if it has not
/// started and it is time (or `now`).
fn advance(l: &mut Limbo, now: bool) {
    let cur = tlb::generation();
    if l.newest <= cur {
        return;
    }
    let t = crate::clock::now_ns();
    if now
        || t.saturating_sub(l.started) >= EPOCH_NS
        || LIMBO_FRAMES.load(Ordering::Relaxed) >= LIMBO_PRESSURE
        || l.len >= LIMBO_ENTRIES / 2
    {
        // Fence pair 1: the PTE stores of every entry tagged `newest`
        // happen before this store (they were made under this lock).
        tlb::start_generation(l.newest);
        l.started = t;
    }
}

/// The scheduler's flush point (on g0): starts the generation waiting
/// frames need when it is time, flushes this CPU's TLB if GEN moved, then
/// recycles what every CPU has passed: up to `want` frames into `sink`, the
/// rest stays in limbo (or, under pressure, goes to the frame allocator).
/// Never waits: a contended limbo lock is left for the next round. A few
/// atomic loads when there is nothing to do.
pub fn scheduler_flush_point(want: usize, sink: &mut dyn FnMut(u64)) {
    if NEWEST.load(Ordering::Relaxed) > tlb::generation()
        && let Some(mut l) = LIMBO.try_lock()
    {
        advance(&mut l, false);
    }
    tlb::flush_point();
    if (want != 0 || under_pressure(LIMBO_LEN.load(Ordering::Relaxed) as usize))
        && OLDEST.load(Ordering::Relaxed) <= tlb::generation()
    {
        reclaim_with(want, sink, true);
    }
}

/// Recycles the limbo's entries every online CPU has passed: up to `want`
/// of their frames into `sink` (which owns them from then on); the others
/// stay in limbo (a page may regain its frame, a reserve may want it later)
/// unless the limbo is under pressure (many frames, or many entries), then
/// they go to the frame allocator. Returns the frames that left the limbo.
pub fn reclaim(want: usize, sink: &mut dyn FnMut(u64)) -> u64 {
    reclaim_with(want, sink, false)
}

/// Too many frames or entries in limbo: recycle whatever may be, even
/// without a reserve wanting it (`len`: entries).
fn under_pressure(len: usize) -> bool {
    len >= LIMBO_ENTRIES / 2 || LIMBO_FRAMES.load(Ordering::Relaxed) > LIMBO_PRESSURE
}

fn reclaim_with(want: usize, sink: &mut dyn FnMut(u64), try_only: bool) -> u64 {
    let mut l = if try_only {
        match LIMBO.try_lock() {
            Some(l) => l,
            None => return 0,
        }
    } else {
        LIMBO.lock()
    };
    // Fence pair 3: GEN first, then the CPUs' SEEN.
    let upto = passed(tlb::generation());
    let drain = under_pressure(l.len);
    let mut n = 0;
    // The frames go to their new owner under the lock (a reserve push, or
    // the frame allocator's lock: a leaf): no buffer to fill and copy.
    while l.len > 0 && (drain || (n as usize) < want) {
        let e = l.ring[l.head];
        if e.tag > upto {
            break;
        }
        l.head = (l.head + 1) % LIMBO_ENTRIES;
        l.len -= 1;
        each_pte(e.va, e.pages, |_, pte| {
            // Recycle only if the PTE still holds what this unmap left
            // (else the owner regained the frame, and a newer entry, if any,
            // governs it).
            let v = pte.load(Ordering::Relaxed);
            if remembers(v, e.tag)
                && pte
                    .compare_exchange(v, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                if (n as usize) < want {
                    sink(v & PTE_ADDR);
                } else {
                    free_frame(v & PTE_ADDR);
                }
                n += 1;
            }
        });
    }
    LIMBO_FRAMES.fetch_sub(n, Ordering::Relaxed);
    publish_hints(&l);
    n
}

/// Forces the epoch: starts the newest waiting generation now and makes
/// every online CPU that is not idle and has not passed it run a flush
/// point (cross-call), then returns. The one place the epoch waits for
/// other CPUs: the caller must hold no lock.
pub fn force_epoch() {
    if locks_held() != 0 {
        crate::panic::fatal(format_args!(
            "tlb: forcing the epoch while holding {} lock(s) (another CPU may wait for one with \
             interrupts off and never answer)",
            locks_held()
        ));
    }
    advance(&mut LIMBO.lock(), true);
    tlb::flush_lagging();
}

/// The owner's fault path, re-mapping a lazily unmapped page (interrupts
/// off, no lock): if `pte` remembers a frame still in limbo, makes it
/// present again with that frame and `flags` and returns true; false if it
/// remembers none (then every CPU has flushed since the page's unmap, and
/// any frame may be mapped there). Lock-free.
pub fn regain(pte: &AtomicU64, flags: u64) -> bool {
    let old = pte.load(Ordering::Acquire);
    if old == 0 || old & PTE_PRESENT != 0 {
        return false;
    }
    // Races only with the reclaimer's compare-exchange to 0.
    if pte
        .compare_exchange(
            old,
            (old & PTE_ADDR) | flags,
            Ordering::SeqCst,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        LIMBO_FRAMES.fetch_sub(1, Ordering::Relaxed);
        true
    } else {
        false
    }
}

/// Frames in limbo now (unmapped, not yet recyclable): memory accounting
/// counts them as in use, not lost.
pub fn limbo_frames() -> u64 {
    LIMBO_FRAMES.load(Ordering::Relaxed)
}

/// The tag of the limbo entry holding the frame at `pa`, if any. A scan
/// under the limbo's lock (for tests and leak checks).
fn limbo_tag_of(pa: u64) -> Option<u64> {
    let pa = pa & PTE_ADDR;
    let l = LIMBO.lock();
    (0..l.len).find_map(|k| {
        let e = l.ring[(l.head + k) % LIMBO_ENTRIES];
        let mut found = None;
        each_pte(e.va, e.pages, |_, pte| {
            let v = pte.load(Ordering::Relaxed);
            if remembers(v, e.tag) && v & PTE_ADDR == pa {
                found = Some(e.tag);
            }
        });
        found
    })
}

/// Is the frame at `pa` in limbo (unmapped lazily, not recycled, not
/// regained)? For tests and leak checks.
pub fn frame_in_limbo(pa: u64) -> bool {
    limbo_tag_of(pa).is_some()
}

/// Is the frame at `pa` in limbo with every online CPU past its generation
/// (recyclable now: no TLB can hold a translation to it)? For tests.
pub fn frame_recyclable(pa: u64) -> bool {
    limbo_tag_of(pa).is_some_and(tlb::passed_everywhere)
}
