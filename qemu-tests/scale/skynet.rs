//! Scale: the skynet benchmark's tree, 1,000,000 leaf goroutines (111,111
//! inner ones) summing their numbers over channels, each level fanning out
//! ten ways; the sum must be 0 + 1 + ... + 999,999. Prints the time.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

use gmpos::testing::hw::now_ns;
use gmpos::{Chan, chan, go, gomaxprocs, test_note};

gmpos::qemu_test! {
    config: "
        smp=2,4
        mem=8G
        args=heap=1G
        timeout=1800
    ",
}

fn skynet(out: Chan<u64>, num: u64, size: u64) {
    if size == 1 {
        out.send(num);
        return;
    }
    let sub = size / 10;
    let c = chan::<u64>(10);
    for i in 0..10 {
        let c = c.clone();
        go(move || skynet(c, num + i * sub, sub));
    }
    let sum = (0..10).map(|_| c.recv().expect("closed")).sum();
    out.send(sum);
}

#[gmpos::test]
fn skynet_million() {
    let t = now_ns();
    let c = chan::<u64>(1);
    let out = c.clone();
    go(move || skynet(out, 0, 1_000_000));
    let sum = c.recv().expect("closed");
    let ms = (now_ns() - t) / 1_000_000;
    assert_eq!(sum, 499_999_500_000);
    test_note!(
        "skynet: 1,111,111 goroutines, sum {sum}, gomaxprocs={}: {ms} ms",
        gomaxprocs()
    );
}
