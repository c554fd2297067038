//! IPIs (issue 3): ping-pong between this CPU and every other one, 10,000
//! round trips each, with the mean round-trip latency printed (asserted
//! only to complete: under TCG the figure is the emulator's).
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

mod common;

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::cycles_to_ns;
use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::hw::{apic, ipi, percpu, rdtsc, smp};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        icount=0,1
        timeout=180
    ",
}

const PING: u8 = 0x60;
const PONG: u8 = 0x61;
const ROUND_TRIPS: u64 = 10_000;

/// The CPU that pings (answers go there).
static PINGER: AtomicUsize = AtomicUsize::new(0);
static PONGS: AtomicU64 = AtomicU64::new(0);

fn on_ping(_: &mut TrapFrame) {
    apic::eoi();
    ipi::send(PINGER.load(Ordering::Relaxed), PONG);
}

fn on_pong(_: &mut TrapFrame) {
    PONGS.fetch_add(1, Ordering::Release);
    apic::eoi();
}

#[gmpos::test]
fn ping_pong_10k_with_every_cpu() {
    let _pin = gmpos::testing::sched::AcquireM::new();
    trap::register(PING, on_ping);
    trap::register(PONG, on_pong);
    let me = percpu::cpu_index();
    PINGER.store(me, Ordering::Relaxed);
    if smp::ncpu() == 1 {
        gmpos::test_note!("one CPU: nobody to ping");
        return;
    }
    let mut total_ns = 0;
    let mut trips = 0;
    for cpu in (0..smp::ncpu()).filter(|&c| c != me) {
        let t0 = rdtsc();
        let mut worst = 0;
        for _ in 0..ROUND_TRIPS {
            let before = PONGS.load(Ordering::Acquire);
            let s = rdtsc();
            ipi::send(cpu, PING);
            while PONGS.load(Ordering::Acquire) == before {
                core::hint::spin_loop();
            }
            worst = worst.max(rdtsc() - s);
        }
        let ns = cycles_to_ns(rdtsc() - t0);
        total_ns += ns;
        trips += ROUND_TRIPS;
        gmpos::test_note!(
            "cpu {me} <-> cpu {cpu}: {ROUND_TRIPS} round trips, mean {} ns, worst {} ns",
            ns / ROUND_TRIPS,
            cycles_to_ns(worst)
        );
    }
    gmpos::test_note!(
        "IPI round trip: mean {} ns over {trips} round trips ({})",
        total_ns / trips,
        if common::icount() {
            "icount: 1 ns per instruction"
        } else {
            "TCG: host time"
        }
    );
}
