//! The in-kernel side of the QEMU test harness, and the one door tests use
//! into the kernel's internals.
//!
//! A test kernel (one file in `qemu-tests/tests/`) declares its QEMU
//! configurations with [`qemu_test!`](crate::qemu_test) and its cases with
//! `#[gmpos::test]` on each `fn name()`, like `go test` finding `TestXxx`
//! functions: there is no list of cases to keep in sync. The configuration
//! text and one `case=<name>` line per case go into the `.gmpos_test` ELF
//! section, which the host runner (`boot/`) reads to decide how to boot the
//! kernel (the `-smp` list, CPU model, icount, memory, kernel arguments,
//! timeout, expected failure) and which cases to expect; the case records
//! go into `.gmpos_cases`, which [`run`] walks. Both are sorted by source
//! line by `linker.ld`, so the kernel runs the cases in the order the
//! runner expects them. The cases run in one boot and report on the serial
//! line:
//!
//! ```text
//! gmpos-test: start <case>
//! gmpos-test: ok <case>
//! gmpos-test: FAILED <case>: <message>
//! gmpos-test: done
//! ```
//!
//! A failing assertion panics: the panic handler reports the running case
//! as FAILED and the kernel exits with status 2; the runner reports the
//! cases that did not get to run.
//!
//! # The testing surface
//!
//! Tests and benchmarks use the public `gmpos::` API and, for what a
//! program never needs but a test of the runtime does, the submodules
//! [`sched`], [`hw`] and [`mem`] here. They re-export internals; every
//! internal path a test depends on is written once, below, so that moving a
//! module means fixing one re-export, not forty test files.
//! `make lint-test-imports` rejects any other `gmpos::` path in
//! `qemu-tests/`.
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::println;

/// One test case: what `#[gmpos::test]` places in `.gmpos_cases`.
/// `repr(C)`: the harness walks the records as an array, so each must be
/// the same size with no padding the linker would not reproduce.
#[repr(C)]
pub struct Case {
    pub name: &'static str,
    pub func: fn(),
}

static CURRENT: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);

fn current() -> Option<&'static str> {
    let p = CURRENT.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: CURRENT/CURRENT_LEN always describe a `&'static str` (a case
    // name) stored by `run`.
    Some(unsafe {
        core::str::from_utf8_unchecked(core::slice::from_raw_parts(
            p,
            CURRENT_LEN.load(Ordering::Acquire),
        ))
    })
}

fn selected(name: &str) -> bool {
    match crate::config().tests {
        None => true,
        Some(list) => list.split(',').any(|t| t == name),
    }
}

unsafe extern "C" {
    // Defined by linker.ld around the `.gmpos_cases.*` input sections.
    // Declared as bytes (a `Case` holds a `&str`, not an FFI type): only
    // their addresses are used.
    static __gmpos_cases_start: u8;
    static __gmpos_cases_end: u8;
}

/// Every case `#[gmpos::test]` registered in this kernel, in source order
/// (the order the runner expects).
pub fn cases() -> &'static [Case] {
    let start = (&raw const __gmpos_cases_start).cast::<Case>();
    let end = (&raw const __gmpos_cases_end).cast::<Case>();
    // SAFETY: linker.ld puts only `Case` statics (`repr(C)`, 8-aligned,
    // emitted by `#[gmpos::test]`) between the two symbols, contiguously
    // (start 8-aligned), and they are immutable for the kernel's lifetime.
    unsafe { core::slice::from_raw_parts(start, end.offset_from(start) as usize) }
}

/// Runs the cases selected by `tests=` (all by default), then returns (the
/// kernel then exits with status 0).
pub fn run() {
    for case in cases().iter().filter(|c| selected(c.name)) {
        CURRENT_LEN.store(case.name.len(), Ordering::Release);
        CURRENT.store(case.name.as_ptr() as *mut u8, Ordering::Release);
        println!("gmpos-test: start {}", case.name);
        (case.func)();
        println!("gmpos-test: ok {}", case.name);
        CURRENT.store(core::ptr::null_mut(), Ordering::Release);
    }
    println!("gmpos-test: done");
}

