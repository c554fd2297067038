//! The short seeded stress run of `make test` (`kernel/src/stress/`):
//! `stress seed=19 secs=16` at -smp 2 and `slice=1ms`, under an interrupt
//! storm: the busy tick at 2 kHz on every CPU (`tick=500us`, checked by the
//! storm's probe) and every CPU flooding the others with wake-up IPIs and
//! cross-calls (`storm=1`) for the whole run. The run's checks: every
//! goroutine of every round ran exactly once, each kind's invariants (bank
//! total, pipeline and select sums, sleeps, timers, cross-calls served
//! exactly once), the same checksum from both passes of the seed, async
//! preemptions happened, and no leak of goroutines, timers, frames, heap or
//! stack against the baseline after the warm-up round. A failure panics
//! with the goroutine dump.
#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(gmpos::testing::harness)]

gmpos::qemu_test! {
    config: "
        smp=2
        args=stress seed=19 secs=16 storm=1 tick=500us slice=1ms
        timeout=300
    ",
}

#[gmpos::test]
fn seeded_stress_under_an_interrupt_storm() {
    let cfg = gmpos::config().stress;
    assert!(
        cfg.on && cfg.storm,
        "the config's args lost the stress words"
    );
    let r = gmpos::stress::run(&cfg);
    gmpos::test_note!("{r}");
    assert!(r.storm_xcalls > 0, "the storm made no cross-calls");
    assert!(r.goroutines > 0 && r.chan_ops > 0 && r.transfers > 0);
    // The hogs keep runnable goroutines waiting for whole slices: a zero
    // would mean the latency tracking in casgstatus measured nothing.
    assert!(r.max_latency_us > 0, "no runnable latency was recorded");
}
