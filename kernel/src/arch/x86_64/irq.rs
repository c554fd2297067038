//! Interrupt masking on this CPU (RFLAGS.IF): the one interface the rest of
//! the kernel uses to turn interrupts off and on, so nothing above `arch`
//! names the instructions.
use ::x86_64::instructions::interrupts;

/// Disables interrupts on this CPU (`cli`).
#[inline(always)]
pub fn disable() {
    interrupts::disable();
}

/// Enables interrupts on this CPU (`sti`).
#[inline(always)]
pub fn enable() {
    interrupts::enable();
}

/// Are interrupts enabled on this CPU?
#[inline(always)]
pub fn enabled() -> bool {
    interrupts::are_enabled()
}

/// Runs `f` with interrupts disabled, then restores the previous state.
#[inline(always)]
pub fn without<R>(f: impl FnOnce() -> R) -> R {
    interrupts::without_interrupts(f)
}

/// `sti; hlt`: the interrupt shadow of `sti` makes enabling and halting
/// atomic, so a check made with interrupts off cannot miss a wake-up that
/// arrives before the halt (the check-then-halt rule of every idle loop).
#[inline(always)]
pub fn enable_and_hlt() {
    interrupts::enable_and_hlt();
}
