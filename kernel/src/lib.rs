//! gmpos: a bare-metal x86_64 kernel whose scheduler is Go's GMP runtime.
//!
//! On `target_os = "none"` this is the whole kernel. On the host only the
//! hardware-independent parts build (command-line parsing, the run queue, the
//! scheduler's policies, clock-unit conversions), so that they can be
//! unit-tested and model-checked with loom: see `make test`.
#![cfg_attr(target_os = "none", no_std)]
#![allow(clippy::new_without_default)]

#[cfg(target_os = "none")]
extern crate alloc;

pub mod arch;
pub mod clock;
pub mod cmdline;
pub mod lock;
pub mod sched;
pub mod sync;
pub mod time;

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod init;
#[cfg(target_os = "none")]
pub mod layout;
#[cfg(target_os = "none")]
pub mod mem;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod testing;

#[cfg(target_os = "none")]
pub use bootloader_api;
#[cfg(target_os = "none")]
pub use init::{BOOTLOADER_CONFIG, config, exit};
#[cfg(target_os = "none")]
pub use sched::proc::{current_goid, go, gosched, num_goroutine, set_gomaxprocs};
#[cfg(target_os = "none")]
pub use sync::WaitGroup;

/// Go: `runtime.GOMAXPROCS(0)`: the number of Ps.
#[cfg(target_os = "none")]
pub fn gomaxprocs() -> usize {
    sched::sched::gomaxprocs()
}

/// Go: `runtime.NumCPU`: CPUs online.
#[cfg(target_os = "none")]
pub fn num_cpu() -> usize {
    arch::smp::ncpu()
}

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
