//! Intrusive lists of Gs linked through their `schedlink` field.
//!
//! Go: `gQueue` (FIFO with head and tail: the global run queue, `sched.runq`)
//! and `gList` (a stack: the free-G lists, `pp.gFree` and `sched.gFree`), in
//! runtime/proc.go.
//!
//! The lists never allocate: each G carries its own link, so a G can be in at
//! most one list at a time (exactly as in Go). The lists do not own their
//! elements; they hold raw pointers, and pushing is `unsafe` because the
//! caller promises the G stays alive and otherwise unlinked while listed.
//! Popping, moving whole lists and looking are safe.
//!
//! The lists are plain data with no internal synchronisation: a shared list
//! (the global run queue, the global free list) lives behind the kernel's
//! lock, a per-P list is only touched by the P's owner.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};
// Not the loom shim: the link is never a synchronisation point. It is only
// read and written by whoever owns the list the G is on (under that list's
// lock, or as the owning P), so the lock provides the ordering. A core
// atomic keeps `SchedLink::new` const (G structs can be statics) and lets a G
// that embeds it stay `Sync` without any unsafe impl.
use core::sync::atomic::{AtomicPtr, Ordering};

/// The intrusive link a G embeds (Go: `g.schedlink`, a `guintptr`).
///
/// Only the list types in this module write it; others may read it (e.g. for
/// debugging) with [`get`](Self::get).
pub struct SchedLink<T> {
    next: AtomicPtr<T>,
}

impl<T> SchedLink<T> {
    /// An unlinked link.
    pub const fn new() -> Self {
        SchedLink {
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The next element, as last written by a list operation. Meaningless
    /// while the element is not in a list.
    pub fn get(&self) -> Option<NonNull<T>> {
        NonNull::new(self.next.load(Ordering::Relaxed))
    }

    /// Private: a safe `set` would let safe code corrupt a list and make a
    /// later `pop` hand out (and dereference) an arbitrary pointer.
    fn set(&self, next: Option<NonNull<T>>) {
        self.next.store(
            next.map_or(ptr::null_mut(), NonNull::as_ptr),
            Ordering::Relaxed,
        );
    }
}

impl<T> Default for SchedLink<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> core::fmt::Debug for SchedLink<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SchedLink").field(&self.get()).finish()
    }
}

/// A type that can be linked into a [`GQueue`] or [`GList`].
///
/// # Safety
/// `sched_link` must return a reference to a link stored inside `self`, the
/// same one on every call, and distinct objects must have distinct links.
/// Otherwise the lists would follow links written for other objects and hand
/// out pointers to elements that are no longer listed.
pub unsafe trait Linked: Sized {
    /// Go: `&gp.schedlink`.
    fn sched_link(&self) -> &SchedLink<Self>;
}

/// Reads the link of a listed element.
///
/// # Safety
/// `g` must be in a list (so the push contract guarantees it is alive and
/// not mutably borrowed).
unsafe fn link_of<'a, T: Linked>(g: NonNull<T>) -> &'a SchedLink<T> {
    // SAFETY: the caller guarantees `g` is listed, and the push contract
    // guarantees listed elements are alive and have no `&mut` outstanding,
    // so a shared reference is valid for as long as the caller uses it
    // (within the list operation).
    unsafe { g.as_ref() }.sched_link()
}

/// A FIFO queue of Gs (Go: `gQueue`), used for the global run queue.
///
/// Go's gQueue became self-sized (`size` field) in Go 1.25, where
/// `sched.runqsize` is gone; this follows that: `len()` is exact and O(1).
pub struct GQueue<T: Linked> {
    head: Option<NonNull<T>>,
    tail: Option<NonNull<T>>,
    size: usize,
}

// SAFETY: the queue only holds pointers and, through them, creates shared
// references `&T` to reach the links. Moving it to (or sharing it with) another
// CPU is therefore sound when `&T` may be used from another CPU, i.e. when
// `T: Sync`. This is what lets a `SpinLock<GQueue<G>>` live in a static.
unsafe impl<T: Linked + Sync> Send for GQueue<T> {}
// SAFETY: `&GQueue` only exposes reads of the head/tail/size fields and
// iteration, which creates `&T` (sound to do from any CPU when `T: Sync`).
unsafe impl<T: Linked + Sync> Sync for GQueue<T> {}

impl<T: Linked> GQueue<T> {
    /// An empty queue.
    pub const fn new() -> Self {
        GQueue {
            head: None,
            tail: None,
            size: 0,
        }
    }

    /// Go: `gQueue.empty`.
    pub const fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Number of Gs queued (Go: `gQueue.size`).
    pub const fn len(&self) -> usize {
        self.size
    }

    /// The first G without removing it.
    pub const fn head(&self) -> Option<NonNull<T>> {
        self.head
    }

