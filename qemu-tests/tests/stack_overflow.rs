//! Overflowing the boot stack is reported as a kernel stack overflow by the
//! page-fault handler (on its own IST stack), never a triple fault.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=1
        expect=fatal error: kernel stack overflow: boot stack
    ",
    early: recurse_forever,
}

/// The kernel must die in `recurse_forever` (on the boot stack) first.
#[gmpos::test]
fn never_reached() {
    panic!("the boot stack overflow was not caught");
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64, buf: &mut [u8; 512]) -> u64 {
    let mut local = [0u8; 512];
    local[(depth % 512) as usize] = buf[(depth % 512) as usize].wrapping_add(1);
    core::hint::black_box(&mut local);
    recurse(depth + 1, &mut local) + local[0] as u64
}

fn recurse_forever() {
    let mut buf = [0u8; 512];
    let r = recurse(0, &mut buf);
    panic!("recursion returned {r}");
}
