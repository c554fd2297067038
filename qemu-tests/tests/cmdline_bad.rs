//! Bad values of the stack and slice words in a booted kernel: each is
//! reported with the offending word, the default stays and the boot goes
//! on (status 0). `tests/cmdline.rs` covers good words overriding bad ones;
//! here no good word follows, so the defaults themselves are checked.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use gmpos::testing::cmdline;
use gmpos::testing::sched::stack;

gmpos::qemu_test! {
    config: "
        smp=1
        args=slice=abc maxstack=3K stackspace=lots slice=0ms maxstack=2G
    ",
}

/// The same words as `args=` above (the config must be a literal).
const ARGS: &str = "slice=abc maxstack=3K stackspace=lots slice=0ms maxstack=2G";

#[gmpos::test]
fn bad_values_keep_the_defaults() {
    let c = gmpos::config();
    assert_eq!(c.slice_ns, cmdline::DEFAULT_SLICE_NS);
    assert_eq!(c.maxstack, cmdline::DEFAULT_MAXSTACK);
    assert_eq!(c.stackspace, cmdline::MAX_STACKSPACE);
    // The scheduler runs with them: the stack limit is the default window.
    assert_eq!(stack::limit(), cmdline::DEFAULT_MAXSTACK as u64);
    assert_eq!(
        stack::max_windows(),
        cmdline::MAX_STACKSPACE / cmdline::DEFAULT_MAXSTACK as u64
    );
}

#[gmpos::test]
fn each_bad_word_is_named() {
    // What the kernel printed at boot, word for word (the same parser).
    let mut msgs: Vec<String> = Vec::new();
    let c = cmdline::parse(ARGS, |e| msgs.push(e.to_string()));
    assert_eq!(&c, gmpos::config());
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    for (msg, word) in msgs.iter().zip(ARGS.split(' ')) {
        assert!(msg.contains(&alloc::format!("`{word}`")), "{msg}");
        assert!(msg.ends_with("default kept"), "{msg}");
    }
}