    /// Go: `gQueue.push`. Adds `g` at the front (it is popped next).
    ///
    /// # Safety
    /// `g` must point to a live `T` that stays alive, in place, until it is
    /// popped again; it must not be in any other list (it has one link); and
    /// no `&mut T` to it may be used while it is listed (list operations
    /// create `&T` to reach the link).
    pub unsafe fn push_front(&mut self, g: NonNull<T>) {
        // SAFETY: the caller's contract makes `g` valid; it is being listed.
        unsafe { link_of(g) }.set(self.head);
        self.head = Some(g);
        if self.tail.is_none() {
            self.tail = Some(g);
        }
        self.size += 1;
    }

    /// Go: `gQueue.pushBack`. Adds `g` at the back.
    ///
    /// # Safety
    /// As for [`push_front`](Self::push_front).
    pub unsafe fn push_back(&mut self, g: NonNull<T>) {
        // SAFETY: the caller's contract makes `g` valid; it is being listed.
        unsafe { link_of(g) }.set(None);
        match self.tail {
            // SAFETY: `t` is the current tail, so it is listed.
            Some(t) => unsafe { link_of(t) }.set(Some(g)),
            None => self.head = Some(g),
        }
        self.tail = Some(g);
        self.size += 1;
    }

    /// Adds `gs` at the back, in slice order (for the run queue's overflow
    /// batch, Go: the linking loop of `runqputslow` followed by
    /// `globrunqputbatch`).
    ///
    /// # Safety
    /// Every element must satisfy [`push_front`](Self::push_front)'s contract,
    /// and the slice must not contain the same G twice.
    pub unsafe fn push_back_slice(&mut self, gs: &[NonNull<T>]) {
        for &g in gs {
            // SAFETY: forwarded from the caller's contract.
            unsafe { self.push_back(g) };
        }
    }

    /// Go: `gQueue.pushBackAll`. Appends all of `other` in O(1).
    pub fn push_back_all(&mut self, other: GQueue<T>) {
        let Some(other_tail) = other.tail else {
            return;
        };
        // SAFETY: `other_tail` is listed in `other` (whose elements now move
        // to `self`); the contract was established when it was pushed.
        unsafe { link_of(other_tail) }.set(None);
        match self.tail {
            // SAFETY: `t` is the current tail of `self`, so it is listed.
            Some(t) => unsafe { link_of(t) }.set(other.head),
            None => self.head = other.head,
        }
        self.tail = Some(other_tail);
        self.size += other.size;
    }

    /// Go: `gQueue.pop`. Removes and returns the front G.
    pub fn pop_front(&mut self) -> Option<NonNull<T>> {
        let g = self.head?;
        // SAFETY: `g` is the head, so it is listed.
        self.head = unsafe { link_of(g) }.get();
        if self.head.is_none() {
            self.tail = None;
        }
        self.size -= 1;
        Some(g)
    }

    /// Go: `gQueue.popList`. Takes every G as a [`GList`] (same order).
    pub fn pop_list(&mut self) -> GList<T> {
        let list = GList {
            head: self.head,
            size: self.size,
        };
        *self = GQueue::new();
        list
    }

    /// Takes the whole queue, leaving this one empty.
    pub fn take(&mut self) -> GQueue<T> {
        core::mem::take(self)
    }

    /// Walks the queue front to back without removing anything.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            next: self.head,
            left: self.size,
            _list: PhantomData,
        }
    }
}

impl<T: Linked> Default for GQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Linked> core::fmt::Debug for GQueue<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GQueue")
            .field("head", &self.head)
            .field("tail", &self.tail)
            .field("size", &self.size)
            .finish()
    }
}

/// A stack of Gs (Go: `gList`), used for the free-G lists.
pub struct GList<T: Linked> {
    head: Option<NonNull<T>>,
    size: usize,
}

// SAFETY: as for `GQueue`: only pointers, dereferenced as `&T` to reach the
// links, which is sound from any CPU when `T: Sync`.
unsafe impl<T: Linked + Sync> Send for GList<T> {}
// SAFETY: as for `GQueue`.
unsafe impl<T: Linked + Sync> Sync for GList<T> {}

impl<T: Linked> GList<T> {
    /// An empty list.
    pub const fn new() -> Self {
        GList {
            head: None,
            size: 0,
        }
    }

    /// Go: `gList.empty`.
    pub const fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Number of Gs in the list (Go: `gList.size`).
    pub const fn len(&self) -> usize {
        self.size
    }

    /// The top G without removing it.
    pub const fn head(&self) -> Option<NonNull<T>> {
        self.head
    }

