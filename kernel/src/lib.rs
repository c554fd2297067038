//! gmpos: a bare-metal x86_64 kernel whose scheduler is Go's GMP runtime.
//!
//! On `target_os = "none"` this is the whole kernel. On the host only the
//! hardware-independent parts build (command-line parsing, the run queue, the
//! scheduler's policies, clock-unit conversions), so that they can be
//! unit-tested and model-checked with loom: see `make test`.
//!
//! A program (`kernel_main!`) or a test kernel (`qemu_test!`, cases marked
//! `#[gmpos::test]`) uses the public API below, named after Go's: `go`,
//! `gosched`, `sleep`, `Instant`, `Duration`, `gomaxprocs`,
//! `set_gomaxprocs`, `num_goroutine`, `num_cpu`, the `sync` types (`Mutex`,
//! `RWMutex`, `Once`, `Cond`, `Semaphore`, `WaitGroup`), `chan`/`Chan` and
//! `select!`, the time channels (`after`, `tick`, `Timer`, `Ticker`,
//! `after_func`), `Context`, the goroutine `Pool`,
//! `read_mem_stats`/`MemStats`, `print_stack`, `exit`, `config`,
//! `println!`/`print!`. Tests of the runtime itself add `gmpos::testing`.
//! The other public modules are public for the runtime's own crates and
//! macros; `make lint-test-imports` keeps tests off them.
#![cfg_attr(target_os = "none", no_std)]
#![allow(clippy::new_without_default)]

extern crate alloc;

pub mod arch;
pub mod clock;
pub mod cmdline;
pub mod context;
pub mod demos;
pub mod lock;
pub mod pool;
pub mod sched;
pub mod shell;
pub mod stress;
pub mod sync;
pub mod time;
pub mod trace;

#[cfg(target_os = "none")]
pub mod bench;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod init;
#[cfg(target_os = "none")]
pub mod layout;
#[cfg(target_os = "none")]
pub mod mem;
// The size classes are pure arithmetic: built on the host for their tests.
#[cfg(all(test, not(target_os = "none")))]
#[path = "mem/sizeclass.rs"]
mod mem_sizeclass;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod testing;

// --- for the macros (`kernel_main!`, `qemu_test!`): not API -------------
#[cfg(target_os = "none")]
#[doc(hidden)]
pub use bootloader_api;
#[cfg(target_os = "none")]
#[doc(hidden)]
pub use init::BOOTLOADER_CONFIG;

#[cfg(target_os = "none")]
mod memstats;
#[cfg(target_os = "none")]
mod stacktrace;

// --- the public API --------------------------------------------------------
//
// What a Go programmer reaches for in `go`, `runtime`, `time`, `sync` and
// `runtime/debug`, under the same names. Everything else in this crate is
// the runtime's own business; tests of the runtime reach it through
// `gmpos::testing` (see there).
//
// Not here, on purpose:
// - `goexit` (Go: `runtime.Goexit`): with `panic = "abort"` nothing
//   unwinds, so ending a goroutine from inside a call would skip every
//   destructor on its stack: lock guards stay locked, `Arc`s leak, a
//   `WaitGroup` is never `done`. A goroutine ends by returning from its
//   function.
// - `recover`: a panic stops the kernel (abort, no unwinding), so there is
//   nothing to recover into.

/// Go: the `go` statement. Starts `f` in a new goroutine and returns at
/// once; the goroutine runs on any CPU, possibly before `go` returns.
/// `f` owns what it captures (`move` closures, `Arc`s for sharing).
#[cfg(target_os = "none")]
pub use sched::go;

/// Go: `runtime.Gosched`. Yields the CPU: the goroutine goes to the global
/// run queue and runs again later. Never needed for fairness (spinning
/// goroutines are preempted), only to let others run *now*.
#[cfg(target_os = "none")]
pub use sched::gosched;

/// Go: `time.Sleep`. Parks the goroutine for at least `d`; the CPU runs
/// other goroutines or halts meanwhile.
#[cfg(target_os = "none")]
pub use time::sleep;

/// Go: `time.After(d)`: a channel that receives the [`Instant`] once, after
/// at least `d` (`select!` on it for a timeout). Dropped unreceived, its
/// timer is freed when it would have fired (Go 1.23: no `Stop` needed).
/// Values are sent from the scheduler loop, not the timer interrupt.
#[cfg(target_os = "none")]
pub use time::after;

/// Go: `time.Tick(d)`: a channel receiving the time every `d`; a tick
/// nobody is ready for is dropped, not queued. Dropping the channel frees
/// the timer at the next tick. Panics for a zero `d`.
#[cfg(target_os = "none")]
pub use time::tick;

