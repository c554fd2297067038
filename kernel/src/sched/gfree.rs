//! Free-G caching: a P-local free list in front of a global locked one.
//!
//! Go: `gfput`, `gfget` and `gfpurge` in runtime/proc.go, with `pp.gFree`
//! (per-P, no lock: only the owner touches it) and `sched.gFree` (global,
//! under `sched.gFree.lock`).
//!
//! Creating a G (`newproc`) takes a dead G from the local list when it can,
//! and exiting (`goexit0`) returns it there, so spawn/exit-heavy code never
//! touches a lock. The local list is bounded: when it reaches
//! [`GFREE_LOCAL_MAX`] Gs, Gs are moved to the global list in one locked
//! batch until fewer than [`GFREE_LOCAL_KEEP`] remain; when it is empty, it is
//! refilled from the global list in one locked batch of up to
//! [`GFREE_REFILL`]. The hysteresis (64 / 32) keeps a P that frees and
//! allocates in alternation from bouncing Gs through the lock.
//!
//! Gs on the global list are split by whether they still own a stack (Go:
//! `stack` / `noStack`); refills prefer Gs with a stack, which can be reused
//! without allocating. Freeing a G's stack (Go: `gfput` frees non-standard
//! size stacks) and giving a stackless G a new stack (Go: `gfget`) are the
//! kernel's business, before `put` and after `get`.

use core::ptr::NonNull;

use super::glist::{GList, GQueue, Linked};

/// Go: `if pp.gFree.size >= 64`: local list size that triggers a spill.
pub const GFREE_LOCAL_MAX: usize = 64;
/// Go: `for pp.gFree.size >= 32`: a spill moves Gs to the global list while
/// the local list holds at least this many, so it leaves `GFREE_LOCAL_KEEP - 1`
/// (31) behind and moves 33 (exactly Go's loop).
pub const GFREE_LOCAL_KEEP: usize = 32;
/// Go: `for pp.gFree.size < 32`: a refill tops the local list up to this.
pub const GFREE_REFILL: usize = 32;

/// A G as the free lists see it.
pub trait FreeG: Linked {
    /// Whether the G still owns a stack (Go: `gp.stack.lo != 0`).
    fn has_stack(&self) -> bool;
}

/// The global free lists (Go: `sched.gFree` without its lock; the kernel
/// wraps this in its lock and implements [`GFreeGlobalLock`]).
pub struct GFreeGlobal<T: Linked> {
    /// Go: `sched.gFree.stack`: dead Gs that still own a stack.
    stack: GList<T>,
    /// Go: `sched.gFree.noStack`: dead Gs whose stack was freed.
    no_stack: GList<T>,
}

impl<T: FreeG> GFreeGlobal<T> {
    /// Empty lists.
    pub const fn new() -> Self {
        GFreeGlobal {
            stack: GList::new(),
            no_stack: GList::new(),
        }
    }

    /// Go: `sched.gFree.n`.
    pub const fn len(&self) -> usize {
        self.stack.len() + self.no_stack.len()
    }

    /// Whether both lists are empty.
    pub const fn is_empty(&self) -> bool {
        self.stack.is_empty() && self.no_stack.is_empty()
    }

    /// Number of free Gs that own a stack.
    pub const fn with_stack(&self) -> usize {
        self.stack.len()
    }

    /// Adds one dead G, filed by [`FreeG::has_stack`].
    ///
    /// # Safety
    /// As for [`GQueue::push_front`]: `g` is live, stays in place while
    /// listed, and is in no other list.
    pub unsafe fn push(&mut self, g: NonNull<T>) {
        // SAFETY: the caller's contract makes `g` valid to read.
        let has_stack = unsafe { g.as_ref() }.has_stack();
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            if has_stack {
                self.stack.push(g)
            } else {
                self.no_stack.push(g)
            }
        }
    }

    /// Adds two pre-sorted batches (Go: the `pushAll`s at the end of
    /// `gfput`). O(1).
    pub fn push_all(&mut self, stack: GQueue<T>, no_stack: GQueue<T>) {
        self.no_stack.push_all(no_stack);
        self.stack.push_all(stack);
    }

    /// Takes one dead G, preferring one with a stack (Go: the body of
    /// `gfget`'s refill loop).
    pub fn pop(&mut self) -> Option<NonNull<T>> {
        self.stack.pop().or_else(|| self.no_stack.pop())
    }
}

