//! Growable goroutine stacks (Go: runtime/stack.go, rebuilt for a kernel
//! that owns the page tables).
//!
//! Go starts goroutines on 2 KiB stacks and *copies* them to a twice larger
//! stack when they overflow (`morestack` -> `newstack`). Rust frames cannot
//! be relocated, but a kernel can grow a stack in place instead:
//!
//! - Every goroutine stack has its own virtual **window** of `maxstack=`
//!   bytes (default 512 KiB, a power of two; windows are laid out with that
//!   stride from `GSTACK_BASE`). The lowest page of the window is the
//!   **guard page** and is never mapped.
//! - Only the top page is mapped at first (4 KiB: one page is the smallest
//!   unit a page table can map, and Go's 2 KiB would not fit a Rust frame
//!   chain with stack probes anyway).
//! - **Growth**: a page fault inside the current goroutine's window, below
//!   its mapped part, maps every page from the faulting one up to the mapped
//!   part (a new segment directly below the old ones), and the goroutine
//!   resumes as if nothing happened. Rust's inline stack probes touch every
//!   page of a large frame in order, so no frame can jump over the guard.
//!   The fault is handled on the page-fault IST stack and takes no lock: the
//!   window's page tables were created with the window, and frames come
//!   from a per-CPU reserve (Go's per-P `stackcache`) refilled in batches on
//!   g0. If the reserve is empty and the goroutine holds no runtime lock, the
//!   fault path may take the frame allocator's lock; with locks held it stops
//!   with `stack reserve exhausted` rather than risk a deadlock.
//! - **Shrink** (Go: `shrinkstack`): when a goroutine is descheduled at a
//!   safe point using less than a quarter of its mapped stack, the lower half
//!   is unmapped; a goroutine put on the free list keeps its window and top
//!   page only (Go's `gfput` keeps the stack).
//! - **Recycling unmapped frames** (the rule): CPUs other than the ones a
//!   goroutine ran on touch its stack (cross-call closures, timers on a
//!   sleeper's stack sifted by other CPUs, a sender writing into a parked
//!   receiver, dumps), and any CPU may cache a present translation
//!   speculatively. An unmapped frame is therefore reused only after
//!   **every online CPU has flushed its TLB since the unmap**: it waits in
//!   the TLB epoch's limbo (`mem::tlb_epoch`, [`tlb_epoch::Recycle::Lazy`]) until every
//!   CPU has passed a flush point (scheduler loop, tick, idle; halted CPUs
//!   count as flushed and flush on waking), then a reserve takes it when it
//!   wants a batch (or the frame allocator, when the limbo is under
//!   pressure). A shrink sends no IPI and waits for nothing, so it is fine
//!   with the wait-queue lock held (`park_m`). Three consequences:
//!   - the unmapping CPU flushes the range from its own TLB at once (the
//!     goroutine may run there next without a flush point);
//!   - a page regrown while its old frame is still in limbo gets that frame
//!     back (`tlb_epoch::regain`): a CPU still caching the old translation then
//!     reads what the goroutine writes;
//!   - a goroutine runs only on a CPU whose TLB holds no translation for its
//!     unmapped pages: before running it, [`flush_point`] flushes the
//!     goroutine's unmapped range if this CPU neither did the unmap (or ran
//!     the goroutine since) nor has passed the generation of that unmap.
//!
//!   The limbo is bounded ([`tlb_epoch::LIMBO_CAP`] frames). With it full, an
//!   unmap holding no lock forces the epoch (a cross-call); one holding a
//!   lock stops where it is (the shrink is partial or skipped, the rest
//!   stays mapped and counted). [`limbo_frames`] counts the frames in limbo
//!   (memory accounting adds them to what the stacks hold).
//! - **Overflow**: a fault in the guard page prints
//!   `goroutine N: stack overflow: limit L bytes (used U)` and the goroutine
//!   dump, then exits with status 2.
//!
//! Memory per parked goroutine: one 4 KiB stack page, the G, and a share of
//! a page-table page (one 4 KiB level-1 table covers 2 MiB = four 512 KiB
//! windows, i.e. 1 KiB each).
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::g::G;
use crate::arch::{MAX_CPUS, percpu, tlb};
use crate::layout::{DYNAMIC_START, GSTACK_BASE, PAGE_SIZE, PHYS_OFFSET};
use crate::lock::locks_held;
use crate::mem::frame;
use crate::mem::paging;
use crate::mem::tlb_epoch;
use x86_64::PhysAddr;
use x86_64::structures::paging::PhysFrame;

