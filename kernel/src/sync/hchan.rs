//! Go's channel algorithms (runtime/chan.go: `hchan`, `chansend`,
//! `chanrecv`, `closechan`, `send`, `recv`, `waitq`), generic over the
//! runtime's parking primitive ([`Runtime`]) so that the very same code runs
//! in the kernel (goroutines, `gopark`/`goready`, `sync/chan.rs`) and under
//! loom on the host (threads, park/unpark, `sync/chan_model.rs`).
//!
//! # The protocol
//!
//! One lock per channel guards everything: the ring buffer's indices and
//! count, `closed`, and the two queues of waiting goroutines, `sendq` and
//! `recvq` (each waiter is a [`Sudog`] pointing at the value slot on its own
//! stack). At most one of the queues is non-empty, and a queued sender
//! implies a full buffer, a queued receiver an empty one: every operation
//! below keeps that, so one look decides what an operation does.
//!
//! - **send** (Go: `chansend`): closed -> the send fails (the API panics
//!   `send on closed channel`); a receiver waiting -> the value is copied
//!   straight into its slot and it is readied (Go: `send`, `sendDirect`: the
//!   buffer is empty then, so FIFO order holds); room in the buffer -> into
//!   the ring at `sendx`; else block: enqueue a sudog on `sendq` and park.
//! - **receive** (Go: `chanrecv`): closed and empty -> "closed" (Go's
//!   `v, ok := <-c` with `ok == false`); a sender waiting -> unbuffered:
//!   take its value directly (Go: `recvDirect`); buffered (then full): take
//!   the head at `recvx` and move the sender's value into the slot just
//!   freed, which becomes the tail (`sendx = recvx`), so the sender's value
//!   stays behind everything sent before it (Go: `recv`); a buffered value
//!   -> take the head; else block on `recvq`.
//! - **close** (Go: `closechan`): mark closed, dequeue every waiter with
//!   `success = false`, release the lock, then ready them all. A woken
//!   receiver reports "closed"; a woken sender fails (and the API panics,
//!   as Go does for a sender blocked when the channel is closed).
//!
//! The waker does all the work: it moves the value and writes the sudog's
//! `success` under the lock, then releases the lock and readies the waiter.
//! The waiter, once running again, only reads its sudog. The lock's release
//! and the runtime's ready -> run edge order those writes before the
//! waiter's reads (the happens-before edge a channel promises: everything
//! the sender did before `send` is visible after `recv` returns).
//!
//! A blocking operation parks with the lock held and the runtime releases it
//! only once the waiter can no longer run (Go: `gopark(chanparkcommit,
//! &c.lock)`): a waker that dequeues the sudog can ready it at once.
//!
//! `select` (`sync/selectgo.rs`) uses the same steps through [`SelChan`]:
//! `poll_send`/`poll_recv` (one non-blocking attempt under the lock) and
//! `enqueue`/`dequeue_sudog`. A select's sudogs share one wake record; a
//! waker dequeuing one first wins the select's `done` flag (Go:
//! `selectDone`) or, if another channel already won it, skips the sudog
//! (Go: `waitq.dequeue`).
//!
//! # Differences from Go
//!
//! - Values move (Rust ownership), they are not copied: a failed send hands
//!   the value back, a receive on a closed channel returns no value instead
//!   of the zero value.
//! - No lock-free fast paths (Go's `full`/`empty` checks before locking in
//!   non-blocking operations): every operation takes the lock. Only `len`
//!   reads a racy copy of the count.
//! - Stacks never move in gmpos (they grow by page faults and shrink only
//!   below the saved stack pointer), so Go's `activeStackChans` and
//!   `parkingOnChan` dance around stack copying has no counterpart: a
//!   parked waiter's slot stays where it is.
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use crate::lock::atomic::{AtomicUsize, Ordering};
use crate::lock::cell::UnsafeCell;
use crate::sched::sudog::Sudog;

/// Why a waiter parks (the kernel maps it to its `WaitReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParkReason {
    /// Go: `waitReasonChanSend`.
    ChanSend,
    /// Go: `waitReasonChanReceive`.
    ChanReceive,
    /// Go: `waitReasonSelect`.
    Select,
    /// Go: `waitReasonSelectNoCases` (`select {}`: never woken).
    SelectNoCases,
}

