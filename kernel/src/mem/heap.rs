//! The kernel heap: per-CPU caches of size-classed objects in front of a
//! first-fit allocator (Go: runtime/malloc.go, mcache.go, mcentral.go).
//!
//! # Small objects: cache, central list, span
//!
//! Every `alloc` in the kernel comes here: each `go` boxes its closure,
//! each channel allocates its `HChan` and buffer, timers and contexts their
//! nodes. A first-fit list (`linked_list_allocator`) under one lock walks
//! its free holes on every call, and the walk grows with fragmentation:
//! `make prof` of the fanout benchmark spent a third of its instructions
//! there. Go never searches for a small object:
//!
//! - sizes up to [`MAX_SMALL`] round up to a size class ([`sizeclass`]);
//! - each CPU keeps a free list per class (Go: the P's `mcache`), used with
//!   interrupts off and no lock: allocation pops, free pushes. Interrupts
//!   off is what makes the list this CPU's alone: no handler can run in
//!   the middle, and a goroutine cannot be preempted and moved to another
//!   CPU half-way (preemption is an interrupt);
//! - an empty list takes a batch ([`sizeclass::batch`]) from the class's
//!   central list under its lock (Go: `mcentral`), and a list that grew to
//!   twice a batch gives one back, so memory freed on one CPU and allocated
//!   on another flows through the central list;
//! - an empty central list carves a span of [`SPAN_BYTES`] from the backing
//!   allocator into objects (Go: `mheap` allocates a span).
//!
//! Objects of a class sit at multiples of the class size inside
//! page-aligned spans, so a class serves an alignment that divides its size
//! ([`sizeclass::class_of`]); larger or more aligned blocks go to the
//! backing allocator directly.
//!
//! Without a garbage collector nothing sweeps spans: a span is never
//! returned whole. When the backing allocator runs out, the central lists
//! are drained into it object by object ([`drain_central`]: the first-fit
//! list merges neighbours), and the request is tried again before the
//! out-of-memory report. What the per-CPU lists hold is bounded (two
//! batches per class per CPU) and shown as `cached`.
//!
//! No lock is ever taken while another is held here: a refill takes the
//! central lock or the backing lock, one at a time.
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};

use linked_list_allocator::Heap;

use super::paging::{self, DATA};
use super::sizeclass::{self, CLASS_SIZE, NUM_CLASSES, SPAN_BYTES};
use crate::arch::{MAX_CPUS, irq, percpu};
use crate::layout::{HEAP_START, PAGE_SIZE};
use crate::lock::IrqSpinLock;

pub use super::sizeclass::MAX_SMALL;

/// A free object: the first word links to the next free one.
struct Free {
    next: *mut Free,
}

/// A singly linked list of free objects of one class.
struct FreeList {
    head: *mut Free,
    len: usize,
}

impl FreeList {
    const fn new() -> Self {
        FreeList {
            head: ptr::null_mut(),
            len: 0,
        }
    }

