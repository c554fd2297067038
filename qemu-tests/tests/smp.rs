//! Every CPU comes online (issue 3): count equals `-smp`, distinct indices
//! and APIC ids, each CPU's per-CPU block and local APIC agree, the local
//! APIC mode matches the CPU model (xAPIC with QEMU's default model, x2APIC
//! with `-cpu max`), the IOAPIC delivers COM1's IRQ 4 to any chosen CPU, and
//! cross-calls and wake-up IPIs reach every CPU.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

extern crate alloc;

mod common;

use alloc::vec::Vec;

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gmpos::testing::hw::trap::{self, TrapFrame};
use gmpos::testing::hw::{apic, cpuinfo, ioapic, ipi, percpu, smp, tsc};

gmpos::qemu_test! {
    config: "
        smp=1,2,4
        cpu=default,max
        timeout=90
    ",
}

#[gmpos::test]
fn all_cpus_online() {
    let n = smp::ncpu();
    let expected = common::qemu_smp().expect("no fw_cfg") as usize;
    assert_eq!(n, expected, "{n} CPUs online, QEMU has -smp {expected}");
    assert_eq!(
        smp::ncpu_found(),
        expected,
        "the MADT lists {} CPUs",
        smp::ncpu_found()
    );
    assert_eq!(
        smp::online_mask(),
        u64::MAX >> (64 - n),
        "online mask {:#x}",
        smp::online_mask()
    );
    for i in 0..n {
        assert_eq!(percpu::cpu(i).index as usize, i);
        for j in 0..i {
            assert_ne!(
                smp::apic_id(i),
                smp::apic_id(j),
                "cpus {j} and {i} share an APIC id"
            );
        }
    }
    // Each CPU, asked directly, knows who it is.
    for i in 0..n {
        let seen = AtomicU64::new(u64::MAX);
        ipi::run_on(i, &|| {
            let me = percpu::cpu_index() as u64;
            seen.store((me << 32) | apic::id() as u64, Ordering::Relaxed)
        });
        let v = seen.load(Ordering::Relaxed);
        assert_eq!((v >> 32) as usize, i, "run_on({i}) ran on cpu {}", v >> 32);
        assert_eq!(
            v as u32,
            smp::apic_id(i),
            "cpu {i}: local APIC id differs from its per-CPU record"
        );
    }
    let (warps, max) = tsc::warp_result();
    assert_eq!(
        warps, 0,
        "TSC warps between CPUs: {warps}, up to {max} cycles"
    );
    gmpos::test_note!(
        "{n} CPUs online, APIC ids {:?}",
        (0..n).map(smp::apic_id).collect::<Vec<_>>()
    );
}

#[gmpos::test]
fn apic_mode_matches_cpu() {
    let f = cpuinfo::features();
    // x2APIC whenever offered, except under icount (see tsc::counts_instructions).
    assert_eq!(
        apic::is_x2apic(),
        f.x2apic && !common::icount(),
        "x2APIC offered: {}",
        f.x2apic
    );
    assert_eq!(
        apic::errors(),
        0,
        "local APIC errors: {:#x}",
        apic::errors()
    );
    let t = tsc::frequency();
    let a = gmpos::testing::hw::timer::frequency();
    gmpos::test_note!(
        "{}; TSC {} kHz ({}), APIC timer {} kHz ({}); TSC-deadline {}",
        if apic::is_x2apic() { "x2APIC" } else { "xAPIC" },
        t.hz / 1000,
        t.source.describe(),
        a.hz / 1000,
        a.source.describe(),
        if gmpos::testing::hw::timer::uses_tsc_deadline() {
            "yes"
        } else {
            "no"
        }
    );
    assert!(t.hz > 100_000_000, "TSC at {} Hz", t.hz);
    assert!(a.hz > 1_000_000, "APIC timer at {} Hz", a.hz);
}

#[gmpos::test]
fn cross_calls_reach_every_cpu() {
    let n = smp::ncpu();
    let hits = [const { AtomicUsize::new(0) }; 64];
    for _ in 0..100 {
        ipi::run_on_all(&|| {
            hits[percpu::cpu_index()].fetch_add(1, Ordering::Relaxed);
        });
    }
    for (i, h) in hits.iter().enumerate().take(n) {
        assert_eq!(
            h.load(Ordering::Relaxed),
            100,
            "cpu {i} ran the function {} times",
            h.load(Ordering::Relaxed)
        );
    }
    let others = AtomicUsize::new(0);
    ipi::run_on_others(&|| {
        others.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(others.load(Ordering::Relaxed), n - 1);
}

#[gmpos::test]
fn wakeup_ipis() {
    let n = smp::ncpu();
    let me = percpu::cpu_index();
    for cpu in (0..n).filter(|&c| c != me) {
        let before = ipi::wakeups(cpu);
        for _ in 0..10 {
            ipi::send_wakeup(cpu);
            // Let it arrive before the next one (IPIs to one vector coalesce).
            let t = gmpos::testing::hw::now_ns() + 50_000_000;
            while ipi::wakeups(cpu) == before && gmpos::testing::hw::now_ns() < t {
                core::hint::spin_loop();
            }
        }
        assert!(
            ipi::wakeups(cpu) > before,
            "cpu {cpu} received no wake-up IPI"
        );
    }
}

const COM1_VECTOR: u8 = 0x34;
static COM1_IRQS: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];

fn on_com1(_: &mut TrapFrame) {
    COM1_IRQS[percpu::cpu_index()].fetch_add(1, Ordering::Relaxed);
    // SAFETY: COM1's IIR (reading it acknowledges the THR-empty interrupt)
    // and IER (0: no more interrupts); the console only polls COM1.
    unsafe {
        core::arch::asm!("in al, dx", in("dx") 0x3fau16, out("al") _, options(nostack));
        core::arch::asm!("out dx, al", in("dx") 0x3f9u16, in("al") 0u8, options(nostack));
    }
    apic::eoi();
}

#[gmpos::test]
fn ioapic_routes_com1_to_each_cpu() {
    trap::register(COM1_VECTOR, on_com1);
    let route = ioapic::isa_route(4);
    gmpos::test_note!("COM1 IRQ 4 -> GSI {} ({:?})", route.gsi, route);
    for (cpu, irqs) in COM1_IRQS.iter().enumerate().take(smp::ncpu()) {
        let before = irqs.load(Ordering::Relaxed);
        ioapic::route_isa(4, COM1_VECTOR, cpu).expect("route IRQ 4");
        // THR-empty interrupt: the UART raises IRQ 4 at once (its transmit
        // register is empty) when the interrupt is enabled.
        // SAFETY: COM1's IER; the handler turns it off again.
        unsafe {
            core::arch::asm!("out dx, al", in("dx") 0x3f9u16, in("al") 2u8, options(nostack))
        };
        // The interrupt must land on `cpu` (the handler counts per CPU).
        let t = gmpos::testing::hw::now_ns() + 500_000_000;
        while irqs.load(Ordering::Relaxed) == before && gmpos::testing::hw::now_ns() < t {
            core::hint::spin_loop();
        }
        ioapic::mask_isa(4).unwrap();
        // SAFETY: as above.
        unsafe {
            core::arch::asm!("out dx, al", in("dx") 0x3f9u16, in("al") 0u8, options(nostack))
        };
        assert!(
            irqs.load(Ordering::Relaxed) > before,
            "IRQ 4 routed to cpu {cpu} never arrived there"
        );
    }
    let total: usize = COM1_IRQS.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    gmpos::test_note!(
        "{} COM1 interrupts, one or more on each of {} CPUs",
        total,
        smp::ncpu()
    );
}