/// Segment records kept per goroutine (beyond that the oldest segment
/// record absorbs the next: segments are contiguous anyway).
pub const MAX_SEGS: usize = 8;

/// PTE bits for a stack page: present, writable, no-execute.
const PTE_FLAGS: u64 = 1 | 2 | (1 << 63);

static WINDOW_SIZE: AtomicU64 = AtomicU64::new(0);
static NEXT_WINDOW: AtomicU64 = AtomicU64::new(0);
/// How many windows fit in the stack region (`stackspace=` / `maxstack=`).
static MAX_WINDOWS: AtomicU64 = AtomicU64::new(0);

/// Stack counters (shown by the memory stats).
pub struct StackStats {
    pub mapped: AtomicU64,
    pub peak: AtomicU64,
    pub segments_mapped: AtomicU64,
    pub segments_unmapped: AtomicU64,
    pub shrinks: AtomicU64,
    pub windows: AtomicU64,
}

pub static STATS: StackStats = StackStats {
    mapped: AtomicU64::new(0),
    peak: AtomicU64::new(0),
    segments_mapped: AtomicU64::new(0),
    segments_unmapped: AtomicU64::new(0),
    shrinks: AtomicU64::new(0),
    windows: AtomicU64::new(0),
};

/// Bytes of goroutine stack mapped now.
pub fn mapped_bytes() -> u64 {
    STATS.mapped.load(Ordering::Relaxed)
}

fn add_mapped(bytes: u64) {
    let now = STATS.mapped.fetch_add(bytes, Ordering::Relaxed) + bytes;
    STATS.peak.fetch_max(now, Ordering::Relaxed);
}

/// The stack limit (window size).
pub fn limit() -> u64 {
    WINDOW_SIZE.load(Ordering::Relaxed)
}

/// Sets the window size (the stack limit, `maxstack=`) and the size of the
/// region the windows are cut from (`stackspace=`, at most the whole
/// `GSTACK_BASE..DYNAMIC_START`). Called once at boot.
pub fn init(window: u64, space: u64) {
    assert!(window.is_power_of_two() && window >= 4 * PAGE_SIZE);
    WINDOW_SIZE.store(window, Ordering::Relaxed);
    let space = space.min(DYNAMIC_START - GSTACK_BASE);
    MAX_WINDOWS.store(space / window, Ordering::Relaxed);
}

/// How many goroutine stack windows the region holds: the most goroutines
/// that can ever exist at once (windows are kept by dead Gs for reuse).
pub fn max_windows() -> u64 {
    MAX_WINDOWS.load(Ordering::Relaxed)
}

/// Windows handed out so far (one per G ever allocated).
pub fn windows_used() -> u64 {
    NEXT_WINDOW.load(Ordering::Relaxed)
}

// --- the per-CPU frame reserve ----------------------------------------------

const RESERVE_CAP: usize = 128;
const RESERVE_LOW: usize = 32;

/// One CPU's frame reserve. Atomics (plain moves on x86) only so that other
/// CPUs may *look* at it ([`in_reserve`]): the owner alone changes it.
struct Reserve {
    frames: [AtomicU64; RESERVE_CAP],
    n: AtomicUsize,
}

