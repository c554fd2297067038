//! Frame-pointer stack walks (Go: the frame-pointer unwinder of
//! `runtime/tracebackfp` and `gentraceback`'s frame layout on amd64).
//!
//! Every kernel function keeps a frame pointer (`-C force-frame-pointers`):
//! its prologue is `push rbp; mov rbp, rsp`, so `[rbp]` is the caller's
//! RBP and `[rbp + 8]` the return address into the caller. A walk follows
//! that chain. It reads memory that may be stale or unmapped (a parked
//! goroutine's stack being shrunk, a corrupted chain), so every load goes
//! through [`probe_read`], and the walk is bounded: the frame pointer must
//! stay inside the given stack, 8-aligned, and strictly increase (callers'
//! frames are above their callees'), and at most `max` frames are reported.
use super::fixup::probe_read;

/// Where a walk begins: the top frame when it is not found through the
/// chain (a trap frame's RIP, the RIP an asynchronous preemption
/// interrupted, the return address a saved context resumes at), and the
/// frame pointer of that frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkStart {
    /// The top frame, if known apart from the chain.
    pub top: Option<Frame>,
    /// The top frame's RBP: `[fp + 8]` is its return address.
    pub fp: u64,
}

impl WalkStart {
    /// A walk of the caller's stack from the caller's own frame: its first
    /// frame is the return address into the caller's caller.
    #[inline(always)]
    pub fn here() -> WalkStart {
        WalkStart {
            top: None,
            fp: frame_pointer(),
        }
    }
}

/// One frame of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The exact PC of an interrupted instruction.
    Pc(u64),
    /// A return address: the call is the instruction before it.
    Ret(u64),
}

/// The current RBP (inlined into the caller, so it is the caller's frame).
#[inline(always)]
pub fn frame_pointer() -> u64 {
    let fp: u64;
    // SAFETY: reads a register; no memory access, no side effect.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    fp
}

/// The return address of the function whose frame pointer is `fp`, if the
/// frame can be read.
pub fn return_address(fp: u64) -> Option<u64> {
    if fp == 0 || !fp.is_multiple_of(8) {
        return None;
    }
    probe_read(fp + 8).ok().filter(|&r| r != 0)
}

/// Walks the frame-pointer chain from `start` on the stack `[lo, hi)`,
/// calling `f` for each frame until the chain leaves the stack, a read
/// faults, `stop(return address)` says the outermost frame was reached
/// (the goroutine's `goexit`), or `max` frames were reported. Returns
/// whether frames were left out because of `max`.
pub fn walk(
    start: WalkStart,
    lo: u64,
    hi: u64,
    max: usize,
    stop: impl Fn(u64) -> bool,
    mut f: impl FnMut(Frame),
) -> bool {
    let mut n = 0;
    if let Some(top) = start.top {
        f(top);
        n += 1;
    }
    let mut fp = start.fp;
    while fp >= lo && fp + 16 <= hi && fp.is_multiple_of(8) {
        let Ok(ret) = probe_read(fp + 8) else { break };
        let Ok(next) = probe_read(fp) else { break };
        if ret == 0 || stop(ret) {
            break;
        }
        if n == max {
            return true;
        }
        f(Frame::Ret(ret));
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    false
}