impl<T: FreeG> Default for GFreeGlobal<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The kernel's access to the locked global free lists.
pub trait GFreeGlobalLock<T: FreeG> {
    /// A lock-free guess whether the global lists have Gs (Go reads
    /// `sched.gFree.stack.empty()` without the lock; in Rust that read must
    /// be atomic, e.g. a counter the kernel updates inside
    /// [`with_locked`](Self::with_locked)). A wrong `true` costs one lock
    /// round trip; a wrong `false` makes `get` report no free G, so the
    /// caller allocates a new one: both harmless.
    fn maybe_nonempty(&self) -> bool;

    /// Runs `f` with the lock held (Go: `lock(&sched.gFree.lock)` ...
    /// `unlock`). Called at most once per `put`/`get`/`purge`.
    fn with_locked<R>(&self, f: impl FnOnce(&mut GFreeGlobal<T>) -> R) -> R;
}

/// A P's free-G cache (Go: `pp.gFree`). **Owner P only**: it has no lock.
pub struct GFreeLocal<T: Linked> {
    list: GList<T>,
}

impl<T: FreeG> GFreeLocal<T> {
    /// An empty cache.
    pub const fn new() -> Self {
        GFreeLocal { list: GList::new() }
    }

    /// Number of cached Gs (Go: `pp.gFree.size`).
    pub const fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the cache is empty.
    pub const fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Go: `gfput`. Caches the dead G `g`; if that makes
    /// [`GFREE_LOCAL_MAX`] Gs, moves Gs to the global lists (one lock) until
    /// fewer than [`GFREE_LOCAL_KEEP`] remain. Returns how many moved.
    ///
    /// # Safety
    /// As for [`GQueue::push_front`]: `g` is live, stays in place while
    /// cached, and is in no other list.
    pub unsafe fn put(&mut self, g: NonNull<T>, global: &impl GFreeGlobalLock<T>) -> usize {
        // SAFETY: forwarded from the caller's contract.
        unsafe { self.list.push(g) };
        if self.list.len() < GFREE_LOCAL_MAX {
            return 0;
        }
        // Sort outside the lock, then hand over both batches in O(1) under
        // it: the lock is held for two pointer splices, not 33 pushes.
        let mut stack = GQueue::new();
        let mut no_stack = GQueue::new();
        let mut moved = 0;
        while self.list.len() >= GFREE_LOCAL_KEEP {
            let Some(g) = self.list.pop() else { break };
            // SAFETY: `g` was just popped from our list, so it is unlisted
            // and, by the contract it was pushed under, still valid.
            let has_stack = unsafe { g.as_ref() }.has_stack();
            // SAFETY: as above; it goes into exactly one list.
            unsafe {
                if has_stack {
                    stack.push_back(g)
                } else {
                    no_stack.push_back(g)
                }
            }
            moved += 1;
        }
        global.with_locked(|gl| gl.push_all(stack, no_stack));
        moved
    }

    /// Go: `gfget`. Takes a dead G to reuse, or `None` if there is none
    /// (the caller then allocates a new G). When the cache is empty and the
    /// global lists may have Gs, first moves up to [`GFREE_REFILL`] of them
    /// here under one lock, preferring Gs with a stack.
    ///
    /// The returned G may lack a stack ([`FreeG::has_stack`]); giving it one
    /// is the caller's job.
    pub fn get(&mut self, global: &impl GFreeGlobalLock<T>) -> Option<NonNull<T>> {
        if self.list.is_empty() && global.maybe_nonempty() {
            // Go loops back to re-check after the refill; one refill is
            // enough here: if it found nothing, the global lists were empty
            // under the lock, and the answer is "no free G" either way.
            let mut batch = GQueue::new();
            global.with_locked(|gl| {
                while batch.len() < GFREE_REFILL {
                    let Some(g) = gl.pop() else { break };
                    // SAFETY: `g` was just popped from the global list, so it
                    // is unlisted and still valid (pushed under the contract).
                    unsafe { batch.push_back(g) };
                }
            });
            self.list.push_all(batch);
        }
        self.list.pop()
    }

