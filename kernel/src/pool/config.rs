//! The pool's configuration (seed 004's `Config` and `DefaultConfig`),
//! its defaults and its validation. Pure: host-tested.
use core::time::Duration;

use super::Error;

/// Seed 004's `Config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Workers started by `Pool::new` and never retired (default: CPUs).
    pub min_workers: usize,
    /// The most workers at once (default: 2 x CPUs).
    pub max_workers: usize,
    /// An idle worker above `min_workers` exits after this long (default
    /// 60 s).
    pub keep_alive: Duration,
    /// Tasks waiting for a worker, at most; a full queue makes `submit`
    /// wait (default 1,000).
    pub queue_size: usize,
}

impl Config {
    /// Seed 004's `DefaultConfig()` on a machine with `ncpu` CPUs.
    pub fn defaults_for(ncpu: usize) -> Config {
        let ncpu = ncpu.max(1);
        Config {
            min_workers: ncpu,
            max_workers: 2 * ncpu,
            keep_alive: Duration::from_secs(60),
            queue_size: 1_000,
        }
    }

    /// Seed 004's `NewPool` checks, plus a queue of at least one place
    /// (the queue is bounded by tokens: zero would refuse every task).
    pub fn validate(&self) -> Result<(), Error> {
        if self.min_workers == 0 || self.max_workers == 0 {
            return Err(Error::InvalidConfig("workers count must be positive"));
        }
        if self.min_workers > self.max_workers {
            return Err(Error::InvalidConfig(
                "min_workers cannot be greater than max_workers",
            ));
        }
        if self.queue_size == 0 {
            return Err(Error::InvalidConfig("queue_size must be positive"));
        }
        Ok(())
    }
}

/// Seed 004's `DefaultConfig()` for this machine.
#[cfg(target_os = "none")]
impl Default for Config {
    fn default() -> Config {
        Config::defaults_for(crate::arch::smp::ncpu())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed() {
        let c = Config::defaults_for(4);
        assert_eq!(c.min_workers, 4);
        assert_eq!(c.max_workers, 8);
        assert_eq!(c.keep_alive, Duration::from_secs(60));
        assert_eq!(c.queue_size, 1000);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(Config::defaults_for(0).min_workers, 1);
    }

    #[test]
    fn bad_configs_are_errors_naming_the_rule() {
        let ok = Config::defaults_for(2);
        let zero_min = Config {
            min_workers: 0,
            ..ok
        };
        assert_eq!(
            zero_min.validate(),
            Err(Error::InvalidConfig("workers count must be positive"))
        );
        let inverted = Config {
            min_workers: 5,
            max_workers: 4,
            ..ok
        };
        assert_eq!(
            inverted.validate(),
            Err(Error::InvalidConfig(
                "min_workers cannot be greater than max_workers"
            ))
        );
        let no_queue = Config {
            queue_size: 0,
            ..ok
        };
        assert!(matches!(no_queue.validate(), Err(Error::InvalidConfig(_))));
        let zero_keep = Config {
            keep_alive: Duration::ZERO,
            ..ok
        };
        assert_eq!(zero_keep.validate(), Ok(()), "keep_alive 0 retires at once");
    }
}
