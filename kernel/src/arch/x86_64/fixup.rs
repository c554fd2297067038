//! The exception-fixup table: `probe_read`/`probe_write` touch memory that may
//! not be mapped, and a page fault at exactly those instructions resumes at a
//! fixup that reports an error instead of stopping the kernel (Linux's
//! `__ex_table`). Entries are position independent (32-bit offsets relative
//! to the entry), since the kernel is a PIE.
use core::arch::asm;

/// A probe touched an address that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeFault {
    pub addr: u64,
}

#[repr(C)]
struct Entry {
    insn: i32,
    fixup: i32,
}

unsafe extern "C" {
    static __fixup_start: Entry;
    static __fixup_end: Entry;
}

/// The fixup address for a faulting instruction at `rip`, if it has one.
pub fn lookup(rip: u64) -> Option<u64> {
    // The linker script brackets the `.fixup` section, which holds only
    // `Entry` records emitted by the probes below.
    let (start, end) = (&raw const __fixup_start, &raw const __fixup_end);
    let mut e = start;
    while e < end {
        // SAFETY: `e` lies within the fixup table (checked by the loop bound).
        let entry = unsafe { &*e };
        let insn = (&raw const entry.insn as i64 + entry.insn as i64) as u64;
        if insn == rip {
            return Some((&raw const entry.fixup as i64 + entry.fixup as i64) as u64);
        }
        // SAFETY: stays within or one past the end of the table.
        e = unsafe { e.add(1) };
    }
    None
}

/// Reads a u64 at `addr`; a page fault becomes `Err` instead of a crash.
pub fn probe_read(addr: u64) -> Result<u64, ProbeFault> {
    let val: u64;
    let failed: u64;
    // SAFETY: the load may fault; the fault is caught by the fixup table
    // entry emitted here, which resumes at label 4 with `failed = 1`. No
    // memory is written.
    unsafe {
        asm!(
            "xor {f:e}, {f:e}",
            "2: mov {v}, qword ptr [{a}]",
            "3:",
            ".pushsection .fixup, \"a\"",
            ".balign 8",
            ".long 2b - .",
            ".long 4f - .",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "4: mov {f:e}, 1",
            "xor {v:e}, {v:e}",
            "jmp 3b",
            ".popsection",
            a = in(reg) addr,
            v = out(reg) val,
            f = out(reg) failed,
            options(nostack, readonly),
        );
    }
    if failed == 0 {
        Ok(val)
    } else {
        Err(ProbeFault { addr })
    }
}

/// Writes a u64 at `addr`; a page fault becomes `Err` instead of a crash.
///
/// # Safety
/// If `addr` is mapped, the write must not break any Rust invariant (it is an
/// arbitrary store to memory).
pub unsafe fn probe_write(addr: u64, val: u64) -> Result<(), ProbeFault> {
    let failed: u64;
    // SAFETY: as in probe_read; the caller vouches for the store itself.
    unsafe {
        asm!(
            "xor {f:e}, {f:e}",
            "2: mov qword ptr [{a}], {v}",
            "3:",
            ".pushsection .fixup, \"a\"",
            ".balign 8",
            ".long 2b - .",
            ".long 4f - .",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "4: mov {f:e}, 1",
            "jmp 3b",
            ".popsection",
            a = in(reg) addr,
            v = in(reg) val,
            f = out(reg) failed,
            options(nostack),
        );
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(ProbeFault { addr })
    }
}