/// Go: `time.NewTimer`: `Timer::new(d)`, its channel `t.c()`, `stop()`
/// and `reset(d)` with Go 1.23's guarantee: once they return, no stale
/// value is received.
#[cfg(target_os = "none")]
pub use time::Timer;

/// Go: `time.NewTicker`: `Ticker::new(d)`, `t.c()`, `stop()`, `reset(d)`
/// (no stale tick after either, Go 1.23).
#[cfg(target_os = "none")]
pub use time::Ticker;

/// Go: `time.AfterFunc(d, f)`: starts `f` in a new goroutine after `d`;
/// the returned [`AfterFunc`] has `stop()` and `reset(d)`.
#[cfg(target_os = "none")]
pub use time::{AfterFunc, after_func};

/// Go: `time.Now()` for measuring (the monotonic clock): `Instant::now()`,
/// `t.elapsed()`, `t.duration_since(u)`.
pub use time::Instant;

/// Go: `time.Duration` (here `core::time::Duration`:
/// `Duration::from_millis(5)` is Go's `5 * time.Millisecond`).
pub use core::time::Duration;

/// Go: `runtime.GOMAXPROCS`. Sets the number of Ps (CPUs running
/// goroutines at once, `1..=num_cpu()`) by stopping the world, and returns
/// the previous value. `set_gomaxprocs(0)` is Go's query idiom
/// `runtime.GOMAXPROCS(0)`: it returns the current value and changes
/// nothing. Blocks (it may park): not from an interrupt or under a lock.
#[cfg(target_os = "none")]
pub use sched::set_gomaxprocs;

/// The current number of Ps: the same as `set_gomaxprocs(0)`, without the
/// chance of parking (it only reads a counter).
#[cfg(target_os = "none")]
pub fn gomaxprocs() -> usize {
    sched::gomaxprocs()
}

/// Go: `runtime.NumGoroutine`. Live goroutines (`main` included).
#[cfg(target_os = "none")]
pub use sched::num_goroutine;

/// Go: `runtime.NumCPU`. CPUs online (the most `set_gomaxprocs` accepts).
#[cfg(target_os = "none")]
pub fn num_cpu() -> usize {
    arch::smp::ncpu()
}

/// Go: `sync.WaitGroup`. `add(n)` before starting the work, `done()` when
/// each part ends, `wait()` parks until the count is zero. Share it with an
/// `Arc`.
#[cfg(target_os = "none")]
pub use sync::WaitGroup;

/// Go: `sync.Mutex`, holding the data it guards: `m.lock()` parks until
/// the mutex is ours and returns a guard (deref to the data; unlocks when
/// dropped); `try_lock()`. Go's normal and starvation modes; `stats()`
/// counts mode switches and direct hand-offs. `RawMutex` is the bare
/// `lock`/`unlock`/`try_lock` (unlocking an unlocked one is `fatal error:
/// sync: unlock of unlocked mutex`).
#[cfg(target_os = "none")]
pub use sync::{Mutex, MutexGuard, MutexStats, RawMutex};

/// Go: `sync.RWMutex`, holding its data: `rlock()` (shared) and `lock()`
/// (exclusive) return guards; a waiting writer blocks new readers.
#[cfg(target_os = "none")]
pub use sync::{RWMutex, RWMutexReadGuard, RWMutexWriteGuard};

/// Go: `sync.Once`: `once.call_once(f)` runs `f` exactly once; concurrent
/// callers wait until it has returned.
#[cfg(target_os = "none")]
pub use sync::Once;

/// Go: `sync.Cond`: `g = cond.wait(g)` with a `Mutex` guard (in a loop
/// over the condition), `signal()`, `broadcast()`.
#[cfg(target_os = "none")]
pub use sync::Cond;

/// Go: `make(chan T, cap)` and `chan T`. `chan::<T>(cap)` makes a channel
/// (`cap == 0`: unbuffered); a [`Chan`] is one cloneable handle with
/// `send` (Go: `ch <- v`), `recv` (Go: `v, ok := <-ch`, as an `Option`),
/// `try_send`/`try_recv` (Go: a `select` with `default`), `close`, `len`,
/// `cap`, and `for v in &ch` (Go: `for v := range ch`).
#[cfg(target_os = "none")]
pub use sync::{Chan, chan};
/// A counting semaphore (the runtime's, Go's runtime/sema.go):
/// `acquire()` returns a permit released on drop; at most `n` at once.
#[cfg(target_os = "none")]
pub use sync::{Semaphore, SemaphorePermit};