    /// Go: `gfpurge`. Moves every cached G to the global lists (one lock),
    /// e.g. when procresize destroys this P. Returns how many moved.
    pub fn purge(&mut self, global: &impl GFreeGlobalLock<T>) -> usize {
        let mut stack = GQueue::new();
        let mut no_stack = GQueue::new();
        let mut moved = 0;
        while let Some(g) = self.list.pop() {
            // SAFETY: `g` was just popped, so it is unlisted and still valid.
            let has_stack = unsafe { g.as_ref() }.has_stack();
            // SAFETY: as above; it goes into exactly one list.
            unsafe {
                if has_stack {
                    stack.push_back(g)
                } else {
                    no_stack.push_back(g)
                }
            }
            moved += 1;
        }
        if moved != 0 {
            global.with_locked(|gl| gl.push_all(stack, no_stack));
        }
        moved
    }
}

impl<T: FreeG> Default for GFreeLocal<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sched::glist::SchedLink;
    use core::cell::{Cell, RefCell};

    struct G {
        id: usize,
        stack: bool,
        schedlink: SchedLink<G>,
    }

    // SAFETY: `sched_link` returns the `schedlink` field of `self`.
    unsafe impl Linked for G {
        fn sched_link(&self) -> &SchedLink<G> {
            &self.schedlink
        }
    }

    impl FreeG for G {
        fn has_stack(&self) -> bool {
            self.stack
        }
    }

    /// A test global side: a RefCell for the lock, counting lock round trips.
    struct Global {
        lists: RefCell<GFreeGlobal<G>>,
        locks: Cell<usize>,
    }

    impl Global {
        fn new() -> Self {
            Global {
                lists: RefCell::new(GFreeGlobal::new()),
                locks: Cell::new(0),
            }
        }
        fn len(&self) -> usize {
            self.lists.borrow().len()
        }
    }

    impl GFreeGlobalLock<G> for Global {
        fn maybe_nonempty(&self) -> bool {
            !self.lists.borrow().is_empty()
        }
        fn with_locked<R>(&self, f: impl FnOnce(&mut GFreeGlobal<G>) -> R) -> R {
            self.locks.set(self.locks.get() + 1);
            f(&mut self.lists.borrow_mut())
        }
    }

    fn gs(n: usize, stack: impl Fn(usize) -> bool) -> Vec<G> {
        (0..n)
            .map(|id| G {
                id,
                stack: stack(id),
                schedlink: SchedLink::new(),
            })
            .collect()
    }

    fn id(g: NonNull<G>) -> usize {
        // SAFETY: test Gs live in a Vec that outlives all lists.
        unsafe { g.as_ref() }.id
    }

    #[test]
    fn put_spills_at_64_down_to_31_in_one_lock() {
        let g = gs(200, |_| true);
        let global = Global::new();
        let mut local = GFreeLocal::new();
        for x in &g[..GFREE_LOCAL_MAX - 1] {
            // SAFETY: `g` outlives the lists; each G is put once.
            assert_eq!(unsafe { local.put(NonNull::from(x), &global) }, 0);
        }
        assert_eq!(local.len(), 63);
        assert_eq!(global.locks.get(), 0);
        // SAFETY: as above.
        let moved = unsafe { local.put(NonNull::from(&g[63]), &global) };
        assert_eq!(moved, 33);
        assert_eq!(local.len(), GFREE_LOCAL_KEEP - 1);
        assert_eq!(global.len(), 33);
        assert_eq!(global.locks.get(), 1);
        // Next spill after another 33 puts.
        for x in &g[64..96] {
            // SAFETY: as above.
            assert_eq!(unsafe { local.put(NonNull::from(x), &global) }, 0);
        }
        assert_eq!(local.len(), 63);
        // SAFETY: as above.
        assert_eq!(unsafe { local.put(NonNull::from(&g[96]), &global) }, 33);
        assert_eq!(global.len(), 66);
        assert_eq!(global.locks.get(), 2);
    }

    #[test]
    fn get_uses_local_first_then_refills_32_in_one_lock() {
        let g = gs(100, |_| true);
        let global = Global::new();
        for x in &g[..40] {
            // SAFETY: `g` outlives the lists; each G is pushed once.
            unsafe { global.lists.borrow_mut().push(NonNull::from(x)) };
        }
        let mut local = GFreeLocal::new();
        // SAFETY: as above.
        unsafe { local.put(NonNull::from(&g[50]), &global) };
        assert_eq!(local.get(&global).map(id), Some(50));
        assert_eq!(global.locks.get(), 0);
        // Empty: refill 32 (one lock), return one.
        assert!(local.get(&global).is_some());
        assert_eq!(global.locks.get(), 1);
        assert_eq!(local.len(), GFREE_REFILL - 1);
        assert_eq!(global.len(), 8);
        for _ in 0..31 {
            assert!(local.get(&global).is_some());
        }
        assert_eq!(global.locks.get(), 1);
        // Refill takes the 8 left.
        assert!(local.get(&global).is_some());
        assert_eq!(global.locks.get(), 2);
        assert_eq!(local.len(), 7);
        assert_eq!(global.len(), 0);
        for _ in 0..7 {
            assert!(local.get(&global).is_some());
        }
        // Both empty: no lock taken (hint says empty), None.
        assert_eq!(local.get(&global), None);
        assert_eq!(global.locks.get(), 2);
    }

    #[test]
    fn refill_prefers_gs_with_stacks_and_spill_sorts_them() {
        // Even ids have a stack.
        let g = gs(64, |i| i.is_multiple_of(2));
        let global = Global::new();
        let mut local = GFreeLocal::new();
        for x in &g {
            // SAFETY: `g` outlives the lists; each G is put once.
            unsafe { local.put(NonNull::from(x), &global) };
        }
        {
            let lists = global.lists.borrow();
            assert_eq!(lists.len(), 33);
            assert_eq!(lists.with_stack(), lists.stack.iter().count());
            assert!(lists.stack.iter().all(|x| id(x).is_multiple_of(2)));
            assert!(lists.no_stack.iter().all(|x| !id(x).is_multiple_of(2)));
        }
        let mut local2 = GFreeLocal::new();
        let first = local2.get(&global).unwrap();
        // SAFETY: test Gs outlive the lists.
        assert!(unsafe { first.as_ref() }.has_stack());
        // All Gs with a stack come out before any without.
        let mut seen_no_stack = false;
        let mut n = 1;
        while let Some(x) = local2.get(&global) {
            // SAFETY: as above.
            let s = unsafe { x.as_ref() }.has_stack();
            if s {
                assert!(!seen_no_stack, "stack G after a stackless one");
            } else {
                seen_no_stack = true;
            }
            n += 1;
        }
        assert_eq!(n, 33);
    }

    #[test]
    fn purge_moves_everything_in_one_lock() {
        let g = gs(10, |i| i < 5);
        let global = Global::new();
        let mut local = GFreeLocal::new();
        for x in &g {
            // SAFETY: `g` outlives the lists; each G is put once.
            unsafe { local.put(NonNull::from(x), &global) };
        }
        assert_eq!(local.purge(&global), 10);
        assert!(local.is_empty());
        assert_eq!(global.len(), 10);
        assert_eq!(global.lists.borrow().with_stack(), 5);
        assert_eq!(global.locks.get(), 1);
        assert_eq!(local.purge(&global), 0);
        assert_eq!(global.locks.get(), 1);
    }
}
