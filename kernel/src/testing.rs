//! The in-kernel side of the QEMU test harness.
//!
//! A test kernel (one file in `qemu-tests/tests/`) declares its QEMU
//! configurations and its cases with [`qemu_test!`](crate::qemu_test). The
//! configuration text goes into the `.gmpos_test` ELF section, which the host
//! runner (`boot/`) reads to decide how to boot the kernel (the `-smp` list,
//! CPU model, icount, memory, kernel arguments, timeout, expected failure);
//! the cases run in order in one boot and report on the serial line:
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
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::println;

/// One test case.
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

/// Runs the cases selected by `tests=` (all by default), then returns (the
/// kernel then exits with status 0).
pub fn run(cases: &[Case]) {
    for case in cases.iter().filter(|c| selected(c.name)) {
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

/// Declares a QEMU test kernel: its configurations and its cases.
///
/// ```ignore
/// gmpos::qemu_test! {
///     config: "
///         smp=1,2,4
///         args=heap=16M
///         timeout=60
///     ",
///     cases: [heap_mixed_sizes, frames_all],
/// }
/// ```
///
/// Configuration keys (one `key=value` per line; lists are comma-separated
/// and multiply into configurations): `smp`, `cpu`, `icount` (0/1), `uefi`
/// (0/1), `mem`, `timeout` (seconds), `args` (kernel command line), `expect`
/// (an expected-failure test: the kernel must exit with status 2 and its
/// output contain this text).
///
/// `early: f` (optional, before `cases`) runs `f` on the boot stack before
/// the scheduler starts: for tests of boot-time code.
#[macro_export]
macro_rules! qemu_test {
    (config: $cfg:literal, cases: [$($case:ident),* $(,)?] $(,)?) => {
        $crate::qemu_test!(@emit $cfg, None, [$($case),*]);
    };
    (config: $cfg:literal, early: $early:ident, cases: [$($case:ident),* $(,)?] $(,)?) => {
        $crate::qemu_test!(@emit $cfg, Some($early), [$($case),*]);
    };
    (@emit $cfg:literal, $early:expr, [$($case:ident),*]) => {
        const __GMPOS_TEST_META: &str = concat!($cfg, "\n", $("case=", stringify!($case), "\n",)*);
        #[unsafe(link_section = ".gmpos_test")]
        #[used]
        static __GMPOS_TEST_SECTION: [u8; __GMPOS_TEST_META.len()] =
            $crate::testing::meta_bytes(__GMPOS_TEST_META);
        static __GMPOS_TEST_CASES: &[$crate::testing::Case] =
            &[$($crate::testing::Case { name: stringify!($case), func: $case }),*];
        fn __gmpos_test_main() {
            $crate::testing::run(__GMPOS_TEST_CASES)
        }
        $crate::bootloader_api::entry_point!(__gmpos_entry, config = &$crate::BOOTLOADER_CONFIG);
        fn __gmpos_entry(boot_info: &'static mut $crate::bootloader_api::BootInfo) -> ! {
            $crate::init::boot_with_early(boot_info, __gmpos_test_main, $early)
        }
    };
}

/// The test runner named by `#![test_runner(...)]` in test kernels: cargo
/// builds `tests/*.rs` with `--test`, which needs one; gmpos's cases are
/// collected by `qemu_test!` instead, so this is never called.
pub fn harness(_: &[&dyn Fn()]) {}