/// A channel's lock (Go: `hchan.lock`).
pub trait ChanLock {
    fn new() -> Self;
    fn lock(&self);
    fn unlock(&self);
    /// Its address: the identity `select` orders locks by.
    fn addr(&self) -> usize;
    /// Takes the lock if it is free (the kernel's watchdog, which never
    /// waits); a lock without it is never checked.
    fn try_lock(&self) -> bool {
        false
    }
}

/// What the channel code needs from the runtime: who is running, sudogs,
/// parking and readying.
///
/// # Safety
/// `park` must not return before `ready` was called for the same waiter,
/// must run `unlock` only once the waiter will not run again before that
/// `ready`, and `ready` must make everything the readier did before it
/// visible to the waiter after `park` returns.
pub unsafe trait Runtime: 'static {
    /// Who parks and gets readied (Go: `*g`).
    type Waiter: Copy;
    type Lock: ChanLock;
    /// The current waiter (Go: `getg()`), to be parked by `park`.
    fn current() -> Self::Waiter;
    /// Go: `acquireSudog`: a fresh sudog for `w`.
    fn acquire_sudog(w: Self::Waiter) -> NonNull<Sudog<Self::Waiter>>;
    /// Go: `releaseSudog`.
    ///
    /// # Safety
    /// `s` came from `acquire_sudog` and is on no queue.
    unsafe fn release_sudog(s: NonNull<Sudog<Self::Waiter>>);
    /// Go: `gopark(unlockf, ...)`: parks `me` (what `current` returned),
    /// running `unlock` once it is off its CPU; returns once readied.
    /// `external`: the wait is on a channel interrupt handlers feed (not a
    /// deadlock while it lasts).
    fn park(me: Self::Waiter, unlock: &dyn Fn(), reason: ParkReason, external: bool);
    /// Go: `goready`.
    fn ready(w: Self::Waiter);
    /// Go: `cheaprandn(n)`: a random number in `0..n` (select's poll order).
    fn rand_n(n: u32) -> u32;
}

/// Go: `waitq`: a FIFO of sudogs, linked through `next`/`prev`.
pub struct WaitQ<W> {
    first: *mut Sudog<W>,
    last: *mut Sudog<W>,
}

