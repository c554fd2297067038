//! Channels fed from interrupt handlers (issue 12): the APIC timer's
//! interrupt (the scheduler's tick, wrapped by this test) `try_send`s
//! 10,000 numbered values into a buffered channel that `main` receives
//! from, while the other goroutines do channel work of their own. When the
//! channel is full the handler keeps the value and retries on its next
//! interrupt: all 10,000 arrive, in order, none twice, no hang.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::trap::TrapFrame;
use gmpos::testing::hw::{cpu_index, timer};
use gmpos::{Chan, TrySendError, WaitGroup, chan, chan_from_interrupts, go};

gmpos::qemu_test! {
    config: "
        smp=2
        timeout=120
    ",
}

const TOTAL: u64 = 10_000;
/// At most this many values per interrupt (the rest wait for the next).
const BURST: usize = 32;
const NONE: u64 = u64::MAX;

static CH: AtomicPtr<Chan<u64>> = AtomicPtr::new(core::ptr::null_mut());
/// The next number to produce, and a value a full channel gave back.
static NEXT: AtomicU64 = AtomicU64::new(0);
static PENDING: AtomicU64 = AtomicU64::new(NONE);
/// One producer at a time (the handlers of both CPUs take turns), so the
/// values go in in order.
static PRODUCING: AtomicBool = AtomicBool::new(false);
static FULLS: AtomicU64 = AtomicU64::new(0);
static SENT_FROM: AtomicU64 = AtomicU64::new(0);
/// The scheduler's tick handler, called after ours.
static SAVED: AtomicUsize = AtomicUsize::new(0);

fn feed() {
    let ch = CH.load(Ordering::Acquire);
    if ch.is_null() || PRODUCING.swap(true, Ordering::Acquire) {
        return;
    }
    // SAFETY: the channel is leaked for the kernel's lifetime.
    let ch = unsafe { &*ch };
    for _ in 0..BURST {
        let v = match PENDING.swap(NONE, Ordering::Relaxed) {
            NONE => {
                let n = NEXT.load(Ordering::Relaxed);
                if n == TOTAL {
                    break;
                }
                NEXT.store(n + 1, Ordering::Relaxed);
                n
            }
            v => v,
        };
        match ch.try_send(v) {
            Ok(()) => {
                SENT_FROM.fetch_or(1 << cpu_index(), Ordering::Relaxed);
            }
            Err(TrySendError::Full(v)) => {
                // Keep it for the next interrupt.
                PENDING.store(v, Ordering::Relaxed);
                FULLS.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Err(TrySendError::Closed(_)) => panic!("the channel was closed"),
        }
    }
    PRODUCING.store(false, Ordering::Release);
}

fn tick(tf: &mut TrapFrame) {
    feed();
    let saved = SAVED.load(Ordering::Acquire);
    // SAFETY: SAVED holds the scheduler's `fn(&mut TrapFrame)`, stored
    // before this handler was installed.
    let saved = unsafe { core::mem::transmute::<usize, fn(&mut TrapFrame)>(saved) };
    saved(tf);
}

#[gmpos::test]
fn interrupt_handler_feeds_a_channel() {
    let ch: &'static Chan<u64> = Box::leak(Box::new(chan_from_interrupts(16)));
    // Other channel work meanwhile: a ping-pong pair and a buffered
    // producer/consumer, until `stop`.
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    let (ping, pong): (Chan<u32>, Chan<u32>) = (chan(0), chan(0));
    let buf: Chan<u32> = chan(8);
    wg.add(3);
    {
        let (ping, pong, w) = (ping.clone(), pong.clone(), wg.clone());
        go(move || {
            while let Some(v) = ping.recv() {
                pong.send(v + 1);
            }
            w.done();
        });
    }
    {
        let (ping, pong, stop, w) = (ping.clone(), pong.clone(), stop.clone(), wg.clone());
        go(move || {
            let mut v = 0;
            while !stop.load(Ordering::Relaxed) {
                ping.send(v);
                v = pong.recv().unwrap();
            }
            ping.close();
            w.done();
        });
    }
    {
        let (b, stop, w) = (buf.clone(), stop.clone(), wg.clone());
        go(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                b.send(i);
                i += 1;
            }
            b.close();
            w.done();
        });
    }
    let drain = buf.clone();
    go(move || for _ in &drain {});

    let scheduler_tick = timer::tick_handler().expect("the scheduler's tick handler");
    SAVED.store(scheduler_tick as usize, Ordering::Release);
    CH.store(ch as *const Chan<u64> as *mut Chan<u64>, Ordering::Release);
    timer::set_tick_handler(tick);

    for i in 0..TOTAL {
        assert_eq!(
            ch.recv(),
            Some(i),
            "value {i} lost, duplicated or out of order"
        );
    }

    timer::set_tick_handler(scheduler_tick);
    stop.store(true, Ordering::Relaxed);
    wg.wait();
    assert_eq!(
        ch.try_recv(),
        Err(gmpos::TryRecvError::Empty),
        "a value too many"
    );
    let fulls = FULLS.load(Ordering::Relaxed);
    let from = SENT_FROM.load(Ordering::Relaxed);
    gmpos::test_note!(
        "{TOTAL} values from interrupt handlers (CPU mask {from:#b}), {fulls} full-channel retries"
    );
    assert!(
        fulls > 0,
        "the channel was never full: the retry path did not run"
    );
}
