//! The interrupt storm (`storm=1`): one flooder goroutine per CPU sends
//! wake-up IPIs to every other CPU every ~2 us and a cross-call every
//! 16th time, for the whole run; with `tick=500us` (2 kHz) or `tick=100us`
//! (10 kHz) every busy CPU also takes that many timer interrupts. Checks:
//! every cross-call served exactly once per target, every CPU woken, and
//! (`probe`) every CPU's timer really ran at the `tick=` rate while busy.
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::arch::{ipi, smp, timer};
use crate::clock::now_ns;
use crate::sched::go;
use crate::sync::WaitGroup;

pub struct Storm {
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicU64>,
    served: Arc<AtomicU64>,
    wg: Arc<WaitGroup>,
    wake0: Vec<u64>,
}

/// Starts the flooders.
pub fn start() -> Storm {
    let ncpu = smp::ncpu();
    let s = Storm {
        stop: Arc::new(AtomicBool::new(false)),
        issued: Arc::new(AtomicU64::new(0)),
        served: Arc::new(AtomicU64::new(0)),
        wg: Arc::new(WaitGroup::new()),
        wake0: (0..ncpu).map(ipi::wakeups).collect(),
    };
    for _ in 0..ncpu {
        s.wg.add(1);
        let (stop, issued, served, wg) = (
            s.stop.clone(),
            s.issued.clone(),
            s.served.clone(),
            s.wg.clone(),
        );
        go(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ipi::send_all_but_self(ipi::WAKEUP_VECTOR);
                if n.is_multiple_of(16) {
                    ipi::run_on_others(&|| {
                        served.fetch_add(1, Ordering::Relaxed);
                    });
                    issued.fetch_add(ncpu as u64 - 1, Ordering::Relaxed);
                }
                n += 1;
                let t = now_ns();
                while now_ns() - t < 2_000 {
                    core::hint::spin_loop();
                }
            }
            wg.done();
        });
    }
    s
}

/// Measures the timer rate: for `ms` milliseconds with every P busy (the
/// flooders spin between floods). Under icount (virtual time: one ns per
/// instruction) each CPU must take at least half the interrupts `tick=`
/// asks for; under plain TCG the guest clock is the host's and a vCPU
/// thread the loaded host does not run takes no interrupts meanwhile (they
/// coalesce), so the rate is the host's to give: reported, not asserted.
/// Returns the slowest CPU's rate in interrupts per second.
pub fn probe(ms: u64) -> u64 {
    let ncpu = smp::ncpu();
    let tick_ns = crate::init::config().tick_ns;
    let t0: Vec<u64> = (0..ncpu).map(timer::interrupts).collect();
    let start = now_ns();
    crate::time::sleep(core::time::Duration::from_millis(ms));
    let el = (now_ns() - start).max(1);
    let got: Vec<u64> = (0..ncpu).map(|c| timer::interrupts(c) - t0[c]).collect();
    let want = el / tick_ns / 2;
    let judged = crate::arch::tsc::counts_instructions();
    for (cpu, &n) in got.iter().enumerate().filter(|_| judged) {
        assert!(
            n >= want,
            "stress: storm: cpu {cpu} took {n} timer interrupts in {} ms (tick={} us: want >= {want})",
            el / 1_000_000,
            tick_ns / 1000
        );
    }
    got.iter()
        .map(|&n| n * 1_000_000_000 / el)
        .min()
        .unwrap_or(0)
}

impl Storm {
    /// Stops the flooders, checks every cross-call was served exactly once
    /// per target and every CPU got wake-ups; returns the cross-calls.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.wg.wait();
        let (issued, served) = (
            self.issued.load(Ordering::Relaxed),
            self.served.load(Ordering::Relaxed),
        );
        assert_eq!(
            served, issued,
            "stress: storm: cross-calls served != issued"
        );
        if smp::ncpu() > 1 {
            for (cpu, &w0) in self.wake0.iter().enumerate() {
                let n = ipi::wakeups(cpu) - w0;
                assert!(n > 0, "stress: storm: cpu {cpu} got no wake-up IPI");
            }
        }
        served
    }
}
