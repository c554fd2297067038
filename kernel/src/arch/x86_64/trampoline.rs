//! The AP start-up trampoline: 16-bit real mode -> 32-bit protected mode ->
//! 64-bit long mode -> the kernel.
//!
//! A start-up IPI starts an AP in real mode at `vector << 12`, so the code
//! must run from a page below 1 MiB. It is assembled into its own section
//! (`.trampoline`, gathered by `linker.ld`) and copied at boot to a low page
//! the frame allocator never hands out. The kernel is a PIE that the
//! bootloader relocates (relative relocations only), so the trampoline uses
//! no absolute addresses: every reference is a label difference from its
//! start, added to the load base the AP computes from CS (real mode) and
//! keeps in EBX/RBX. What differs per boot or per CPU is in a parameter
//! block patched at copy time: the GDT's base, CR3s, stack, entry point,
//! per-CPU pointer, CPU index.
//!
//! Four pages starting at the base: the code and data (the 16/32-bit stack
//! grows down from the end of this page), then a level-4 page table below
//! 4 GiB for the 32-bit `mov cr3`, and its PDPT and PD that identity-map the
//! first 2 MiB (so the trampoline keeps running when paging comes on). The
//! level-4 table's upper half is a copy of the kernel's, so the jump to the
//! kernel works; the AP's first kernel instruction then loads the kernel's
//! own CR3 (the kernel page tables never map low memory).
//!
//! Progress is recorded in `stage` so a CPU that does not come up can be
//! reported with how far it got.
use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::layout::phys_to_virt;

/// Pages the trampoline occupies from its base (code, PML4, PDPT, PD).
pub const PAGES: u64 = 4;

/// The parameter block at `gmpos_trampoline_params` (offsets are used by
/// the assembly).
#[repr(C)]
pub struct Params {
    /// 0 = not started, 1 = real mode, 2 = protected mode, 3 = long mode,
    /// 4 = left the trampoline (the block may be reused).
    pub stage: AtomicU64,
    /// Physical address of the trampoline's level-4 table (below 4 GiB).
    pub cr3_low: AtomicU64,
    /// The kernel's CR3, loaded by the AP's first kernel instruction.
    pub kernel_cr3: AtomicU64,
    /// Top of the AP's boot stack (kernel virtual address).
    pub stack_top: AtomicU64,
    /// Kernel entry point (`gmpos_ap_entry64`).
    pub entry: AtomicU64,
    /// The AP's per-CPU block (GS base).
    pub percpu: AtomicU64,
    /// The AP's CPU index.
    pub index: AtomicU64,
}

/// Stage values in [`Params::stage`].
pub const STAGE_NAMES: [&str; 5] = [
    "never started (no trampoline code ran)",
    "real mode",
    "protected mode",
    "long mode, before the jump to the kernel",
    "in the kernel",
];

core::arch::global_asm!(
    r#"
    .pushsection .trampoline, "ax"
    .balign 16
    .global gmpos_trampoline_start
gmpos_trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x1000, %sp
    movl $1, (gmpos_trampoline_params - gmpos_trampoline_start + {stage})
    xorl %ebx, %ebx
    movw %cs, %bx
    shll $4, %ebx
    lgdtl (gmpos_trampoline_gdtr - gmpos_trampoline_start)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    leal (1f - gmpos_trampoline_start)(%ebx), %eax
    pushl $0x08
    pushl %eax
    lretl

    .code32
1:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    leal 0x1000(%ebx), %esp
    movl $2, (gmpos_trampoline_params - gmpos_trampoline_start + {stage})(%ebx)
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl (gmpos_trampoline_params - gmpos_trampoline_start + {cr3_low})(%ebx), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x900, %eax
    wrmsr
    movl %cr0, %eax
    andl $0x9fffffff, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    leal (2f - gmpos_trampoline_start)(%ebx), %eax
    pushl $0x18
    pushl %eax
    lretl

    .code64
2:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movl %ebx, %ebx
    movl $3, (gmpos_trampoline_params - gmpos_trampoline_start + {stage})(%rbx)
    movl $0xc0000101, %ecx
    movl (gmpos_trampoline_params - gmpos_trampoline_start + {percpu})(%rbx), %eax
    movl (gmpos_trampoline_params - gmpos_trampoline_start + {percpu} + 4)(%rbx), %edx
    wrmsr
    movq (gmpos_trampoline_params - gmpos_trampoline_start + {stack})(%rbx), %rsp
    movq (gmpos_trampoline_params - gmpos_trampoline_start + {kcr3})(%rbx), %rsi
    movq (gmpos_trampoline_params - gmpos_trampoline_start + {index})(%rbx), %rdi
    movq (gmpos_trampoline_params - gmpos_trampoline_start + {entry})(%rbx), %rax
    movl $4, (gmpos_trampoline_params - gmpos_trampoline_start + {stage})(%rbx)
    jmpq *%rax

    .balign 16
    .global gmpos_trampoline_gdt
gmpos_trampoline_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
gmpos_trampoline_gdt_end:
    .balign 8
    .global gmpos_trampoline_gdtr
gmpos_trampoline_gdtr:
    .word gmpos_trampoline_gdt_end - gmpos_trampoline_gdt - 1
    .long 0
    .balign 8
    .global gmpos_trampoline_params
gmpos_trampoline_params:
    .fill {size}, 1, 0
    .global gmpos_trampoline_end
gmpos_trampoline_end:
    .popsection
"#,
    stage = const offset_of!(Params, stage),
    cr3_low = const offset_of!(Params, cr3_low),
    kcr3 = const offset_of!(Params, kernel_cr3),
    stack = const offset_of!(Params, stack_top),
    entry = const offset_of!(Params, entry),
    percpu = const offset_of!(Params, percpu),
    index = const offset_of!(Params, index),
    size = const core::mem::size_of::<Params>(),
    options(att_syntax),
);

