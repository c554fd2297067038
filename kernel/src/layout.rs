//! The kernel's virtual address space (all in the upper half; every CPU shares
//! one set of page tables).
//!
//! | range start             | what                                        |
//! |-------------------------|---------------------------------------------|
//! | `0xffff_8000_0000_0000` | all physical memory (bootloader mapping)     |
//! | `0xffff_c000_0000_0000` | kernel heap (`heap=`)                        |
//! | `0xffff_c700_0000_0000` | boot stack (guard page below it)             |
//! | `0xffff_c800_0000_0000` | kernel stacks: IST, g0, AP boot (1 MiB slots)|
//! | `0xffff_d000_0000_0000` | goroutine stack windows                      |
//! | `0xffff_e000_0000_0000` | bootloader's dynamic mappings (boot info...) |
//! | `0xffff_ffff_8000_0000` | the kernel image (a PIE loaded here)         |
//!
//! A leaf (constants and one address computation): `arch` reaches MMIO and
//! ACPI tables through [`phys_to_virt`] without depending on `mem`.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
pub const HEAP_START: u64 = 0xffff_c000_0000_0000;
/// The bootloader leaves the lowest page of the boot stack unmapped as a
/// guard: guard page at BOOT_STACK, stack from BOOT_STACK + 4 KiB.
pub const BOOT_STACK: u64 = 0xffff_c700_0000_0000;
pub const BOOT_STACK_SIZE: u64 = 256 * 1024;
pub const KSTACK_BASE: u64 = 0xffff_c800_0000_0000;
pub const GSTACK_BASE: u64 = 0xffff_d000_0000_0000;
pub const DYNAMIC_START: u64 = 0xffff_e000_0000_0000;
pub const DYNAMIC_END: u64 = 0xffff_efff_ffff_ffff;
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
pub const PAGE_SIZE: u64 = 4096;

/// The virtual address at which physical address `pa` is mapped.
#[inline]
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    (PHYS_OFFSET + pa) as *mut u8
}
