//! Boot: banner and a clean exit, BIOS and UEFI, one and two CPUs.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=1,2
        uefi=0,1
        args=exit
        timeout=90
    ",
}

#[gmpos::test]
fn boots_and_reads_cmdline() {
    // The runner passed `exit` through fw_cfg: reading it proves the
    // command-line path works end to end.
    assert!(
        gmpos::config().exit,
        "the `exit` word did not reach the kernel"
    );
    let (total, free) = gmpos::testing::mem::frame::stats();
    assert!(
        total > 0 && free <= total,
        "frame counters: total {total} free {free}"
    );
    gmpos::test_note!("{} of {} frames free after boot", free, total);
}