// The AP's first kernel instructions: switch from the trampoline's page
// table to the kernel's, then call Rust on the boot stack (RDI = index).
core::arch::global_asm!(
    r#"
    .pushsection .text.gmpos_ap_entry, "ax"
    .global gmpos_ap_entry64
gmpos_ap_entry64:
    mov cr3, rsi
    xor ebp, ebp
    call {rust}
    ud2
    .popsection
"#,
    rust = sym super::smp::ap_entry,
);

unsafe extern "C" {
    static gmpos_trampoline_start: u8;
    static gmpos_trampoline_end: u8;
    static gmpos_trampoline_gdt: u8;
    static gmpos_trampoline_gdtr: u8;
    static gmpos_trampoline_params: u8;
    static gmpos_ap_entry64: u8;
}

fn offset_of_sym(sym: *const u8) -> u64 {
    sym as u64 - &raw const gmpos_trampoline_start as u64
}

/// The trampoline, copied to a low page.
pub struct Trampoline {
    base: u64,
}

impl Trampoline {
    /// Copies the trampoline to physical `base` (page aligned, below 1 MiB,
    /// `PAGES` pages of usable memory nobody else uses) and builds its page
    /// tables from the kernel's current level-4 table. Entries the kernel
    /// adds to its level-4 table later are not seen by APs started from this
    /// copy before their switch to the kernel's CR3, so the stacks they use
    /// must be mapped before this is called.
    ///
    /// # Safety
    /// As above: the pages are reserved for the trampoline while APs start.
    pub unsafe fn install(base: u64) -> Trampoline {
        assert!(
            base.is_multiple_of(4096) && base + PAGES * 4096 <= 0x10_0000,
            "trampoline base {base:#x}"
        );
        let start = &raw const gmpos_trampoline_start;
        let len = offset_of_sym(&raw const gmpos_trampoline_end) as usize;
        // Room for the 16/32-bit stack at the end of the page.
        assert!(
            len <= 3072,
            "trampoline of {len} bytes does not fit its page"
        );
        let dst = phys_to_virt(base);
        // SAFETY: the source is the `.trampoline` section (readable, `len`
        // bytes); the destination is the reserved low page (caller), mapped
        // at PHYS_OFFSET; they do not overlap.
        unsafe {
            core::ptr::write_bytes(dst, 0, 4096);
            core::ptr::copy_nonoverlapping(start, dst, len);
        }
        // GDTR base: a linear address, known only now.
        let gdt = base + offset_of_sym(&raw const gmpos_trampoline_gdt);
        let gdtr = offset_of_sym(&raw const gmpos_trampoline_gdtr);
        // SAFETY: the 32-bit base field follows the 16-bit limit inside the
        // copied GDTR (unaligned by design).
        unsafe { (dst.add(gdtr as usize + 2) as *mut u32).write_unaligned(gdt as u32) };

        // Page tables: PML4 at +1 page, PDPT at +2, PD at +3.
        let (pml4, pdpt, pd) = (base + 0x1000, base + 0x2000, base + 0x3000);
        let kernel_cr3 = ::x86_64::registers::control::Cr3::read_raw();
        let kernel_pml4 = kernel_cr3.0.start_address().as_u64();
        const PRESENT_WRITABLE: u64 = 0x3;
        const HUGE: u64 = 0x80;
        // SAFETY: the three pages are the reserved ones (caller); the
        // kernel's level-4 table is a mapped 4 KiB page.
        unsafe {
            let l4 = phys_to_virt(pml4) as *mut u64;
            core::ptr::copy_nonoverlapping(phys_to_virt(kernel_pml4) as *const u64, l4, 512);
            l4.write(pdpt | PRESENT_WRITABLE);
            let l3 = phys_to_virt(pdpt) as *mut u64;
            core::ptr::write_bytes(l3, 0, 512);
            l3.write(pd | PRESENT_WRITABLE);
            let l2 = phys_to_virt(pd) as *mut u64;
            core::ptr::write_bytes(l2, 0, 512);
            // 0..2 MiB, identity, executable.
            l2.write(PRESENT_WRITABLE | HUGE);
        }
        let t = Trampoline { base };
        let p = t.params();
        p.cr3_low.store(pml4, Ordering::Relaxed);
        p.kernel_cr3.store(
            kernel_cr3.0.start_address().as_u64() | kernel_cr3.1 as u64,
            Ordering::Relaxed,
        );
        p.entry
            .store(&raw const gmpos_ap_entry64 as u64, Ordering::Relaxed);
        t
    }

    /// The start-up IPI vector (the base's page number).
    pub fn vector(&self) -> u8 {
        (self.base >> 12) as u8
    }

    /// The copied parameter block.
    pub fn params(&self) -> &'static Params {
        let off = offset_of_sym(&raw const gmpos_trampoline_params);
        // SAFETY: the block lies in the copied page (8-byte aligned by the
        // assembly), is only accessed through atomics, and the page stays
        // reserved for the trampoline for the kernel's lifetime.
        unsafe { &*(phys_to_virt(self.base + off) as *const Params) }
    }

    /// Prepares the block for the AP that starts next.
    pub fn prepare(&self, index: usize, stack_top: u64, percpu: u64) {
        let p = self.params();
        p.stack_top.store(stack_top, Ordering::Relaxed);
        p.percpu.store(percpu, Ordering::Relaxed);
        p.index.store(index as u64, Ordering::Relaxed);
        p.stage.store(0, Ordering::SeqCst);
    }

    /// How far the current AP got (index into [`STAGE_NAMES`]).
    pub fn stage(&self) -> u64 {
        self.params().stage.load(Ordering::Acquire)
    }
}