/// Called by the panic handler: marks the running case failed.
pub fn on_panic(info: &core::panic::PanicInfo) {
    if let Some(name) = current() {
        crate::console::emergency(format_args!(
            "gmpos-test: FAILED {}: panicked: {}\n",
            name,
            info.message()
        ));
    }
}

/// Called on fatal exceptions: marks the running case failed.
pub fn on_fatal() {
    if let Some(name) = current() {
        crate::console::emergency(format_args!("gmpos-test: FAILED {name}: fatal exception\n"));
    }
}

/// Prints a note the runner shows in `cargo test` output (`# ` lines).
#[macro_export]
macro_rules! test_note {
    ($($arg:tt)*) => ($crate::println!("# {}", format_args!($($arg)*)));
}

/// Copies a string into a fixed-size array at compile time (for the
/// `.gmpos_test` section, which must hold the bytes, not a pointer).
pub const fn meta_bytes<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Declares a QEMU test kernel: its configurations. Its cases are the
/// functions marked `#[gmpos::test]` (see the module documentation).
///
/// ```ignore
/// gmpos::qemu_test! {
///     config: "
///         smp=1,2,4
///         args=heap=16M
///         timeout=60
///     ",
/// }
///
/// #[gmpos::test]
/// fn heap_mixed_sizes() { ... }
/// ```
///
/// Configuration keys (one `key=value` per line; lists are comma-separated
/// and multiply into configurations): `smp`, `cpu`, `icount` (0/1), `uefi`
/// (0/1), `mem`, `timeout` (seconds), `args` (kernel command line), `expect`
/// (an expected-failure test: the kernel must exit with status 2 and its
/// output contain this text).
///
/// `early: f` (optional) runs `f` on the boot stack before the scheduler
/// starts: for tests of boot-time code.
#[macro_export]
macro_rules! qemu_test {
    (config: $cfg:literal $(,)?) => {
        $crate::qemu_test!(@emit $cfg, None);
    };
    (config: $cfg:literal, early: $early:ident $(,)?) => {
        $crate::qemu_test!(@emit $cfg, Some($early));
    };
    (config: $cfg:literal, $(early: $early:ident,)? cases: $($rest:tt)*) => {
        compile_error!(
            "qemu_test! no longer takes `cases: [...]`: mark each case `#[gmpos::test]`"
        );
    };
    (@emit $cfg:literal, $early:expr) => {
        const __GMPOS_TEST_META: &str = concat!($cfg, "\n");
        #[unsafe(link_section = ".gmpos_test")]
        #[used]
        static __GMPOS_TEST_SECTION: [u8; __GMPOS_TEST_META.len()] =
            $crate::testing::meta_bytes(__GMPOS_TEST_META);
        fn __gmpos_test_main() {
            $crate::testing::run()
        }
        $crate::bootloader_api::entry_point!(__gmpos_entry, config = &$crate::BOOTLOADER_CONFIG);
        fn __gmpos_entry(boot_info: &'static mut $crate::bootloader_api::BootInfo) -> ! {
            $crate::testing::boot(boot_info, __gmpos_test_main, $early)
        }
    };
}

/// Boots a test kernel: registers the harness's panic and fatal-error hooks
/// (so that a failing case is reported as FAILED), then boots as usual.
#[doc(hidden)]
pub fn boot(
    boot_info: &'static mut bootloader_api::BootInfo,
    main: fn(),
    early: Option<fn()>,
) -> ! {
    crate::panic::set_test_hooks(on_panic, on_fatal);
    crate::init::boot_with_early(boot_info, main, early)
}

/// The test runner named by `#![test_runner(...)]` in test kernels: cargo
/// builds `tests/*.rs` with `--test`, which needs one; gmpos's cases are
/// collected by `#[gmpos::test]` instead, so this is never called.
pub fn harness(_: &[&dyn Fn()]) {}

