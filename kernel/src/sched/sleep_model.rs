//! loom model of `sleep` (`time/sleep.rs`, Go: `timeSleep` with
//! `resetForSleep` as gopark's unlock function): the real park/ready
//! hand-off (`gstatus.rs`) and the real timer protocol (`timerq.rs`)
//! together. CPU 0's goroutine parks with an unlock function that adds its
//! timer to P 0's heap; CPU 1's `run_others_due` may fire that timer at
//! once, while CPU 0 is still on g0 finishing the park, and readies the G
//! (a wake-up arriving before the park completes); CPU 0's own timer
//! interrupt may fire it instead. The G must run on exactly once, on one
//! CPU (its stack is a loom cell only the CPU running it touches), and the
//! timer must be gone from the heap.
use super::gstatus::loom_tests::MG;
use super::gstatus::{Commit, Status, park_commit, ready, start};
use super::timerheap::{HeapTimer, TimerHeap};
use super::timerq::{self, HeapLock, Queue, TimerLink, TimerState};
use crate::lock::atomic::{AtomicU64, Ordering};
use loom::sync::{Arc, Mutex, MutexGuard};
use loom::thread;

/// The sleeper's timer (`TimerFn::Ready(g)`: the payload is the G).
struct Sleep {
    st: TimerState,
}

#[derive(Clone, Copy)]
struct TRef(*const Sleep);

// SAFETY: it points into the model's `World`, alive (in an Arc) while any
// thread runs; the timer's state is all atomics.
unsafe impl Send for TRef {}

impl HeapTimer for TRef {
    fn when(&self) -> u64 {
        // SAFETY: as above.
        unsafe { &*self.0 }.st.when()
    }
    fn set_index(&self, i: usize) {
        // SAFETY: as above.
        unsafe { &*self.0 }.st.idx.store(i, Ordering::Relaxed);
    }
}

impl TimerLink for TRef {
    fn state(&self) -> &TimerState {
        // SAFETY: as above.
        &unsafe { &*self.0 }.st
    }
}

struct Lk(Mutex<TimerHeap<TRef>>);

impl HeapLock<TRef> for Lk {
    type Guard<'a> = MutexGuard<'a, TimerHeap<TRef>>;
    fn lock(&self) -> Self::Guard<'_> {
        self.0.lock().unwrap()
    }
}

struct World {
    g: MG,
    timer: Sleep,
    heap: Lk,
    when0: AtomicU64,
    /// The woken queue (holds the one G at most once).
    runq: Mutex<u32>,
}

impl World {
    fn q(&self) -> Queue<'_, Lk> {
        Queue {
            heap: &self.heap,
            when0: &self.when0,
        }
    }

    /// P 0's due timers at `now`, each readying the G (`goready_woken`).
    fn run_due(&self, now: u64) -> usize {
        timerq::run_due(
            self.q(),
            now,
            || (),
            |_: &TRef| (),
            |()| {
                ready(
                    &self.g,
                    |_| {},
                    |_| {
                        let mut n = self.runq.lock().unwrap();
                        assert_eq!(*n, 0, "G queued twice");
                        *n = 1;
                    },
                )
            },
        )
    }

    /// `schedule`: run the G to its end if it is queued.
    fn schedule(&self) {
        if core::mem::take(&mut *self.runq.lock().unwrap()) != 0 {
            start(&self.g);
            self.g.exit();
        }
    }
}

/// `sleep` racing the other CPU's `run_others_due` (exhaustive, no
/// preemption bound: 578 executions).
#[test]
fn loom_sleep_timer_fires_before_park_completes() {
    let name = "loom_sleep_timer_fires_before_park_completes";
    crate::lock::loom_check::check(name, None, || {
        let w = Arc::new(World {
            g: MG::running(),
            timer: Sleep {
                st: TimerState::new(),
            },
            heap: Lk(Mutex::new(TimerHeap::new())),
            when0: AtomicU64::new(u64::MAX),
            runq: Mutex::new(0),
        });
        let w1 = w.clone();
        let cpu1 = thread::spawn(move || {
            let w = &*w1;
            timerq::run_others(
                1,
                2,
                20,
                |i, now| i == 0 && w.q().due(now),
                |_| w.run_due(20),
            );
            w.schedule();
        });
        // CPU 0: the G sleeps; the timer goes in from the unlock function,
        // once the G is off its stack (Go: `resetForSleep`).
        w.g.work();
        let t = TRef(&w.timer);
        let c = park_commit(
            &w.g,
            |_| {},
            Some(|| {
                timerq::add(w.q(), 0, t, 5);
                true
            }),
            |_| unreachable!("sleep's unlock function accepts"),
        );
        assert_eq!(c, Commit::Parked);
        // CPU 0's timer interrupt (`tick.rs`), then its scheduler.
        if w.q().due(20) {
            w.run_due(20);
        }
        w.schedule();
        cpu1.join().unwrap();
        assert_eq!(w.g.finished.load(Ordering::Relaxed), 1, "lost wake-up");
        assert_eq!(w.g.status.load(), Status::Dead);
        assert!(!w.timer.st.is_active() && w.heap.lock().is_empty());
    });
}
