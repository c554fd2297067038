//! The gmpos kernel that `make run` boots: banner, then (for now) a short
//! self-check; with `exit` on the command line it powers off afterwards,
//! otherwise it stays up.
#![no_std]
#![no_main]

use gmpos::println;

gmpos::kernel_main!(main);

fn main() {
    let (total, free) = gmpos::mem::frame::stats();
    println!("gmpos: up; {} of {} frames free", free, total);
    if !gmpos::config().exit {
        println!("gmpos: nothing more to do; staying up (boot with ARGS=exit to power off)");
        loop {
            x86_64::instructions::hlt();
        }
    }
}