/// The serial shell (`kernel/src/shell/`): test kernels start it from a
/// case (which then returns: the shell holds the kernel up) and drive it
/// with the runner's input script (`send=`/`await=`); they may add demos
/// of their own to `run`.
pub mod shell {
    pub use crate::shell::demo::{Demo, register as register_demo};
    pub use crate::shell::start;
}

/// Scheduler internals: what tests of the scheduler itself observe or
/// provoke, beyond what a Go program can (`gmpos::go`, `gosched`, ...).
pub mod sched {
    /// The runtime spin lock (counts as `m.locks`: no preemption while
    /// held): preemption and misuse tests hold one.
    pub use crate::lock::SpinLock;
    /// Pins the goroutine to its CPU (preemption off) while held: tests
    /// that read per-CPU state or must not migrate mid-measurement.
    pub use crate::sched::AcquireM;
    /// The running goroutine's id: tests that tell goroutines apart.
    pub use crate::sched::current_goid;
    /// Deadlock reports without exiting (the later shell's mode).
    pub use crate::sched::deadlock::{reports as deadlock_reports, set_report_only};
    /// Go's `schedtrace` line per P: benchmarks print it after a run.
    pub use crate::sched::dump::print_sched_state;
    /// The goroutine dump (Go's format) into any `fmt::Write`: the sync
    /// dump test reads the wait reasons back from a buffer.
    pub use crate::sched::dump::write_all as write_goroutine_dump;
    /// A goroutine's traceback (its header, frames from its saved context,
    /// creator): the traceback tests print parked and preempted ones.
    pub use crate::sched::dump::{print_goroutine, state_of};
    /// The goroutine record, its status and why it waits: tests that
    /// inspect or park goroutines.
    pub use crate::sched::g::{G, Status, WaitReason};
    /// A system goroutine (not counted, not dumped): the deadlock tests.
    pub use crate::sched::go_system;
    /// Parks the goroutine (Go's `gopark`): misuse tests call it where it is
    /// forbidden.
    pub use crate::sched::gopark;
    /// Readies a parked goroutine (tests ready from interrupt handlers).
    pub use crate::sched::goready;
    /// `gosched` to the local ring's tail (Go's `goyield`): tests of the
    /// local-queue order.
    pub use crate::sched::goyield;
    /// How long `wakep` leaves its hand-off window open: the regression test
    /// of the lost wake-up waits out that window.
    pub use crate::sched::halt::WAKEP_WINDOW_DELAY_NS;
    /// The history knobs (`sched=gm`, `steal=off`, ...): the knob tests
    /// read and set them (`knobs::set`, `describe`, `current`).
    pub use crate::sched::knobs;
    /// M `i` and the running G (Go's `getg()`): tests that inspect a G's
    /// status or stack, or whether a CPU is halted.
    pub use crate::sched::m::{getg, m};
    /// P `i` (Go's `allp[i]`): per-P counters and run queues.
    pub use crate::sched::p::p;
    /// Marks the current goroutine as waiting on an interrupt source.
    pub use crate::sched::park::external_wait;
    /// (async, cooperative, refused) preemption counts: preemption tests
    /// prove a preemption happened, or did not.
    pub use crate::sched::preempt::counters;
    /// A preemption-off guard as the runtime takes it: tests that holding
    /// it defers preemption.
    pub use crate::sched::preempt::preempt_disable;
    /// Changes the time slice at run time: tests of slice-based fairness.
    pub use crate::sched::preempt::set_slice;
    /// The global scheduler state (Go's `sched`): waiting/goroutine counts
    /// tests wait on.
    pub use crate::sched::schedt::SCHED;
    /// Parked user goroutines (tests wait for their goroutines to park).
    pub use crate::sched::schedt::nwaiting;
    /// Go's `schedtrace`/`scheddetail` output, printed now or written into
    /// a buffer (the schedtrace test parses it).
    pub use crate::sched::schedtrace::{print_trace, write_trace};
    /// The runtime semaphore (Go's `semacquire`/`semrelease`): parks
    /// goroutines on one wait queue without a WaitGroup's bookkeeping.
    pub use crate::sched::sema::Sema;
    /// Goroutine stacks: mapped bytes, peak, shrinks, frames waiting for
    /// the TLB epoch; stack growth and reuse tests read them.
    pub use crate::sched::stack;
    /// Sudogs ever allocated: channel tests show that blocking reuses the
    /// per-P cache instead of allocating.
    pub use crate::sched::sudog::allocated as sudogs_allocated;
    /// Stalls a firing timer between its pop and its goroutine's ready.
    pub use crate::sched::timers::READY_WINDOW_DELAY_NS;
    /// The watchdog (`watchdog=1`): its counters, and hooks that break the
    /// scheduler on purpose so each check can be seen to fire: findRunnable
    /// never runs one goroutine (`watchdog_starve`), the next `semrelease`
    /// with a waiter wakes no one (`watchdog_lose_next_wakeup`), this CPU
    /// spins with interrupts off (`watchdog_spin_irqs_off`);
    /// `watchdog_enable` turns it on mid-run (its cost benchmark).
    pub use crate::sched::watchdog::{
        Stats as WatchdogStats, enable as watchdog_enable, enabled as watchdog_enabled,
        lose_next_wakeup as watchdog_lose_next_wakeup, spin_irqs_off as watchdog_spin_irqs_off,
        starve as watchdog_starve, stats as watchdog_stats,
    };
}