/// CPU i's reserve is only changed by CPU i: on g0 (refill, give back) or in
/// the page-fault handler for the goroutine running there, never both at
/// once (a goroutine's stack cannot fault while that CPU runs g0).
static RESERVES: [Reserve; MAX_CPUS] = [const {
    Reserve {
        frames: [const { AtomicU64::new(0) }; RESERVE_CAP],
        n: AtomicUsize::new(0),
    }
}; MAX_CPUS];

fn reserve() -> &'static Reserve {
    &RESERVES[percpu::cpu_index()]
}

impl Reserve {
    fn push(&self, pa: u64) -> bool {
        let n = self.n.load(Ordering::Relaxed);
        if n == RESERVE_CAP {
            return false;
        }
        self.frames[n].store(pa, Ordering::Relaxed);
        self.n.store(n + 1, Ordering::Relaxed);
        true
    }

    fn pop(&self) -> Option<u64> {
        let n = self.n.load(Ordering::Relaxed);
        if n == 0 {
            return None;
        }
        self.n.store(n - 1, Ordering::Relaxed);
        Some(self.frames[n - 1].load(Ordering::Relaxed))
    }
}

/// Tops this CPU's reserve up (Go: `stackcacherefill`). Runs on g0 (the
/// scheduler calls it each round), where no goroutine stack can fault.
#[inline]
pub fn refill_reserve() {
    if reserve().n.load(Ordering::Relaxed) < RESERVE_LOW {
        refill_reserve_slow();
    }
}

#[cold]
#[inline(never)]
fn refill_reserve_slow() {
    let r = reserve();
    // Recyclable limbo frames first (the unmapped stacks' frames come back
    // to stacks, as Go's stack pool does).
    let target = RESERVE_CAP - RESERVE_LOW;
    tlb_epoch::reclaim(target - r.n.load(Ordering::Relaxed), &mut give_back);
    let mut forced = false;
    while r.n.load(Ordering::Relaxed) < target {
        match frame::alloc() {
            Some(f) => {
                r.push(f.start_address().as_u64());
            }
            // Out of frames while some wait in limbo: force the epoch (we
            // are on g0 in `schedule`, holding no lock) and take them.
            None if !forced && tlb_epoch::limbo_frames() != 0 && locks_held() == 0 => {
                forced = true;
                tlb_epoch::force_epoch();
                tlb_epoch::reclaim(target - r.n.load(Ordering::Relaxed), &mut give_back);
            }
            None => break,
        }
    }
}

/// A frame for the fault path: from the reserve, else (holding no runtime
/// lock) from the frame allocator.
fn fault_frame() -> Result<u64, &'static str> {
    if let Some(pa) = reserve().pop() {
        return Ok(pa);
    }
    if locks_held() != 0 {
        return Err("stack reserve exhausted");
    }
    frame::alloc()
        .map(|f| f.start_address().as_u64())
        .ok_or(OOM)
}

const OOM: &str = "out of memory";

/// Takes a frame no TLB can reach any more (recycled by the TLB epoch:
/// every CPU has flushed since its unmap): this CPU's reserve, else the
/// frame allocator. On g0 of this CPU.
fn give_back(pa: u64) {
    if !reserve().push(pa) {
        // SAFETY: the TLB epoch hands over only frames that are unmapped
        // and that every CPU has flushed since; nobody else owns them.
        unsafe { frame::free(PhysFrame::containing_address(PhysAddr::new(pa))) };
    }
}

/// Frames in every CPU's reserve now (a per-CPU cache: the stress run's
/// leak check accounts for it; exact only while the owners leave their
/// reserves alone, as in a quiet system).
pub fn reserved_frames() -> u64 {
    RESERVES
        .iter()
        .map(|r| r.n.load(Ordering::Relaxed) as u64)
        .sum()
}

