//! The one line a stress run prints (and the figures in it).
use core::fmt;

use super::leak::Leaks;

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub seed: u64,
    /// Seconds asked for (`secs=`) and milliseconds the run took.
    pub secs: u64,
    pub ms: u64,
    pub cpus: usize,
    pub slice_us: u64,
    /// Rounds per pass (both passes ran this many).
    pub rounds: u64,
    /// Goroutines spawned and finished (every one exactly once).
    pub goroutines: u64,
    pub chan_ops: u64,
    /// Mutex-protected bank transfers.
    pub transfers: u64,
    /// Cross-calls the workload made (each served by every other CPU).
    pub xcalls: u64,
    /// `select!` timeouts that fired (timing-dependent: not in the checksum).
    pub timeouts: u64,
    /// Live `set_gomaxprocs` changes.
    pub procs_changes: u64,
    pub async_preempts: u64,
    pub coop_preempts: u64,
    pub steals: u64,
    /// Largest runnable-to-running latency, in microseconds.
    pub max_latency_us: u64,
    /// Cross-calls served by the storm (0 without `storm=1`).
    pub storm_xcalls: u64,
    /// The slowest CPU's timer interrupts per second in the storm's probe.
    pub storm_tick_hz: u64,
    /// The work checksum of one pass (the other pass gave the same).
    pub checksum: u64,
    /// The first round's checksum: the same for a seed on every boot and
    /// CPU count, whatever the number of rounds.
    pub first_checksum: u64,
    pub leaks: Leaks,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stress: seed={} secs={} ({} ms) cpus={} slice={}us rounds={}x2 goroutines={} chanops={} \
             transfers={} xcalls={} timeouts={} gomaxprocs_changes={} preempt=async:{},coop:{} \
             steals={} max_runnable_latency={}us storm_xcalls={} storm_tick_hz={} checksum={:#018x} first={:#018x} leaks={}",
            self.seed,
            self.secs,
            self.ms,
            self.cpus,
            self.slice_us,
            self.rounds,
            self.goroutines,
            self.chan_ops,
            self.transfers,
            self.xcalls,
            self.timeouts,
            self.procs_changes,
            self.async_preempts,
            self.coop_preempts,
            self.steals,
            self.max_latency_us,
            self.storm_xcalls,
            self.storm_tick_hz,
            self.checksum,
            self.first_checksum,
            self.leaks.count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_figure() {
        let r = Report {
            seed: 7,
            secs: 10,
            ms: 10_012,
            cpus: 2,
            slice_us: 1000,
            rounds: 3,
            goroutines: 1234,
            chan_ops: 5678,
            async_preempts: 9,
            coop_preempts: 1,
            steals: 11,
            max_latency_us: 450,
            checksum: 0xabc,
            ..Report::default()
        };
        let s = r.to_string();
        for want in [
            "seed=7 ",
            "secs=10 ",
            "goroutines=1234 ",
            "chanops=5678 ",
            "preempt=async:9,coop:1 ",
            "steals=11 ",
            "max_runnable_latency=450us ",
            "checksum=0x0000000000000abc ",
        ] {
            assert!(s.contains(want), "{want:?} not in {s}");
        }
        assert!(s.ends_with("leaks=0"), "{s}");
        let bad = Report {
            leaks: Leaks {
                heap_bytes: 8,
                goroutines: 1,
                ..Leaks::default()
            },
            ..r
        };
        assert!(bad.to_string().ends_with("leaks=2"));
    }
}