/// Hardware: the arch pieces hardware tests drive directly, and the clock
/// in raw units.
pub mod hw {
    /// Local APIC: EOI, NMI, ids: IPI and timer tests.
    pub use crate::arch::apic;
    /// CPUID feature bits: tests that skip what the CPU lacks.
    pub use crate::arch::cpuinfo;
    /// I/O APIC routes: the SMP test checks them.
    pub use crate::arch::ioapic;
    /// Inter-processor interrupts and cross-calls.
    pub use crate::arch::ipi;
    /// The per-CPU block (GS base): CPU index, the running g0, IST nesting.
    pub use crate::arch::percpu;
    /// The register-save frame `async_preempt` pushes: the stack-room test
    /// sizes it.
    pub use crate::arch::preempt::ASYNC_PREEMPT_STACK;
    /// CPU count, online mask, AP start-up.
    pub use crate::arch::smp;
    /// APIC timer: frequency, TSC-deadline mode, one-shots.
    pub use crate::arch::timer;
    /// TLB shootdown and the TLB epoch.
    pub use crate::arch::tlb;
    /// Interrupt handler registration and the trap frame: tests install
    /// their own vectors.
    pub use crate::arch::trap::{self, TrapFrame};
    /// TSC: icount detection, pacing of busy-waits.
    pub use crate::arch::tsc;
    /// This CPU's index and the raw TSC.
    pub use crate::arch::{cpu_index, rdtsc};
    /// Fault-tolerant reads and writes: tests probe unmapped or guard pages.
    pub use crate::arch::{probe_read, probe_write};
    /// The clock in nanoseconds since boot, and TSC cycle conversions:
    /// measurements finer than `Instant` and busy-waits in interrupt
    /// context.
    pub use crate::time::{cycles_to_ns, now_ns, ns_to_cycles};
}

/// Memory internals: what memory tests check `read_mem_stats` against, and
/// the page tables the TLB and probe tests change.
pub mod mem {
    /// The page size.
    pub use crate::layout::PAGE_SIZE;
    /// The physical-memory window: tests read frames directly.
    pub use crate::layout::phys_to_virt;
    /// The frame allocator (`stats`: total and free frames).
    pub use crate::mem::frame;
    /// The kernel heap (`stats`: size, in use, allocations).
    pub use crate::mem::heap;
    /// Page tables: tests map and unmap pages.
    pub use crate::mem::paging;
    /// Unmapping with the TLB epoch (`unmap_and_free`): the TLB tests.
    pub use crate::mem::tlb_epoch;
}

/// The kernel command-line parser: its test feeds it strings.
pub use crate::cmdline;