/// Is the frame at `pa` in some CPU's reserve? (For tests and leak checks:
/// a snapshot, exact only while the owners leave their reserves alone.)
pub fn in_reserve(pa: u64) -> bool {
    RESERVES.iter().any(|r| {
        let n = r.n.load(Ordering::Relaxed);
        r.frames[..n]
            .iter()
            .any(|f| f.load(Ordering::Relaxed) == pa)
    })
}

/// Frames of unmapped stack waiting for every CPU's TLB flush before reuse
/// (in use for memory accounting: free + reserves + limbo + mapped is what
/// the stacks have).
pub fn limbo_frames() -> u64 {
    tlb_epoch::limbo_frames()
}

/// Is the frame at `pa` waiting for every CPU's TLB flush before reuse?
pub fn frame_in_limbo(pa: u64) -> bool {
    tlb_epoch::frame_in_limbo(pa)
}

/// Is the frame at `pa` in limbo with every CPU past its flush (it may be
/// reused now; it stays there until a reserve wants it)?
pub fn frame_recyclable(pa: u64) -> bool {
    tlb_epoch::frame_recyclable(pa)
}

/// The scheduler's flush point, on g0 before it runs `gp` (`schedule`): the
/// TLB epoch's flush point (a new generation when frames wait for one, this
/// CPU's TLB flushed if the generation moved, frames every CPU has passed
/// moved into this CPU's reserve), then `gp`'s own unmapped pages: if they
/// were unmapped by another CPU in a generation this CPU has not passed, and
/// `gp` has not run here since, their range is flushed here (this CPU may
/// have cached them, e.g. by reading `gp`'s stack in a cross-call; the
/// goroutine must not reach them through a stale translation: it would not
/// fault, and would write into a frame that is about to be recycled).
pub fn flush_point(gp: NonNull<G>) {
    // Recycled frames come in batches (the lock and the walk of the CPUs'
    // flush points are paid once per batch, not per frame).
    let room = RESERVE_CAP - reserve().n.load(Ordering::Relaxed);
    let want = if room >= RESERVE_CAP / 4 { room } else { 0 };
    tlb_epoch::scheduler_flush_point(want, &mut give_back);
    // SAFETY: the scheduler found `gp` on a run queue: a live G it owns.
    let g = unsafe { gp.as_ref() };
    let tag = g.retired_gen.load(Ordering::Relaxed);
    let me = 1u64 << percpu::cpu_index();
    if tag != 0 && g.ran_on.load(Ordering::Relaxed) & me == 0 && !tlb::passed_here(tag) {
        let lo = g.retired_lo.load(Ordering::Relaxed);
        let hi = g.retired_hi.load(Ordering::Relaxed);
        tlb::flush_local(lo, hi - lo);
    }
}

// --- windows ----------------------------------------------------------------

/// Gives `g` a new stack window with its top page mapped (Go: `stackalloc`).
pub fn alloc(g: &G) {
    let window = limit();
    let max = max_windows();
    // Never counts past the region, so `window_of` stays exact even while
    // the fatal report below walks stacks.
    let mut idx = NEXT_WINDOW.load(Ordering::Relaxed);
    loop {
        if idx >= max {
            crate::panic::fatal(format_args!(
                "out of memory: no goroutine stack address space left: all {max} windows of {window} bytes (maxstack=) in use, stackspace={} bytes",
                max * window
            ));
        }
        match NEXT_WINDOW.compare_exchange_weak(idx, idx + 1, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => break,
            Err(now) => idx = now,
        }
    }
    let base = GSTACK_BASE + idx * window;
    let hi = base + window;
    // The window's page tables exist from now on: the fault path never
    // allocates one.
    if paging::ensure_tables(base, hi).is_err() {
        crate::mem::out_of_memory(format_args!(
            "no frame for the page tables of a goroutine stack window ({window} bytes)"
        ));
    }
    let pa = match frame::alloc() {
        Some(f) => f.start_address().as_u64(),
        None => crate::mem::out_of_memory(format_args!(
            "no frame for a new goroutine's first stack page"
        )),
    };
    set_pte(hi - PAGE_SIZE, pa);
    add_mapped(PAGE_SIZE);
    STATS.segments_mapped.fetch_add(1, Ordering::Relaxed);
    STATS.windows.fetch_add(1, Ordering::Relaxed);
    g.stack_window.store(base, Ordering::Relaxed);
    g.stack_hi.store(hi, Ordering::Relaxed);
    g.stack_lo.store(hi - PAGE_SIZE, Ordering::Relaxed);
    g.seg_lo[0].store(hi - PAGE_SIZE, Ordering::Relaxed);
    g.nsegs.store(1, Ordering::Relaxed);
}