impl<W> WaitQ<W> {
    const fn new() -> Self {
        WaitQ {
            first: ptr::null_mut(),
            last: ptr::null_mut(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_null()
    }

    /// Go: `waitq.enqueue`.
    ///
    /// # Safety
    /// `sg` is live, on no queue, and stays in place while queued.
    unsafe fn enqueue(&mut self, sg: NonNull<Sudog<W>>) {
        let sg = sg.as_ptr();
        // SAFETY: `sg` and the queued sudogs are live (caller, and the
        // queue's invariant); we hold the channel's lock.
        unsafe {
            (*sg).next = ptr::null_mut();
            (*sg).prev = self.last;
            if self.last.is_null() {
                self.first = sg;
            } else {
                (*self.last).next = sg;
            }
        }
        self.last = sg;
    }

    /// Go: `waitq.dequeue`: the oldest waiter that can still be woken: a
    /// select's sudog whose select another channel already won is dropped
    /// from the queue and skipped (its select dequeues the rest itself).
    fn dequeue(&mut self) -> Option<NonNull<Sudog<W>>> {
        loop {
            let sg = NonNull::new(self.first)?;
            let s = sg.as_ptr();
            // SAFETY: queued sudogs are live; we hold the channel's lock.
            unsafe {
                let y = (*s).next;
                if y.is_null() {
                    self.first = ptr::null_mut();
                    self.last = ptr::null_mut();
                } else {
                    (*y).prev = ptr::null_mut();
                    self.first = y;
                    (*s).next = ptr::null_mut();
                }
                // Go: `sgp.isSelect && !sgp.g.selectDone.CompareAndSwap(0, 1)`.
                // The wake record lives on the selecting goroutine's stack:
                // valid, since that goroutine dequeues every sudog of its
                // select (under this lock) before it returns.
                if (*s).is_select
                    && (*(*s).wake)
                        .done
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_err()
                {
                    continue;
                }
            }
            return Some(sg);
        }
    }

    /// Go: `waitq.dequeueSudoG`: removes `sg` wherever it is; nothing if a
    /// `dequeue` already took it off.
    ///
    /// # Safety
    /// `sg` is live and was enqueued on this queue.
    unsafe fn dequeue_sudog(&mut self, sg: NonNull<Sudog<W>>) {
        let s = sg.as_ptr();
        // SAFETY: as in `dequeue`.
        unsafe {
            let x = (*s).prev;
            let y = (*s).next;
            if !x.is_null() {
                if !y.is_null() {
                    (*x).next = y;
                    (*y).prev = x;
                    (*s).next = ptr::null_mut();
                    (*s).prev = ptr::null_mut();
                    return;
                }
                (*x).next = ptr::null_mut();
                self.last = x;
                (*s).prev = ptr::null_mut();
                return;
            }
            if !y.is_null() {
                (*y).prev = ptr::null_mut();
                self.first = y;
                (*s).next = ptr::null_mut();
                return;
            }
            // x == y == null: the only element, or already removed.
            if self.first == s {
                self.first = ptr::null_mut();
                self.last = ptr::null_mut();
            }
        }
    }
}

/// The state under the channel's lock (Go: the rest of `hchan`).
struct State<W> {
    /// Go: `recvx`, `sendx`: ring indices of the head and of the next free
    /// slot.
    recvx: usize,
    sendx: usize,
    /// Go: `closed`.
    closed: bool,
    /// Go: `recvq`, `sendq`.
    recvq: WaitQ<W>,
    sendq: WaitQ<W>,
}

/// A value slot: a sender's value waiting to move, or where a receiver
/// gets one (Go: `ep`, `sudog.elem`).
pub type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// Go: `hchan`.
pub struct HChan<T, R: Runtime> {
    lock: R::Lock,
    st: core::cell::UnsafeCell<State<R::Waiter>>,
    /// Go: `buf` (`dataqsiz` slots).
    buf: alloc::boxed::Box<[Slot<T>]>,
    /// Go: `qcount`: written under the lock, read racily by `len`.
    qcount: AtomicUsize,
    /// Made with `chan_from_interrupts`: interrupt handlers feed it, so its
    /// waiters are waiting on an interrupt source.
    irq_fed: bool,
}

// SAFETY: the state is only touched under the lock; values of `T` move
// between threads through it, hence `T: Send`.
unsafe impl<T: Send, R: Runtime> Sync for HChan<T, R> {}
// SAFETY: as above.
unsafe impl<T: Send, R: Runtime> Send for HChan<T, R> {}

/// Why a send did not complete; the value comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum SendFail<T> {
    /// Non-blocking send, no receiver and no room.
    Full(T),
    /// The channel is (or, for a blocked sender, was made) closed.
    Closed(T),
}

/// Why a receive returned no value.
#[derive(Debug, PartialEq, Eq)]
pub enum RecvFail {
    /// Non-blocking receive, no sender and nothing buffered.
    Empty,
    /// Closed and drained.
    Closed,
}

/// `close` of a closed channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyClosed;

/// Moves the value out of `from` into `to` (both slots).
///
/// # Safety
/// `from` holds a value (afterwards it does not); nobody else accesses
/// either slot meanwhile.
unsafe fn move_slot<T>(from: *const Slot<T>, to: *const Slot<T>) {
    // SAFETY: forwarded to the caller.
    unsafe {
        let v = (*from).with(|p| ptr::read(p));
        (*to).with_mut(|p| ptr::write(p, v));
    }
}

/// Takes the value out of a slot that holds one.
///
/// # Safety
/// As for [`move_slot`].
pub unsafe fn take_slot<T>(s: &Slot<T>) -> T {
    // SAFETY: forwarded to the caller.
    s.with(|p| unsafe { ptr::read(p).assume_init() })
}

/// Writes `success` into a sudog handed to its waiter.
///
/// # Safety
/// The caller dequeued `sg` and owns it until it readies the waiter.
unsafe fn set_success<W>(sg: NonNull<Sudog<W>>, v: bool) {
    // SAFETY: forwarded to the caller.
    unsafe { (*sg.as_ptr()).success.with_mut(|p| *p = v) }
}

/// Reads `success` after waking.
///
/// # Safety
/// `sg` is the caller's sudog and it has been readied.
pub unsafe fn success<W>(sg: NonNull<Sudog<W>>) -> bool {
    // SAFETY: forwarded to the caller.
    unsafe { (*sg.as_ptr()).success.with(|p| *p) }
}

impl<T, R: Runtime> HChan<T, R> {
    /// Go: `makechan`.
    pub fn new(cap: usize, irq_fed: bool) -> Self {
        HChan {
            lock: R::Lock::new(),
            st: core::cell::UnsafeCell::new(State {
                recvx: 0,
                sendx: 0,
                closed: false,
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
            }),
            buf: (0..cap)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            qcount: AtomicUsize::new(0),
            irq_fed,
        }
    }