    /// Go: `gList.push`. Pushes `g` on top.
    ///
    /// # Safety
    /// As for [`GQueue::push_front`].
    pub unsafe fn push(&mut self, g: NonNull<T>) {
        // SAFETY: the caller's contract makes `g` valid; it is being listed.
        unsafe { link_of(g) }.set(self.head);
        self.head = Some(g);
        self.size += 1;
    }

    /// Go: `gList.pushAll`. Pushes all of `q` on top, keeping `q`'s order
    /// (`q`'s front becomes the top), in O(1).
    pub fn push_all(&mut self, q: GQueue<T>) {
        let Some(q_tail) = q.tail else {
            return;
        };
        // SAFETY: `q_tail` is listed in `q`, whose elements move to `self`.
        unsafe { link_of(q_tail) }.set(self.head);
        self.head = q.head;
        self.size += q.size;
    }

    /// Go: `gList.pop`. Removes and returns the top G.
    pub fn pop(&mut self) -> Option<NonNull<T>> {
        let g = self.head?;
        // SAFETY: `g` is the head, so it is listed.
        self.head = unsafe { link_of(g) }.get();
        self.size -= 1;
        Some(g)
    }

    /// Takes the whole list, leaving this one empty.
    pub fn take(&mut self) -> GList<T> {
        core::mem::take(self)
    }

    /// Walks the list top to bottom without removing anything.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            next: self.head,
            left: self.size,
            _list: PhantomData,
        }
    }
}

impl<T: Linked> Default for GList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Linked> core::fmt::Debug for GList<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GList")
            .field("head", &self.head)
            .field("size", &self.size)
            .finish()
    }
}

/// Iterator over the elements of a [`GQueue`] or [`GList`], in pop order.
///
/// Borrows the list, so it cannot change while walked.
pub struct Iter<'a, T: Linked> {
    next: Option<NonNull<T>>,
    left: usize,
    _list: PhantomData<&'a T>,
}