fn set_pte(va: u64, pa: u64) {
    let pte = paging::pte(va).expect("goroutine stack window without page tables");
    pte.store(pa | PTE_FLAGS, Ordering::Release);
}

/// What the page-fault handler should do about a fault at `addr`.
pub enum FaultAction {
    /// Not a goroutine stack fault.
    NotStack,
    /// Mapped a new segment: resume the goroutine.
    Grown,
    /// A fatal stack error (already reported).
    Fatal,
}

/// The page-fault path for goroutine stacks. `g` is the goroutine running
/// on this CPU (not g0). Lock-free unless the reserve is empty and no
/// runtime lock is held.
pub fn handle_fault(g: &G, addr: u64, frame: &crate::arch::TrapFrame) -> FaultAction {
    let base = g.stack_window.load(Ordering::Relaxed);
    let hi = g.stack_hi.load(Ordering::Relaxed);
    if base == 0 || addr < base || addr >= hi {
        return FaultAction::NotStack;
    }
    let lo = g.stack_lo.load(Ordering::Relaxed);
    if addr >= lo {
        // Inside the mapped part: not a growth fault (e.g. a protection
        // violation); let the generic report handle it.
        return FaultAction::NotStack;
    }
    if addr < base + PAGE_SIZE {
        overflow(g, addr, frame);
        return FaultAction::Fatal;
    }
    // Map [page(addr), lo) as one new segment.
    let new_lo = addr & !(PAGE_SIZE - 1);
    let mut va = new_lo;
    let mut run: &[AtomicU64] = &[];
    while va < lo {
        if run.is_empty() {
            run = paging::pte_run(va).expect("goroutine stack window without page tables");
        }
        let pte = &run[0];
        run = &run[1..];
        // A page whose old frame is still in limbo gets it back: other CPUs
        // may still cache that translation (see the module doc).
        if tlb_epoch::regain(pte, PTE_FLAGS) {
            va += PAGE_SIZE;
            continue;
        }
        match fault_frame() {
            Ok(pa) => pte.store(pa | PTE_FLAGS, Ordering::Release),
            Err(why) => {
                grow_failed(g, why, hi - lo, addr, frame);
                return FaultAction::Fatal;
            }
        }
        va += PAGE_SIZE;
    }
    add_mapped(lo - new_lo);
    STATS.segments_mapped.fetch_add(1, Ordering::Relaxed);
    g.stack_lo.store(new_lo, Ordering::Relaxed);
    let n = g.nsegs.load(Ordering::Relaxed) as usize;
    if n < MAX_SEGS {
        g.seg_lo[n].store(new_lo, Ordering::Relaxed);
        g.nsegs.store(n as u32 + 1, Ordering::Relaxed);
    } else {
        g.seg_lo[MAX_SEGS - 1].store(new_lo, Ordering::Relaxed);
    }
    FaultAction::Grown
}

/// The goroutine stacks' line of an out-of-memory report (the
/// `mem::set_oom_detail` upcall): mapped bytes and their peak, frames in the
/// reserves and the limbo, windows, goroutines.
pub fn print_oom_counters() {
    let reserved: usize = RESERVES.iter().map(|r| r.n.load(Ordering::Relaxed)).sum();
    crate::console::emergency(format_args!(
        "runtime: goroutine stacks {} bytes mapped (peak {}), {} frames in reserves, {} in limbo; {} of {} windows; {} goroutines\n",
        mapped_bytes(),
        STATS.peak.load(Ordering::Relaxed),
        reserved,
        limbo_frames(),
        windows_used(),
        max_windows(),
        super::num_goroutine()
    ));
}

