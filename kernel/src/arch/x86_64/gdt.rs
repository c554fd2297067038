//! Per-CPU GDT and TSS, and the IST stacks.
//!
//! Every CPU gets its own GDT (its TSS descriptor differs) and TSS. The TSS
//! holds the Interrupt Stack Table: traps that must work whatever state the
//! interrupted stack is in get their own stack, and every hardware interrupt
//! runs on the per-CPU interrupt stack (never on a goroutine's 4 KiB stack,
//! and the preemption code rewrites the interrupted context from there).
use ::x86_64::VirtAddr;
use ::x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use ::x86_64::instructions::tables::load_tss;
use ::x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use ::x86_64::structures::tss::TaskStateSegment;
use core::cell::UnsafeCell;

use super::percpu::{IST_COUNT, MAX_CPUS};

/// IST slots (1-based, as the IDT encodes them).
pub const IST_DOUBLE_FAULT: u8 = 1;
pub const IST_NMI: u8 = 2;
pub const IST_MACHINE_CHECK: u8 = 3;
pub const IST_PAGE_FAULT: u8 = 4;
/// Every hardware interrupt (timer, IPIs, devices).
pub const IST_IRQ: u8 = 5;

/// Human names of the IST stacks, for reports.
pub const IST_NAMES: [&str; IST_COUNT + 1] = [
    "none",
    "double-fault",
    "nmi",
    "machine-check",
    "page-fault",
    "interrupt",
];

/// Size of each IST stack (the page-fault one later also grows goroutine
/// stacks, which needs little).
pub const IST_STACK_SIZE: usize = 32 * 1024;

struct CpuTables {
    gdt: UnsafeCell<GlobalDescriptorTable>,
    tss: UnsafeCell<TaskStateSegment>,
}

// SAFETY: CPU i's tables are written only by CPU i during its own bring-up
// (and by the bootstrap CPU before CPU i starts); the CPU itself reads them.
unsafe impl Sync for CpuTables {}

static TABLES: [CpuTables; MAX_CPUS] = [const {
    CpuTables {
        gdt: UnsafeCell::new(GlobalDescriptorTable::new()),
        tss: UnsafeCell::new(TaskStateSegment::new()),
    }
}; MAX_CPUS];

/// Early IST stacks for the bootstrap CPU, used until the memory manager can
/// hand out stacks with guard pages (`set_ist_stack`).
#[repr(align(16))]
struct EarlyStack(#[allow(dead_code)] [u8; 16 * 1024]);
static mut EARLY_IST: [EarlyStack; IST_COUNT] = [const { EarlyStack([0; 16 * 1024]) }; IST_COUNT];

/// Kernel code selector (same in every CPU's GDT).
pub fn kernel_cs() -> SegmentSelector {
    SegmentSelector(8)
}

/// Builds and loads CPU `index`'s GDT and TSS. The bootstrap CPU passes
/// `early = true` and gets the static early IST stacks.
///
/// # Safety
/// Must run on CPU `index`, once, during its bring-up.
pub unsafe fn init_cpu(index: usize, early: bool) {
    let t = &TABLES[index];
    // SAFETY: CPU `index` is the only one touching its tables now (contract).
    let (gdt, tss) = unsafe { (&mut *t.gdt.get(), &mut *t.tss.get()) };
    if early {
        let mut ist = tss.interrupt_stack_table;
        for (i, slot) in ist.iter_mut().take(IST_COUNT).enumerate() {
            // SAFETY: only the bootstrap CPU uses EARLY_IST, once; `i` is in
            // bounds (IST_COUNT stacks), so `i + 1` is at most one past the end.
            let top = unsafe { (&raw const EARLY_IST).cast::<EarlyStack>().add(i + 1) } as u64;
            *slot = VirtAddr::new(top);
        }
        tss.interrupt_stack_table = ist;
    }
    *gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    // SAFETY: the TSS lives in a static, so the reference is 'static.
    let tss_ref: &'static TaskStateSegment = unsafe { &*t.tss.get() };
    let tss_sel = gdt.append(Descriptor::tss_segment(tss_ref));
    debug_assert_eq!(code, kernel_cs());
    // SAFETY: the GDT is static and stays valid; the selectors were just
    // created in it; loading the TSS once per CPU is what it is for.
    unsafe {
        (*t.gdt.get()).load_unsafe();
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(data);
        ES::set_reg(data);
        load_tss(tss_sel);
    }
}

/// Points IST slot `ist` (1-based) of CPU `index` at a new stack top. The CPU
/// reads the TSS on every IST switch, so no reload is needed.
///
/// # Safety
/// `top` must be the top of a mapped stack of at least `IST_STACK_SIZE`
/// bytes, and no trap may currently be running on the old stack of that slot.
pub unsafe fn set_ist_stack(index: usize, ist: u8, top: u64) {
    // SAFETY: per the contract; the TSS is only read by the CPU hardware.
    unsafe {
        (*TABLES[index].tss.get()).interrupt_stack_table[ist as usize - 1] = VirtAddr::new(top)
    };
}
