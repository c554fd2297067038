//! TLB shootdown (issue 3): after an unmap with shootdown, no CPU reads the
//! old page (a probe faults instead of returning stale data), and CPUs
//! shooting down at the same moment, 1,000 times each, never deadlock.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

mod common;

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::{ipi, percpu, probe_read, smp, tlb};
use gmpos::testing::mem::paging::{self, DATA};
use gmpos::testing::mem::{PAGE_SIZE, tlb_epoch};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        timeout=120
    ",
}

/// Test pages, in the unused hole between the bootloader's dynamic
/// mappings and the kernel image.
const TEST_VA: u64 = 0xffff_f000_0000_0000;

/// Maps a fresh page at `va` holding `value`, and makes every CPU read it
/// (so that every TLB caches the translation).
fn map_and_read_everywhere(va: u64, value: u64) {
    paging::map_new(va, DATA).expect("map a test page");
    // SAFETY: just mapped, ours.
    unsafe { (va as *mut u64).write_volatile(value) };
    let ok = AtomicUsize::new(0);
    ipi::run_on_all(&|| {
        if probe_read(va) == Ok(value) {
            ok.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(
        ok.load(Ordering::Relaxed),
        smp::ncpu(),
        "not every CPU read the new page"
    );
}

#[gmpos::test]
fn shootdown_latency() {
    let _pin = gmpos::testing::sched::AcquireM::new();
    let t0 = gmpos::testing::hw::now_ns();
    for _ in 0..200 {
        ipi::run_on_all(&|| {});
    }
    let t1 = gmpos::testing::hw::now_ns();
    for i in 0..200 {
        tlb::shootdown(TEST_VA + (i % 16) * PAGE_SIZE, PAGE_SIZE);
    }
    let t2 = gmpos::testing::hw::now_ns();
    gmpos::test_note!(
        "{} CPUs: empty cross-call to all {} ns, one-page shootdown {} ns (means of 200)",
        smp::ncpu(),
        (t1 - t0) / 200,
        (t2 - t1) / 200
    );
}

#[gmpos::test]
fn unmapped_page_faults_on_every_cpu() {
    let n = smp::ncpu();
    // Control: unmapped on this CPU only, the others may still read the
    // old frame through their TLBs (that is what shootdowns are for).
    let va = TEST_VA;
    map_and_read_everywhere(va, 0x5eed_0001);
    let _pin = gmpos::testing::sched::AcquireM::new();
    paging::unmap(va).expect("unmap");
    let stale = AtomicUsize::new(0);
    ipi::run_on_others(&|| {
        if probe_read(va).is_ok() {
            stale.fetch_add(1, Ordering::Relaxed);
        }
    });
    tlb::shootdown(va, PAGE_SIZE);
    // (The control's frame is not freed: one frame, for the test's sake.)
    gmpos::test_note!(
        "control: without a shootdown {} of {} other CPUs still read the unmapped page",
        stale.load(Ordering::Relaxed),
        n - 1
    );

    // The real thing: unmap with shootdown, then nobody reads it.
    for round in 0..20u64 {
        let va = TEST_VA + (round + 1) * PAGE_SIZE;
        map_and_read_everywhere(va, 0xdead_0000 + round);
        assert_eq!(tlb_epoch::unmap_and_free(va, 1), 1);
        let readers = AtomicUsize::new(0);
        ipi::run_on_all(&|| {
            if probe_read(va).is_ok() {
                readers.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(
            readers.load(Ordering::Relaxed),
            0,
            "round {round}: a CPU read the page after the shootdown"
        );
    }
}

static SHOOTERS: AtomicU64 = AtomicU64::new(0);
static SHOT: AtomicU64 = AtomicU64::new(0);

fn shoot_1000(cpu: usize) {
    if SHOOTERS.load(Ordering::Relaxed) & (1 << cpu) == 0 {
        return;
    }
    for i in 0..1000u64 {
        tlb::shootdown(TEST_VA + 0x10_0000 + (i % 16) * PAGE_SIZE, PAGE_SIZE);
        SHOT.fetch_add(1, Ordering::Relaxed);
    }
}

fn shoot(mask: u64) -> u64 {
    SHOOTERS.store(mask, Ordering::Relaxed);
    SHOT.store(0, Ordering::Relaxed);
    let t0 = gmpos::testing::hw::now_ns();
    common::on_all_cpus(shoot_1000);
    let shots = SHOT.load(Ordering::Relaxed);
    assert_eq!(shots, 1000 * mask.count_ones() as u64);
    gmpos::testing::hw::now_ns() - t0
}

#[gmpos::test]
fn two_cpus_shoot_down_at_once() {
    let n = smp::ncpu();
    if n < 2 {
        gmpos::test_note!("one CPU: nobody to race with");
        shoot(1);
        return;
    }
    let me = percpu::cpu_index();
    let other = (me + 1) % n;
    let flushes0: u64 = (0..n).map(tlb::flushes).sum();
    let ns = shoot((1 << me) | (1 << other));
    let flushes: u64 = (0..n).map(tlb::flushes).sum::<u64>() - flushes0;
    assert!(
        flushes >= 2000 * n as u64,
        "{flushes} flushes for 2000 shootdowns on {n} CPUs"
    );
    gmpos::test_note!(
        "cpus {me} and {other}: 2 x 1000 concurrent shootdowns in {} ms ({} ns each), {flushes} TLB flushes",
        ns / 1_000_000,
        ns / 1000
    );
}

#[gmpos::test]
fn all_cpus_shoot_down_at_once() {
    let n = smp::ncpu();
    let ns = shoot(smp::online_mask());
    gmpos::test_note!(
        "{n} CPUs x 1000 concurrent shootdowns in {} ms",
        ns / 1_000_000
    );
}
