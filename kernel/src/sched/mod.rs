//! The GMP scheduler (Go: runtime/proc.go, runtime2.go, time.go, preempt.go).
//!
//! Read it in this order, which is a goroutine's life:
//!
//! | file | what |
//! |---|---|
//! | [`g`], [`m`], [`p`], [`schedt`] | G (a goroutine), M (a CPU), P (the right to run Gs), the global state |
//! | [`gstatus`] | the G status word and the park/ready hand-off on it (pure, loom-checked) |
//! | [`spawn`] | `go`: a G from the free cache, its closure, into `runnext` |
//! | [`runq`], [`glist`], [`gfree`] | the per-P ring, G lists, free-G batching (pure) |
//! | [`proc`] | the loop: `schedule` -> `findRunnable` -> `execute` |
//! | [`policy`], [`order`] | findRunnable's order and rules, the steal order (pure) |
//! | [`idle`], [`halt`] | idle Ps and spinning Ms, `wakep` (pure, loom-checked), and the CPU side |
//! | [`slice`], [`tick`], [`preempt`] | the time slice, the timer tick (sysmon), preemption |
//! | [`knobs`], [`put`] | the history knobs (`sched=gm`, `steal=off`, ...); `runqput`: where a readied G goes by them |
//! | [`gosched`], [`park`] | yielding; parking and readying |
//! | [`sema`], [`notifylist`], [`spin`] | the runtime semaphore and its semtable, Cond's notify list, whether a Mutex may spin (what `sync` parks on) |
//! | [`sudog`] | channel waiters (Go's `sudog`) and their per-P cache (pure) |
//! | [`timerheap`], [`timerq`], [`timers`] | per-P timer heaps (pure), a timer's add/stop/pop protocol (pure, loom-checked), and their runtime |
//! | [`stack`] | growable goroutine stacks |
//! | [`exit`] | `goexit`: back to the free cache |
//! | [`stw`] | stop the world, `procresize`: `set_gomaxprocs` |
//! | [`deadlock`] | `checkdead`: every goroutine asleep |
//! | [`traceback`] | goroutine tracebacks: frames from saved contexts, trap frames, preemption frames |
//! | [`dump`] | goroutine dumps, scheduler state |
//! | [`schedtrace`] | Go's `schedtrace`/`scheddetail`: a system goroutine printing the scheduler's state |
//! | [`watchdog`], [`watchdog_rules`] | `watchdog=1`: starvation, lost wake-ups, stuck CPUs (the rules pure) |
//! | [`tracing`] | the execution tracer's and the CPU profiler's start/stop, the profile sample (the buffers: `trace/`) |
//!
//! The pure parts build and are tested on the host (`make test-host`, and
//! `make test-loom` for `runq`, `idle`, `gstatus` and `timerq`; `sync/mutex.rs` has the Mutex's,
//! `sync/chan_model.rs` the channels').
pub mod gfree;
pub mod glist;
pub mod gstatus;
pub mod idle;
pub mod knobs;
pub mod order;
pub mod policy;
pub mod runq;
pub mod slice;
pub mod sudog;
pub mod timerheap;
pub mod timerq;
pub mod watchdog_rules;

#[cfg(all(test, loom))]
mod sleep_model;

#[cfg(target_os = "none")]
pub mod deadlock;
#[cfg(target_os = "none")]
pub mod dump;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod g;
#[cfg(target_os = "none")]
pub mod gosched;
#[cfg(target_os = "none")]
pub mod halt;
#[cfg(target_os = "none")]
pub mod latency;
#[cfg(target_os = "none")]
pub mod m;
#[cfg(target_os = "none")]
pub mod notifylist;
#[cfg(target_os = "none")]
pub mod p;
#[cfg(target_os = "none")]
pub mod park;
#[cfg(target_os = "none")]
pub mod preempt;
#[cfg(target_os = "none")]
pub mod proc;
#[cfg(target_os = "none")]
pub mod put;
#[cfg(target_os = "none")]
pub mod schedt;
#[cfg(target_os = "none")]
pub mod schedtrace;
#[cfg(target_os = "none")]
pub mod sema;
#[cfg(target_os = "none")]
pub mod spawn;
#[cfg(target_os = "none")]
pub mod spin;
#[cfg(target_os = "none")]
pub mod stack;
#[cfg(target_os = "none")]
pub mod stayup;
#[cfg(target_os = "none")]
pub mod stw;
#[cfg(target_os = "none")]
pub mod tick;
#[cfg(target_os = "none")]
pub mod timers;
#[cfg(target_os = "none")]
pub mod traceback;
#[cfg(target_os = "none")]
pub mod tracing;
#[cfg(target_os = "none")]
pub mod watchdog;

// The scheduler's interface to the rest of the kernel (time, sync, init,
// the public API): callers outside `sched/` use these names, not the files.
#[cfg(target_os = "none")]
pub use self::{
    exit::goexit1,
    g::{G, WaitReason, current_goid},
    gosched::{gosched, goyield},
    halt::wakep,
    m::{AcquireM, getg},
    notifylist::NotifyList,
    park::{check_blocking, external_wait, gopark, gopark_irqlocked, goready},
    preempt::{preempt_disable, safe_point, set_slice},
    proc::{ap_start, init},
    schedt::{gomaxprocs, num_goroutine},
    sema::{semacquire, semacquire_watched, semrelease},
    spawn::{go, go_system},
    spin::{can_spin as sync_can_spin, do_spin as sync_do_spin},
    stw::set_gomaxprocs,
};