/// A growth fault that found no frame: the out-of-memory report (or, with
/// runtime locks held and the reserve empty, `stack reserve exhausted`)
/// with the counters, then the goroutine's traceback from the fault.
fn grow_failed(g: &G, why: &str, mapped: u64, addr: u64, frame: &crate::arch::TrapFrame) {
    core::mem::forget(crate::arch::report_lock::report_block());
    let fatal = if why == OOM {
        "runtime: out of memory"
    } else {
        why
    };
    crate::console::emergency(format_args!(
        "\nfatal error: {fatal}\nruntime: {why}: cannot grow the stack of goroutine {} (mapped {mapped} bytes, fault at {addr:#x})\n",
        g.goid()
    ));
    let (total, free) = frame::stats_unlocked();
    let h = crate::mem::heap::stats();
    crate::console::emergency(format_args!(
        "runtime: frames {free} free of {total}; heap {} of {} bytes in use ({} allocs, {} frees)\n",
        h.in_use, h.size, h.allocs, h.frees
    ));
    print_oom_counters();
    let start = crate::arch::frames::WalkStart {
        top: Some(crate::arch::frames::Frame::Pc(frame.rip)),
        fp: frame.rbp,
    };
    super::dump::print_running(g as *const G as usize, start, true);
}

/// Go: "runtime: goroutine stack exceeds N-byte limit" + "fatal error: stack
/// overflow", in gmpos's words.
/// The overflowing goroutine's traceback starts at the faulting instruction
/// (`frame`); a Go traceback shows the recursion the same way.
fn overflow(g: &G, addr: u64, frame: &crate::arch::TrapFrame) {
    // Fatal: held until the kernel exits, so no other CPU's report
    // interleaves.
    core::mem::forget(crate::arch::report_lock::report_block());
    let hi = g.stack_hi.load(Ordering::Relaxed);
    crate::console::emergency(format_args!(
        "\ngoroutine {}: stack overflow: limit {} bytes (used {})\n",
        g.goid(),
        limit(),
        hi - addr
    ));
    crate::console::emergency(format_args!("fatal error: stack overflow\n"));
    let start = crate::arch::frames::WalkStart {
        top: Some(crate::arch::frames::Frame::Pc(frame.rip)),
        fp: frame.rbp,
    };
    super::dump::print_running(g as *const G as usize, start, true);
}

/// Unmaps `[from, to)` of `g`'s stack into the TLB epoch's limbo (see the
/// module doc: the frames are recycled once every CPU has flushed). Sends no
/// IPI and waits for nothing unless the limbo is full and no lock is held.
/// Returns the new bottom of the mapped part: `to`, or lower if the limbo
/// filled up (a lock held) before the end.
fn unmap_range(g: &G, from: u64, to: u64) -> u64 {
    let done = tlb_epoch::unmap(from, (to - from) / PAGE_SIZE, tlb_epoch::Recycle::Lazy);
    let reached = from + done.pages * PAGE_SIZE;
    if done.pages == 0 {
        return from;
    }
    STATS
        .mapped
        .fetch_sub(done.frames * PAGE_SIZE, Ordering::Relaxed);
    STATS.segments_unmapped.fetch_add(1, Ordering::Relaxed);
    if done.tag != 0 {
        // What `flush_point` must flush on other CPUs: the union of the
        // ranges unmapped since every CPU last passed a generation.
        let (mut lo, mut hi) = (from, reached);
        let prev = g.retired_gen.load(Ordering::Relaxed);
        if prev != 0 && !tlb::passed_everywhere(prev) {
            lo = lo.min(g.retired_lo.load(Ordering::Relaxed));
            hi = hi.max(g.retired_hi.load(Ordering::Relaxed));
        }
        g.retired_lo.store(lo, Ordering::Relaxed);
        g.retired_hi.store(hi, Ordering::Relaxed);
        g.retired_gen.store(done.tag, Ordering::Relaxed);
        // `tlb_epoch::unmap` flushed this CPU: the only one known clean now.
        g.ran_on.store(1 << percpu::cpu_index(), Ordering::Relaxed);
    }
    reached
}

