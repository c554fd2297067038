//! Cases register themselves: every `#[gmpos::test]` function runs, in
//! source order, with no list naming it anywhere (Go: `go test` finds each
//! `TestXxx`). With the old `qemu_test! { cases: [...] }` a case missing
//! from the list was silently never run and the runner never expected it:
//! here `registry_lists_every_case_in_source_order` would not find it in
//! `testing::cases()` and `every_case_ran_before_the_last` would find its
//! bit clear.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

gmpos::qemu_test! {
    config: "
        smp=1
        timeout=60
    ",
}

/// One bit per case that ran, in source order.
static RAN: AtomicU32 = AtomicU32::new(0);

fn ran(bit: u32) {
    let before = RAN.fetch_or(1 << bit, Ordering::Relaxed);
    // Source order: every earlier case already ran, no later one did.
    assert_eq!(
        before,
        (1 << bit) - 1,
        "case {bit} ran out of source order (ran before it: {before:#b})"
    );
}

#[gmpos::test]
fn registry_lists_every_case_in_source_order() {
    let names: Vec<&str> = gmpos::testing::cases().iter().map(|c| c.name).collect();
    assert_eq!(
        names.as_slice(),
        [
            "registry_lists_every_case_in_source_order",
            "plain_case",
            "case_with_attributes",
            "case_in_a_module",
            "every_case_ran_before_the_last",
        ],
        "the registered cases"
    );
    ran(0);
}

#[gmpos::test]
fn plain_case() {
    ran(1);
}

/// Doc comments and other attributes before or after the marker are kept.
#[inline(never)]
#[gmpos::test]
#[allow(clippy::needless_return)]
pub fn case_with_attributes() {
    ran(2);
    return;
}

mod inner {
    #[gmpos::test]
    fn case_in_a_module() {
        super::ran(3);
    }
}

#[gmpos::test]
fn every_case_ran_before_the_last() {
    ran(4);
    gmpos::test_note!(
        "{} cases registered by #[gmpos::test], all ran in source order",
        gmpos::testing::cases().len()
    );
}