impl<T: Linked> Iterator for Iter<'_, T> {
    type Item = NonNull<T>;

    fn next(&mut self) -> Option<NonNull<T>> {
        // The last element's link is always null, but bound the walk by the
        // size too: cheap, and a corrupted list cannot make it run forever.
        if self.left == 0 {
            return None;
        }
        let g = self.next?;
        self.left -= 1;
        // SAFETY: `g` is an element of the borrowed list (reached from its
        // head through at most `size` links), so it is listed.
        self.next = unsafe { link_of(g) }.get();
        Some(g)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T: Linked> ExactSizeIterator for Iter<'_, T> {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct G {
        id: usize,
        schedlink: SchedLink<G>,
    }

    // SAFETY: `sched_link` returns the `schedlink` field of `self`.
    unsafe impl Linked for G {
        fn sched_link(&self) -> &SchedLink<G> {
            &self.schedlink
        }
    }

    fn gs(n: usize) -> Vec<G> {
        (0..n)
            .map(|id| G {
                id,
                schedlink: SchedLink::new(),
            })
            .collect()
    }

    fn ptr(g: &G) -> NonNull<G> {
        NonNull::from(g)
    }

    fn id(g: NonNull<G>) -> usize {
        // SAFETY: test Gs live in a Vec that outlives every list.
        unsafe { g.as_ref() }.id
    }

    fn ids_q(q: &GQueue<G>) -> Vec<usize> {
        q.iter().map(id).collect()
    }

    fn ids_l(l: &GList<G>) -> Vec<usize> {
        l.iter().map(id).collect()
    }

    #[test]
    fn queue_push_back_pop_front_is_fifo() {
        let g = gs(4);
        let mut q = GQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
        for x in &g {
            // SAFETY: `g` outlives `q`; each G is pushed once.
            unsafe { q.push_back(ptr(x)) };
        }
        assert_eq!(q.len(), 4);
        assert_eq!(ids_q(&q), [0, 1, 2, 3]);
        let popped: Vec<usize> = core::iter::from_fn(|| q.pop_front()).map(id).collect();
        assert_eq!(popped, [0, 1, 2, 3]);
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.head(), None);
    }

    #[test]
    fn queue_push_front_goes_first() {
        let g = gs(3);
        let mut q = GQueue::new();
        // SAFETY: `g` outlives `q`; each G is pushed once.
        unsafe {
            q.push_front(ptr(&g[0]));
            q.push_back(ptr(&g[1]));
            q.push_front(ptr(&g[2]));
        }
        assert_eq!(ids_q(&q), [2, 0, 1]);
        assert_eq!(q.pop_front().map(id), Some(2));
        assert_eq!(q.pop_front().map(id), Some(0));
        assert_eq!(q.pop_front().map(id), Some(1));
        assert_eq!(q.pop_front(), None);
        // Reusable after emptying: tail was reset.
        // SAFETY: as above; the Gs were popped, so they are unlisted.
        unsafe {
            q.push_back(ptr(&g[1]));
            q.push_back(ptr(&g[0]));
        }
        assert_eq!(ids_q(&q), [1, 0]);
    }

    #[test]
    fn queue_push_back_all_appends_and_handles_empties() {
        let g = gs(5);
        let mut a = GQueue::new();
        let mut b = GQueue::new();
        // SAFETY: `g` outlives the lists; each G is pushed once.
        unsafe {
            a.push_back_slice(&[ptr(&g[0]), ptr(&g[1])]);
            b.push_back_slice(&[ptr(&g[2]), ptr(&g[3]), ptr(&g[4])]);
        }
        a.push_back_all(GQueue::new());
        assert_eq!(ids_q(&a), [0, 1]);
        a.push_back_all(b.take());
        assert!(b.is_empty());
        assert_eq!(a.len(), 5);
        assert_eq!(ids_q(&a), [0, 1, 2, 3, 4]);
        // Into an empty queue.
        let mut c = GQueue::new();
        c.push_back_all(a.take());
        assert_eq!(ids_q(&c), [0, 1, 2, 3, 4]);
        // Pushing after a pushBackAll appends after the new tail.
        let h = gs(1);
        // SAFETY: `h` outlives `c`, pushed once.
        unsafe { c.push_back(ptr(&h[0])) };
        let all: Vec<usize> = core::iter::from_fn(|| c.pop_front()).map(id).collect();
        assert_eq!(all, [0, 1, 2, 3, 4, 0]);
    }

    #[test]
    fn queue_pop_list_keeps_order() {
        let g = gs(3);
        let mut q = GQueue::new();
        // SAFETY: `g` outlives the lists; each G is pushed once.
        unsafe { q.push_back_slice(&[ptr(&g[0]), ptr(&g[1]), ptr(&g[2])]) };
        let mut l = q.pop_list();
        assert!(q.is_empty());
        assert_eq!(l.len(), 3);
        assert_eq!(l.pop().map(id), Some(0));
        assert_eq!(ids_l(&l), [1, 2]);
    }

    #[test]
    fn list_is_lifo() {
        let g = gs(3);
        let mut l = GList::new();
        assert_eq!(l.pop(), None);
        for x in &g {
            // SAFETY: `g` outlives `l`; each G is pushed once.
            unsafe { l.push(ptr(x)) };
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.head().map(id), Some(2));
        assert_eq!(ids_l(&l), [2, 1, 0]);
        assert_eq!(l.pop().map(id), Some(2));
        assert_eq!(l.pop().map(id), Some(1));
        assert_eq!(l.pop().map(id), Some(0));
        assert_eq!(l.pop(), None);
        assert!(l.is_empty());
    }

    #[test]
    fn list_push_all_puts_queue_on_top_in_order() {
        let g = gs(5);
        let mut l = GList::new();
        let mut q = GQueue::new();
        // SAFETY: `g` outlives the lists; each G is pushed once.
        unsafe {
            l.push(ptr(&g[0]));
            l.push(ptr(&g[1]));
            q.push_back_slice(&[ptr(&g[2]), ptr(&g[3]), ptr(&g[4])]);
        }
        l.push_all(q);
        l.push_all(GQueue::new());
        assert_eq!(l.len(), 5);
        assert_eq!(ids_l(&l), [2, 3, 4, 1, 0]);
        let mut empty = GList::new();
        let mut q2 = GQueue::new();
        // Take `l` apart; its Gs move to `q2` one by one.
        let mut moved = l.take();
        while let Some(x) = moved.pop() {
            // SAFETY: `x` was just popped, so it is unlisted; `g` outlives.
            unsafe { q2.push_back(x) };
        }
        empty.push_all(q2);
        assert_eq!(ids_l(&empty), [2, 3, 4, 1, 0]);
    }

    #[test]
    fn relinking_a_popped_g_leaves_the_rest_intact() {
        let g = gs(3);
        let mut q = GQueue::new();
        // SAFETY: `g` outlives the lists; each G is pushed once.
        unsafe { q.push_back_slice(&[ptr(&g[0]), ptr(&g[1]), ptr(&g[2])]) };
        let mut l = GList::new();
        l.push_all(q.take());
        // Pop one, push it to a fresh queue: g[0]'s link is rewritten.
        let x = l.pop().unwrap();
        let mut q2 = GQueue::new();
        // SAFETY: `x` was popped, so it is unlisted.
        unsafe { q2.push_back(x) };
        assert_eq!(ids_q(&q2), [0]);
        assert_eq!(q2.iter().len(), 1);
        assert_eq!(ids_l(&l), [1, 2]);
    }

    #[test]
    fn lists_are_send_for_sync_elements() {
        fn assert_send_sync<X: Send + Sync>() {}
        assert_send_sync::<GQueue<G>>();
        assert_send_sync::<GList<G>>();
    }
}