/// `chan(cap)` for a channel interrupt handlers feed with `try_send`
/// (Go's netpoller, generalised): the only channels handlers may use, and
/// a goroutine blocked on one waits for an interrupt, not in a deadlock.
#[cfg(target_os = "none")]
pub use sync::chan_from_interrupts;

/// What `try_send` and `try_recv` return when nothing moved (Go reports
/// it as the `default` case of a `select`): `Full(v)`/`Closed(v)` give the
/// value back; `Empty`/`Closed`.
#[cfg(target_os = "none")]
pub use sync::{TryRecvError, TrySendError};

pub use context::ContextError;
/// Go: `context.Context`: `Context::background()`, then
/// `Context::with_cancel`/`with_timeout`/`with_deadline`/`with_value` (also
/// as `gmpos::context::with_*`); `ctx.done()` (a channel closed when it is
/// done: `select! { recv(ctx.done()) => ... }`), `ctx.err()`,
/// `ctx.deadline()`, `ctx.value::<T>(key)`. A `CancelFunc`'s `cancel()`
/// cancels it and every descendant; `ContextError` is Go's `Canceled` /
/// `DeadlineExceeded`.
#[cfg(target_os = "none")]
pub use context::{CancelFunc, Context};

pub use pool::{Config as PoolConfig, Error as PoolError, Task};
/// Seed 004's goroutine pool: `Pool::new(PoolConfig { min_workers,
/// max_workers, keep_alive, queue_size })` (defaults: CPUs, 2 x CPUs, 60 s,
/// 1,000), `submit(Task::new(f).priority(p).deadline(d).callback(cb))`,
/// `submit_with_context`, `submit_func`, `stats()` ([`PoolStats`]),
/// `shutdown()` (stops intake, waits for running tasks, idempotent).
/// Errors are [`PoolError`] values.
#[cfg(target_os = "none")]
pub use pool::{Pool, Stats as PoolStats};

// `select!` (Go: the `select` statement; `sync/select.rs` documents the
// syntax) is `#[macro_export]`ed, so it is `gmpos::select!` already.

/// Go: `runtime.ReadMemStats` and `runtime.MemStats`. A snapshot of the
/// kernel's memory and goroutine counters (see [`MemStats`]'s fields).
#[cfg(target_os = "none")]
pub use memstats::{MemStats, read_mem_stats};

/// Go: `runtime/debug.PrintStack`. Prints the current goroutine's stack
/// to the console, starting with Go's `goroutine N [running]:` header
/// (only the header and entry function for now: tracebacks come later).
#[cfg(target_os = "none")]
pub use stacktrace::print_stack;

/// Go: `os.Exit`. Powers QEMU off with this status at once (deferred work,
/// other goroutines: nothing else runs). Returning from `main` is `exit(0)`.
#[cfg(target_os = "none")]
pub use init::exit;

/// The kernel command line, parsed (Go: `os.Args` and `GODEBUG` rolled
/// into one): `gomaxprocs=`, `slice=`, `heap=`, `exit`, `tests=`, ...
#[cfg(target_os = "none")]
pub use init::config;

// `println!`/`print!` (Go: `fmt.Println`/`fmt.Print`, to the serial
// console) are `#[macro_export]`ed by `console.rs`, so they are
// `gmpos::println!`/`gmpos::print!` already. `#[gmpos::test]` marks a test
// case (see `testing`).

/// Marks `fn name()` as a case of a QEMU test kernel: it registers itself,
/// like a Go `func TestXxx`, so there is no list to forget it in (see
/// [`testing`]).
#[cfg(target_os = "none")]
pub use gmpos_macros::test;

/// The gmpos version, printed in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Declares the kernel's `main`: the bootloader entry point boots gmpos and
/// then calls `main`. When `main` returns, the kernel powers QEMU off with
/// status 0 (like a Go program whose main returns).
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! kernel_main {
    ($main:path) => {
        $crate::bootloader_api::entry_point!(__gmpos_entry, config = &$crate::BOOTLOADER_CONFIG);
        fn __gmpos_entry(boot_info: &'static mut $crate::bootloader_api::BootInfo) -> ! {
            $crate::init::boot(boot_info, $main)
        }
    };
}

/// Go's `runtime/trace` and `runtime/pprof` CPU profile: start and stop the
/// execution tracer and the sampling profiler from a program (`trace=1` and
/// `prof=HZ` do it around `main`). Their stream goes to the debug console;
/// `make trace` and `make prof` turn it into files (`tools/trace`).
#[cfg(target_os = "none")]
pub mod tracing {
    pub use crate::sched::tracing::{start_cpu_profile, stop_cpu_profile, trace_start, trace_stop};
}