    /// # Safety
    /// `obj` is a free object of this list's class, owned by the caller.
    #[inline(always)]
    unsafe fn push(&mut self, obj: *mut Free) {
        // SAFETY: the caller gives us the object; its first word is ours.
        unsafe { (*obj).next = self.head };
        self.head = obj;
        self.len += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<*mut Free> {
        let obj = self.head;
        if obj.is_null() {
            return None;
        }
        // SAFETY: a non-null head is a free object this list owns.
        self.head = unsafe { (*obj).next };
        self.len -= 1;
        Some(obj)
    }

    /// Moves up to `n` objects to `to`.
    fn take(&mut self, to: &mut FreeList, n: usize) {
        for _ in 0..n {
            match self.pop() {
                // SAFETY: popped from a list of the same class.
                Some(obj) => unsafe { to.push(obj) },
                None => break,
            }
        }
    }
}

/// Go: `mcache`: one CPU's free lists and counters. The lists are touched
/// only by their CPU with interrupts off; the counters are written only by
/// it (plain load + store, no locked instruction) and read by anyone.
#[repr(align(64))]
struct Cache {
    lists: UnsafeCell<[FreeList; NUM_CLASSES]>,
    /// Bytes handed out and taken back on this CPU (class sizes).
    alloc_bytes: AtomicU64,
    free_bytes: AtomicU64,
    allocs: AtomicU64,
    frees: AtomicU64,
    /// Bytes in this CPU's free lists.
    cached: AtomicU64,
}

// SAFETY: `lists` is only used by the CPU owning the cache, with interrupts
// off (see `with_cache`); everything else is atomic.
unsafe impl Sync for Cache {}

impl Cache {
    const fn new() -> Self {
        Cache {
            lists: UnsafeCell::new([const { FreeList::new() }; NUM_CLASSES]),
            alloc_bytes: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            allocs: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            cached: AtomicU64::new(0),
        }
    }
}

/// A counter only its CPU writes: `+=` without a locked instruction.
#[inline(always)]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Go: `mcentral`: one class's free objects shared by all CPUs.
struct Central {
    list: FreeList,
}

// SAFETY: the raw pointers are free heap objects, owned by whoever holds
// the lock around the list.
unsafe impl Send for Central {}

static CACHES: [Cache; MAX_CPUS] = [const { Cache::new() }; MAX_CPUS];
static CENTRAL: [IrqSpinLock<Central>; NUM_CLASSES] = [const {
    IrqSpinLock::new(Central {
        list: FreeList::new(),
    })
}; NUM_CLASSES];
/// Bytes in the central lists.
static CENTRAL_BYTES: AtomicU64 = AtomicU64::new(0);

pub struct KernelHeap {
    backing: IrqSpinLock<Heap>,
    size: AtomicU64,
    /// Bytes of large (backing) blocks in use; small ones are counted per CPU.
    large_in_use: AtomicU64,
    large_allocs: AtomicU64,
    large_frees: AtomicU64,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    backing: IrqSpinLock::new(Heap::empty()),
    size: AtomicU64::new(0),
    large_in_use: AtomicU64::new(0),
    large_allocs: AtomicU64::new(0),
    large_frees: AtomicU64::new(0),
};

/// Heap counters.
#[derive(Debug, Clone, Copy)]
pub struct HeapStats {
    /// Bytes of the heap region.
    pub size: u64,
    /// Bytes handed out and not freed (small objects at their class size).
    pub in_use: u64,
    /// Bytes of free small objects held by the per-CPU and central lists.
    pub cached: u64,
    pub allocs: u64,
    pub frees: u64,
}

/// The counters summed over CPUs: exact when nothing allocates meanwhile.
pub fn stats() -> HeapStats {
    let (mut alloc_b, mut free_b, mut allocs, mut frees, mut cached) = (0u64, 0u64, 0, 0, 0);
    for c in CACHES.iter() {
        alloc_b = alloc_b.wrapping_add(c.alloc_bytes.load(Ordering::Relaxed));
        free_b = free_b.wrapping_add(c.free_bytes.load(Ordering::Relaxed));
        allocs += c.allocs.load(Ordering::Relaxed);
        frees += c.frees.load(Ordering::Relaxed);
        cached += c.cached.load(Ordering::Relaxed);
    }
    HeapStats {
        size: HEAP.size.load(Ordering::Relaxed),
        in_use: alloc_b.wrapping_sub(free_b) + HEAP.large_in_use.load(Ordering::Relaxed),
        cached: cached + CENTRAL_BYTES.load(Ordering::Relaxed),
        allocs: allocs + HEAP.large_allocs.load(Ordering::Relaxed),
        frees: frees + HEAP.large_frees.load(Ordering::Relaxed),
    }
}

pub(super) fn init(size: usize) {
    let size = (size as u64).next_multiple_of(PAGE_SIZE);
    let mut va = HEAP_START;
    while va < HEAP_START + size {
        if let Err(e) = paging::map_new(va, DATA) {
            panic!(
                "out of memory: mapping a {} MiB heap failed at {:#x}: {e:?}",
                size >> 20,
                va
            );
        }
        va += PAGE_SIZE;
    }
    // SAFETY: the range was just mapped, is used by nothing else and stays
    // mapped forever.
    unsafe {
        HEAP.backing
            .lock()
            .init(HEAP_START as *mut u8, size as usize)
    };
    HEAP.size.store(size, Ordering::Relaxed);
}

/// Runs `f` on this CPU's cache with interrupts off. The per-CPU block (GS
/// base) is installed before anything allocates: the bootstrap CPU's before
/// the heap exists (`init`), every AP's as its first instruction of Rust.
#[inline(always)]
fn with_cache<R>(f: impl FnOnce(&Cache, &mut [FreeList; NUM_CLASSES]) -> R) -> R {
    irq::without(|| {
        let cpu = percpu::cpu_index();
        debug_assert!(cpu < MAX_CPUS);
        // SAFETY: a CPU index is below MAX_CPUS (`percpu` hands out no
        // other), so the access is in bounds.
        let cache = unsafe { CACHES.get_unchecked(cpu) };
        // SAFETY: interrupts are off, so nothing else on this CPU runs
        // until we return, and no other CPU touches this CPU's lists.
        let lists = unsafe { &mut *cache.lists.get() };
        f(cache, lists)
    })
}

/// Fills `list` (empty, class `c`) with a batch: from the central list, or
/// a new span. False if the backing allocator is out of memory.
#[cold]
fn refill(c: usize, list: &mut FreeList) -> bool {
    let n = sizeclass::batch(c);
    let size = CLASS_SIZE[c] as u64;
    {
        let mut central = CENTRAL[c].lock();
        central.list.take(list, n);
    }
    if list.len > 0 {
        CENTRAL_BYTES.fetch_sub(list.len as u64 * size, Ordering::Relaxed);
        return true;
    }
    let span = match carve_span() {
        Some(span) => span,
        None => return false,
    };
    let count = SPAN_BYTES / size as usize;
    let mut rest = FreeList::new();
    for i in 0..count {
        let obj = (span + i * size as usize) as *mut Free;
        // SAFETY: the span is ours and `obj` is a class-size piece of it.
        unsafe {
            if i < n {
                list.push(obj)
            } else {
                rest.push(obj)
            }
        }
    }
    if rest.len > 0 {
        CENTRAL_BYTES.fetch_add(rest.len as u64 * size, Ordering::Relaxed);
        let mut central = CENTRAL[c].lock();
        rest.take(&mut central.list, usize::MAX);
    }
    true
}

/// Gives a batch of the overfull `list` (class `c`) to the central list.
#[cold]
fn spill(c: usize, list: &mut FreeList) -> u64 {
    let n = sizeclass::batch(c);
    let bytes = n as u64 * CLASS_SIZE[c] as u64;
    CENTRAL_BYTES.fetch_add(bytes, Ordering::Relaxed);
    let mut central = CENTRAL[c].lock();
    list.take(&mut central.list, n);
    bytes
}

/// A page-aligned span from the backing allocator, draining the central
/// lists into it once if it is full.
fn carve_span() -> Option<usize> {
    let layout = Layout::from_size_align(SPAN_BYTES, PAGE_SIZE as usize).unwrap();
    backing_alloc(layout).map(|p| p.as_ptr() as usize)
}

/// The backing allocator, with one retry after draining the central lists.
fn backing_alloc(layout: Layout) -> Option<NonNull<u8>> {
    if let Ok(p) = HEAP.backing.lock().allocate_first_fit(layout) {
        return Some(p);
    }
    drain_central();
    HEAP.backing.lock().allocate_first_fit(layout).ok()
}

/// Hands every object of the central lists back to the backing allocator
/// (it merges adjacent blocks, so whole spans become usable for anything).
/// Objects are at least 16 bytes, the backing allocator's smallest block.
fn drain_central() {
    for (c, central) in CENTRAL.iter().enumerate() {
        let mut list = FreeList::new();
        central.lock().list.take(&mut list, usize::MAX);
        let size = CLASS_SIZE[c] as usize;
        CENTRAL_BYTES.fetch_sub((list.len * size) as u64, Ordering::Relaxed);
        let layout = Layout::from_size_align(size, 8).unwrap();
        let mut backing = HEAP.backing.lock();
        while let Some(obj) = list.pop() {
            // SAFETY: a free object of `size` bytes in the heap region that
            // nothing references (it was on a free list we emptied).
            unsafe { backing.deallocate(NonNull::new_unchecked(obj as *mut u8), layout) };
        }
    }
}

/// Nothing in the kernel allocates fallibly (no `try_reserve`), and Rust's
/// default handler would only say `memory allocation failed`: stop with the
/// counters, as Go does. Called with no heap lock held.
#[cold]
fn oom(layout: Layout) -> ! {
    super::out_of_memory(format_args!(
        "cannot allocate a {}-byte heap block (heap=, align {})",
        layout.size(),
        layout.align()
    ))
}

// SAFETY: small blocks are distinct class-size objects of spans (or of the
// backing allocator) owned by exactly one free list or one user at a time;
// large blocks come from linked_list_allocator under its lock.
unsafe impl GlobalAlloc for KernelHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = sizeclass::class_of(layout.size(), layout.align()) else {
            return match backing_alloc(layout) {
                Some(p) => {
                    self.large_in_use
                        .fetch_add(layout.size() as u64, Ordering::Relaxed);
                    self.large_allocs.fetch_add(1, Ordering::Relaxed);
                    p.as_ptr()
                }
                None => oom(layout),
            };
        };
        let size = CLASS_SIZE[c] as u64;
        let got = with_cache(|cache, lists| {
            let list = &mut lists[c];
            if list.head.is_null() {
                if !refill(c, list) {
                    return None;
                }
                bump(&cache.cached, list.len as u64 * size);
            }
            let obj = list.pop()?;
            bump(&cache.cached, size.wrapping_neg());
            bump(&cache.alloc_bytes, size);
            bump(&cache.allocs, 1);
            Some(obj as *mut u8)
        });
        match got {
            Some(p) => p,
            None => {
                // Out of spans: the object itself from what is left, aligned
                // as a span's objects of this class can be (any alignment
                // dividing the size, up to a page).
                let align = (1usize << size.trailing_zeros()).min(PAGE_SIZE as usize);
                let class_layout = Layout::from_size_align(size as usize, align).unwrap();
                match backing_alloc(class_layout) {
                    Some(p) => {
                        with_cache(|cache, _| {
                            bump(&cache.alloc_bytes, size);
                            bump(&cache.allocs, 1);
                        });
                        p.as_ptr()
                    }
                    None => oom(layout),
                }
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = sizeclass::class_of(layout.size(), layout.align()) else {
            // SAFETY: `ptr` came from `alloc` with this layout, which sent
            // this size and alignment to the backing allocator.
            unsafe {
                self.backing
                    .lock()
                    .deallocate(NonNull::new_unchecked(ptr), layout)
            };
            self.large_in_use
                .fetch_sub(layout.size() as u64, Ordering::Relaxed);
            self.large_frees.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let size = CLASS_SIZE[c] as u64;
        with_cache(|cache, lists| {
            let list = &mut lists[c];
            // SAFETY: `ptr` is a class-`c` object (`alloc` chose the class
            // from this same layout), now free.
            unsafe { list.push(ptr as *mut Free) };
            bump(&cache.cached, size);
            bump(&cache.free_bytes, size);
            bump(&cache.frees, 1);
            if list.len > 2 * sizeclass::batch(c) {
                let moved = spill(c, list);
                bump(&cache.cached, moved.wrapping_neg());
            }
        });
    }
}
