//! The pure rules of `context` (host-tested): what a new deadline does
//! under its parent's (Go: `WithDeadlineCause`'s first lines), and the
//! error a context reports.

/// Go: `context.Canceled` and `context.DeadlineExceeded`: why a context is
/// done (`err()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextError {
    /// Go: `context.Canceled`: its cancel function was called (or an
    /// ancestor's).
    Canceled,
    /// Go: `context.DeadlineExceeded`: its deadline (or an ancestor's)
    /// passed.
    DeadlineExceeded,
}

impl core::fmt::Display for ContextError {
    /// Go's `Error()` strings.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

// Used by the kernel's context nodes (not built on the host but for tests).
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
impl ContextError {
    /// The error as a byte (the lock-free copy a context keeps; 0: none).
    pub(crate) fn to_u8(e: Option<ContextError>) -> u8 {
        match e {
            None => 0,
            Some(ContextError::Canceled) => 1,
            Some(ContextError::DeadlineExceeded) => 2,
        }
    }

    /// The inverse of [`to_u8`](Self::to_u8).
    pub(crate) fn from_u8(v: u8) -> Option<ContextError> {
        match v {
            1 => Some(ContextError::Canceled),
            2 => Some(ContextError::DeadlineExceeded),
            _ => None,
        }
    }
}

/// What `with_deadline(parent, want)` makes, at `now` (ns since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlinePlan {
    /// The parent's deadline is no later: the child is a plain cancel
    /// context (its deadline is the parent's; Go: "the current deadline is
    /// already sooner than the new one").
    FollowParent,
    /// The deadline has passed: the child is born done with
    /// `DeadlineExceeded`.
    Expired,
    /// A timer cancels the child this many ns from now.
    Timer(u64),
}

/// Go: the start of `WithDeadlineCause`.
pub fn plan_deadline(parent: Option<u64>, want: u64, now: u64) -> DeadlinePlan {
    if parent.is_some_and(|p| p <= want) {
        return DeadlinePlan::FollowParent;
    }
    if want <= now {
        return DeadlinePlan::Expired;
    }
    DeadlinePlan::Timer(want - now)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn earlier_parent_deadline_wins() {
        assert_eq!(plan_deadline(Some(100), 200, 0), DeadlinePlan::FollowParent);
        assert_eq!(plan_deadline(Some(100), 100, 0), DeadlinePlan::FollowParent);
    }

    #[test]
    fn later_or_no_parent_deadline_gets_a_timer() {
        assert_eq!(plan_deadline(Some(300), 200, 50), DeadlinePlan::Timer(150));
        assert_eq!(plan_deadline(None, 200, 50), DeadlinePlan::Timer(150));
    }

    #[test]
    fn past_deadline_is_born_expired() {
        assert_eq!(plan_deadline(None, 50, 50), DeadlinePlan::Expired);
        assert_eq!(plan_deadline(Some(u64::MAX), 10, 50), DeadlinePlan::Expired);
    }

    #[test]
    fn errors_print_go_strings_and_round_trip() {
        assert_eq!(
            alloc::format!("{}", ContextError::Canceled),
            "context canceled"
        );
        assert_eq!(
            alloc::format!("{}", ContextError::DeadlineExceeded),
            "context deadline exceeded"
        );
        for e in [
            None,
            Some(ContextError::Canceled),
            Some(ContextError::DeadlineExceeded),
        ] {
            assert_eq!(ContextError::from_u8(ContextError::to_u8(e)), e);
        }
    }
}