/// Go: `shrinkstack`: at a safe point (the G is off its stack, on g0), if it
/// uses less than a quarter of its mapped stack, unmap the lower half.
#[inline]
pub fn maybe_shrink(g: &G, sp: u64) {
    let hi = g.stack_hi.load(Ordering::Relaxed);
    let lo = g.stack_lo.load(Ordering::Relaxed);
    let mapped = hi - lo;
    if mapped <= PAGE_SIZE || hi - sp >= mapped / 4 {
        return;
    }
    shrink(g, lo, mapped);
}

#[cold]
#[inline(never)]
fn shrink(g: &G, lo: u64, mapped: u64) {
    let new_lo = unmap_range(g, lo, (lo + mapped / 2).next_multiple_of(PAGE_SIZE));
    if new_lo == lo {
        // The limbo is full and we hold a lock: shrink another time.
        return;
    }
    g.stack_lo.store(new_lo, Ordering::Relaxed);
    STATS.shrinks.fetch_add(1, Ordering::Relaxed);
    trim_segments(g, new_lo);
}

/// Go: `gfput` keeps the stack: a dead G keeps its window and top page and
/// gives back everything below.
pub fn release_to_top(g: &G) {
    let hi = g.stack_hi.load(Ordering::Relaxed);
    let lo = g.stack_lo.load(Ordering::Relaxed);
    let top = hi - PAGE_SIZE;
    if lo < top {
        let new_lo = unmap_range(g, lo, top);
        g.stack_lo.store(new_lo, Ordering::Relaxed);
        trim_segments(g, new_lo);
    }
}

fn trim_segments(g: &G, new_lo: u64) {
    // Keep the segments whose top is above `new_lo`; the last one kept now
    // ends at `new_lo`.
    let n = g.nsegs.load(Ordering::Relaxed) as usize;
    let mut hi = g.stack_hi.load(Ordering::Relaxed);
    let mut keep = 0;
    for i in 0..n {
        if hi <= new_lo {
            break;
        }
        keep = i + 1;
        hi = g.seg_lo[i].load(Ordering::Relaxed);
    }
    let keep = keep.max(1);
    g.seg_lo[keep - 1].store(new_lo, Ordering::Relaxed);
    g.nsegs.store(keep as u32, Ordering::Relaxed);
}

/// The segments of `g`'s stack, top first: (lo, hi) pairs.
pub fn segments(g: &G, out: &mut [(u64, u64); MAX_SEGS]) -> usize {
    let n = g.nsegs.load(Ordering::Relaxed) as usize;
    let mut hi = g.stack_hi.load(Ordering::Relaxed);
    for (i, seg) in out.iter_mut().enumerate().take(n) {
        let lo = g.seg_lo[i].load(Ordering::Relaxed);
        *seg = (lo, hi);
        hi = lo;
    }
    n
}

/// Is `addr` in some goroutine stack window? (window base, top).
pub fn window_of(addr: u64) -> Option<(u64, u64)> {
    let window = limit();
    if addr < GSTACK_BASE || window == 0 {
        return None;
    }
    let idx = (addr - GSTACK_BASE) / window;
    if idx >= NEXT_WINDOW.load(Ordering::Relaxed) {
        return None;
    }
    Some((GSTACK_BASE + idx * window, GSTACK_BASE + (idx + 1) * window))
}

const _: () = assert!(PHYS_OFFSET < GSTACK_BASE);