    /// Go: `cap(c)`.
    pub fn cap(&self) -> usize {
        self.buf.len()
    }

    /// Go: `len(c)`: values buffered (a snapshot).
    pub fn len(&self) -> usize {
        self.qcount.load(Ordering::Relaxed)
    }

    /// Whether nothing is buffered (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_irq_fed(&self) -> bool {
        self.irq_fed
    }

    /// The state.
    ///
    /// # Safety
    /// The caller holds the lock, and holds no other reference to the state.
    #[allow(clippy::mut_from_ref)]
    unsafe fn st(&self) -> &mut State<R::Waiter> {
        // SAFETY: forwarded to the caller.
        unsafe { &mut *self.st.get() }
    }

    fn count(&self) -> usize {
        // Only changed under the lock we hold: Relaxed is exact.
        self.qcount.load(Ordering::Relaxed)
    }

    fn set_count(&self, n: usize) {
        self.qcount.store(n, Ordering::Relaxed);
    }

    /// One non-blocking send attempt, lock held (the send half of Go's
    /// `chansend` and of selectgo's first pass). `Some(true)`: done,
    /// `Some(false)`: closed, and `unlock` has run; `None`: it would block,
    /// still locked.
    ///
    /// # Safety
    /// The lock is held; `ep` is a `Slot<T>` holding the value.
    pub unsafe fn poll_send(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool> {
        // SAFETY: the lock is held.
        let st = unsafe { self.st() };
        if st.closed {
            unlock();
            return Some(false);
        }
        if let Some(sg) = st.recvq.dequeue() {
            // SAFETY: a receiver's sudog, dequeued: ours until readied.
            unsafe { self.send_direct(sg, ep, unlock) };
            return Some(true);
        }
        let n = self.count();
        if n < self.cap() {
            // SAFETY: the slot at sendx is free (n < cap); `ep` holds the
            // value.
            unsafe { move_slot(ep as *const Slot<T>, &self.buf[st.sendx]) };
            st.sendx = (st.sendx + 1) % self.cap();
            self.set_count(n + 1);
            unlock();
            return Some(true);
        }
        None
    }

    /// Go: `send`: copies the value into a parked receiver's slot (Go:
    /// `sendDirect`), unlocks, readies it.
    ///
    /// # Safety
    /// `sg` is a dequeued receiver's sudog; the lock is held; `ep` holds
    /// the value.
    unsafe fn send_direct(&self, sg: NonNull<Sudog<R::Waiter>>, ep: *mut u8, unlock: &dyn Fn()) {
        let s = sg.as_ptr();
        // SAFETY: the caller's contract; the receiver's slot is on its
        // stack, intact while it is parked.
        unsafe {
            move_slot(ep as *const Slot<T>, (*s).elem as *const Slot<T>);
            (*s).elem = ptr::null_mut();
            Self::finish(sg, true);
        }
        // SAFETY: still ours until readied.
        let g = unsafe { (*s).g };
        unlock();
        R::ready(g);
    }

    /// Marks a dequeued sudog done (`success`) and, for a select, records it
    /// as the winner (Go: `gp.param = sg`).
    ///
    /// # Safety
    /// As for [`set_success`].
    unsafe fn finish(sg: NonNull<Sudog<R::Waiter>>, ok: bool) {
        let s = sg.as_ptr();
        // SAFETY: forwarded to the caller; the wake record outlives the
        // select's park.
        unsafe {
            set_success(sg, ok);
            if (*s).is_select {
                (*(*s).wake).param.with_mut(|p| *p = s);
            }
        }
    }

    /// One non-blocking receive attempt, lock held (Go: `chanrecv` up to
    /// blocking, selectgo's first pass). `Some(true)`: a value is in `ep`,
    /// `Some(false)`: closed and drained, and `unlock` has run; `None`: it
    /// would block, still locked.
    ///
    /// # Safety
    /// The lock is held; `ep` is an empty `Slot<T>`.
    pub unsafe fn poll_recv(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool> {
        // SAFETY: the lock is held.
        let st = unsafe { self.st() };
        if st.closed {
            if self.count() == 0 {
                unlock();
                return Some(false);
            }
            // Closed with values left: they are still received (a closed
            // channel has no senders waiting: close woke them).
        } else if let Some(sg) = st.sendq.dequeue() {
            // SAFETY: a sender's sudog, dequeued: ours until readied.
            unsafe { self.recv_direct(sg, ep, unlock) };
            return Some(true);
        }
        let n = self.count();
        if n > 0 {
            // SAFETY: the head slot holds a value (n > 0); `ep` is empty.
            unsafe { move_slot(&self.buf[st.recvx], ep as *const Slot<T>) };
            st.recvx = (st.recvx + 1) % self.cap();
            self.set_count(n - 1);
            unlock();
            return Some(true);
        }
        None
    }

    /// Go: `recv`, with a sender parked: unbuffered, take its value (Go:
    /// `recvDirect`); buffered (the buffer is full), take the head and put
    /// the sender's value in the freed slot, the new tail.
    ///
    /// # Safety
    /// `sg` is a dequeued sender's sudog; the lock is held; `ep` is empty.
    unsafe fn recv_direct(&self, sg: NonNull<Sudog<R::Waiter>>, ep: *mut u8, unlock: &dyn Fn()) {
        let s = sg.as_ptr();
        // SAFETY: lock held (caller).
        let st = unsafe { self.st() };
        // SAFETY: the sender's slot is on its stack, intact while parked,
        // and holds its value; the buffer is full when a sender waits.
        unsafe {
            let theirs = (*s).elem as *const Slot<T>;
            if self.cap() == 0 {
                move_slot(theirs, ep as *const Slot<T>);
            } else {
                let head = &self.buf[st.recvx];
                move_slot(head, ep as *const Slot<T>);
                move_slot(theirs, head);
                st.recvx = (st.recvx + 1) % self.cap();
                st.sendx = st.recvx;
            }
            (*s).elem = ptr::null_mut();
            Self::finish(sg, true);
        }
        // SAFETY: still ours until readied.
        let g = unsafe { (*s).g };
        unlock();
        R::ready(g);
    }

    /// Queues the current waiter's sudog for `ep` and parks until a peer or
    /// `close` wakes it; returns `success`.
    ///
    /// # Safety
    /// The lock is held (the park releases it); `ep` is the op's slot.
    unsafe fn block(&self, ep: *mut u8, send: bool) -> bool {
        let me = R::current();
        let sg = R::acquire_sudog(me);
        // SAFETY: a fresh sudog, ours; the lock is held.
        unsafe {
            (*sg.as_ptr()).elem = ep;
            (*sg.as_ptr()).c = self.lock.addr();
            self.enqueue(sg, send);
        }
        let reason = if send {
            ParkReason::ChanSend
        } else {
            ParkReason::ChanReceive
        };
        R::park(me, &|| self.lock.unlock(), reason, self.irq_fed);
        // SAFETY: readied: the waker dequeued the sudog and is done with it.
        let ok = unsafe { success(sg) };
        // SAFETY: on no queue any more.
        unsafe { R::release_sudog(sg) };
        ok
    }

    /// Go: `chansend(c, ep, block)`. The value comes back on failure.
    /// The watchdog's "would this parked waiter proceed now?" (the
    /// kernel's `sched/watchdog.rs`), under the lock: a receiver still in
    /// `recvq` while a value is buffered, a sender waits or the channel is
    /// closed; a sender still in `sendq` while there is room, a receiver
    /// waits or it is closed; or a waiter in neither queue (dequeued by a
    /// waker, so woken, and still parked). Each is a state the waker's
    /// hand-off under the lock never leaves behind, or a wake-up between
    /// the unlock and `ready`. `None`: the lock was busy; `Some(None)`: it
    /// would not proceed; `Some(Some(why))`: it would, and why.
    pub fn watch_state(&self, is_w: impl Fn(&R::Waiter) -> bool) -> Option<Option<&'static str>> {
        if !self.lock.try_lock() {
            return None;
        }
        // SAFETY: we hold the lock; the sudogs listed are valid until
        // dequeued under it.
        let r = unsafe {
            let st = &*self.st.get();
            let holds = |q: &WaitQ<R::Waiter>| {
                let mut s = q.first;
                while !s.is_null() {
                    if is_w(&(*s).g) {
                        return true;
                    }
                    s = (*s).next;
                }
                false
            };
            let qcount = self.qcount.load(Ordering::Relaxed);
            if holds(&st.recvq) {
                if st.closed {
                    Some("receiver still queued on a closed channel")
                } else if qcount > 0 {
                    Some("receiver still queued while values are buffered")
                } else if !st.sendq.is_empty() {
                    Some("receiver still queued while a sender waits")
                } else {
                    None
                }
            } else if holds(&st.sendq) {
                if st.closed {
                    Some("sender still queued on a closed channel")
                } else if qcount < self.buf.len() {
                    Some("sender still queued while the buffer has room")
                } else if !st.recvq.is_empty() {
                    Some("sender still queued while a receiver waits")
                } else {
                    None
                }
            } else {
                Some("dequeued by its partner but never readied")
            }
        };
        self.lock.unlock();
        Some(r)
    }

    pub fn send(&self, v: T, block: bool) -> Result<(), SendFail<T>> {
        let slot: Slot<T> = UnsafeCell::new(MaybeUninit::new(v));
        let ep = &slot as *const Slot<T> as *mut u8;
        self.lock.lock();
        let unlock = || self.lock.unlock();
        // SAFETY: locked; `slot` holds the value.
        match unsafe { self.poll_send(ep, &unlock) } {
            Some(true) => return Ok(()),
            // SAFETY: a failed attempt leaves the value in the slot.
            Some(false) => return Err(SendFail::Closed(unsafe { take_slot(&slot) })),
            None => {}
        }
        if !block {
            unlock();
            // SAFETY: as above.
            return Err(SendFail::Full(unsafe { take_slot(&slot) }));
        }
        // SAFETY: locked; `slot` stays on this stack while parked.
        if unsafe { self.block(ep, true) } {
            Ok(())
        } else {
            // Woken by close: the value never moved.
            // SAFETY: as above.
            Err(SendFail::Closed(unsafe { take_slot(&slot) }))
        }
    }

    /// Go: `chanrecv(c, ep, block)`.
    pub fn recv(&self, block: bool) -> Result<T, RecvFail> {
        let slot: Slot<T> = UnsafeCell::new(MaybeUninit::uninit());
        let ep = &slot as *const Slot<T> as *mut u8;
        self.lock.lock();
        let unlock = || self.lock.unlock();
        // SAFETY: locked; `slot` is empty.
        match unsafe { self.poll_recv(ep, &unlock) } {
            // SAFETY: the attempt put a value in the slot.
            Some(true) => return Ok(unsafe { take_slot(&slot) }),
            Some(false) => return Err(RecvFail::Closed),
            None => {}
        }
        if !block {
            unlock();
            return Err(RecvFail::Empty);
        }
        // SAFETY: locked; `slot` stays on this stack while parked.
        if unsafe { self.block(ep, false) } {
            // SAFETY: a sender moved its value into the slot.
            Ok(unsafe { take_slot(&slot) })
        } else {
            Err(RecvFail::Closed)
        }
    }

    /// Go: `closechan`. `Err(AlreadyClosed)` the second time (the API panics
    /// `close of closed channel`).
    pub fn close(&self) -> Result<(), AlreadyClosed> {
        self.lock.lock();
        // SAFETY: locked.
        let st = unsafe { self.st() };
        if st.closed {
            self.lock.unlock();
            return Err(AlreadyClosed);
        }
        st.closed = true;
        // Every waiter, linked through `next` (Go: a gList), readied after
        // the unlock: readying under the lock would make each woken waiter
        // spin on it.
        let mut woken: *mut Sudog<R::Waiter> = ptr::null_mut();
        while let Some(sg) = st.recvq.dequeue().or_else(|| st.sendq.dequeue()) {
            // SAFETY: dequeued: ours until readied. A receiver's slot stays
            // empty, a sender's value stays with it.
            unsafe {
                Self::finish(sg, false);
                (*sg.as_ptr()).next = woken;
            }
            woken = sg.as_ptr();
        }
        self.lock.unlock();
        while let Some(sg) = NonNull::new(woken) {
            // SAFETY: still ours (the waiter is parked until `ready`); read
            // everything before readying it.
            let g = unsafe {
                woken = (*sg.as_ptr()).next;
                (*sg.as_ptr()).g
            };
            R::ready(g);
        }
        Ok(())
    }

    /// Go: `waitq.enqueue` on `sendq` (`send`) or `recvq`.
    ///
    /// # Safety
    /// The lock is held; `sg` is live and on no queue.
    pub unsafe fn enqueue(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool) {
        // SAFETY: forwarded to the caller.
        unsafe {
            let st = self.st();
            if send {
                st.sendq.enqueue(sg)
            } else {
                st.recvq.enqueue(sg)
            }
        }
    }

    /// Go: `waitq.dequeueSudoG` on `sendq` (`send`) or `recvq`.
    ///
    /// # Safety
    /// The lock is held; `sg` was enqueued there.
    pub unsafe fn dequeue_sudog(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool) {
        // SAFETY: forwarded to the caller.
        unsafe {
            let st = self.st();
            if send {
                st.sendq.dequeue_sudog(sg)
            } else {
                st.recvq.dequeue_sudog(sg)
            }
        }
    }

    /// For tests: (closed, sendq empty, recvq empty), under the lock.
    pub fn debug_state(&self) -> (bool, bool, bool) {
        self.lock.lock();
        // SAFETY: locked.
        let st = unsafe { self.st() };
        let r = (st.closed, st.sendq.is_empty(), st.recvq.is_empty());
        self.lock.unlock();
        r
    }
}

impl<T, R: Runtime> Drop for HChan<T, R> {
    fn drop(&mut self) {
        // No waiter can be left: each holds a reference to the channel.
        let st = self.st.get_mut();
        let n = self.qcount.load(Ordering::Relaxed);
        for i in 0..n {
            let slot = &self.buf[(st.recvx + i) % self.buf.len()];
            // SAFETY: the `n` slots from recvx hold values; nobody else can
            // reach the channel any more.
            drop(unsafe { take_slot(slot) });
        }
    }
}

/// A channel as `select` sees it, whatever its element type (Go's
/// selectgo works on untyped `hchan`s; here the typed channel hides behind
/// this object-safe trait).
///
/// # Safety
/// The `poll_*`, `enqueue` and `dequeue_sudog` methods have the contracts
/// of [`HChan`]'s methods of the same names.
pub unsafe trait SelChan<R: Runtime> {
    fn lock(&self);
    fn unlock(&self);
    fn lock_addr(&self) -> usize;
    fn irq_fed(&self) -> bool;
    /// # Safety
    /// As [`HChan::poll_send`].
    unsafe fn poll_send(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool>;
    /// # Safety
    /// As [`HChan::poll_recv`].
    unsafe fn poll_recv(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool>;
    /// # Safety
    /// As [`HChan::enqueue`].
    unsafe fn enqueue(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool);
    /// # Safety
    /// As [`HChan::dequeue_sudog`].
    unsafe fn dequeue_sudog(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool);
}

// SAFETY: forwards to the methods whose contracts the trait names.
unsafe impl<T, R: Runtime> SelChan<R> for HChan<T, R> {
    fn lock(&self) {
        self.lock.lock()
    }
    fn unlock(&self) {
        self.lock.unlock()
    }
    fn lock_addr(&self) -> usize {
        self.lock.addr()
    }
    fn irq_fed(&self) -> bool {
        self.irq_fed
    }
    unsafe fn poll_send(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool> {
        // SAFETY: forwarded.
        unsafe { HChan::poll_send(self, ep, unlock) }
    }
    unsafe fn poll_recv(&self, ep: *mut u8, unlock: &dyn Fn()) -> Option<bool> {
        // SAFETY: forwarded.
        unsafe { HChan::poll_recv(self, ep, unlock) }
    }
    unsafe fn enqueue(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool) {
        // SAFETY: forwarded.
        unsafe { HChan::enqueue(self, sg, send) }
    }
    unsafe fn dequeue_sudog(&self, sg: NonNull<Sudog<R::Waiter>>, send: bool) {
        // SAFETY: forwarded.
        unsafe { HChan::dequeue_sudog(self, sg, send) }
    }
}
