//! The platform-down policy, whole: when transient failures dominate, the
//! run stops dispatching instead of burning through the whole list, and the
//! customers the outage caught are left not done (so `--resume` fetches
//! them again) rather than written to the failed file.
//!
//! Two signs, either one enough: [`CONSECUTIVE_LIMIT`] customers in a row
//! failed on transient faults after all their retries, or the retry budget
//! ran dry (see [`crate::retry`]).

use std::sync::atomic::{AtomicU64, Ordering};

use super::outcome::{FailureKind, StopCause};
use crate::api::StopReason;
use crate::retry::GiveUp;

/// Customers in a row that may fail transiently before the run stops.
pub const CONSECUTIVE_LIMIT: u64 = 50;

/// Tracks recent customer outcomes across all tasks.
#[derive(Debug, Default)]
pub struct Health {
    consecutive_transient: AtomicU64,
}

impl Health {
    /// A customer's request went through (success or business answer).
    pub fn on_answer(&self) {
        self.consecutive_transient.store(0, Ordering::Release);
    }

    /// A customer's retries ended for `why`. Returns `true` when the
    /// platform now looks down.
    pub fn on_give_up(&self, why: GiveUp) -> bool {
        match why {
            GiveUp::BudgetExhausted => true,
            GiveUp::RetriesExhausted | GiveUp::RetryAfterTooLong => {
                self.consecutive_transient.fetch_add(1, Ordering::AcqRel) + 1 >= CONSECUTIVE_LIMIT
            }
        }
    }
}

/// Whether a failure of this kind may be an outage's victim: the writer
/// holds such failures back until what follows them (or the run's end)
/// tells.
pub fn may_be_victim(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Transient(_) | FailureKind::RetryAfterTooLong
    )
}

/// Whether a run that stopped for `cause` ended in an outage: the held
/// failures are then left not done.
pub fn is_outage(cause: Option<StopCause>) -> bool {
    cause == Some(StopCause::Api(StopReason::PlatformDown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Cause;

    #[test]
    fn fifty_in_a_row_means_down_and_an_answer_resets() {
        let h = Health::default();
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert!(!h.on_give_up(GiveUp::RetriesExhausted));
        }
        h.on_answer();
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert!(!h.on_give_up(GiveUp::RetryAfterTooLong));
        }
        assert!(h.on_give_up(GiveUp::RetriesExhausted));
    }

    #[test]
    fn an_empty_budget_means_down_at_once() {
        assert!(Health::default().on_give_up(GiveUp::BudgetExhausted));
    }

    #[test]
    fn only_transient_failures_of_an_outage_are_victims() {
        assert!(may_be_victim(FailureKind::Transient(Cause::Server)));
        assert!(!may_be_victim(FailureKind::Api));
        assert!(is_outage(Some(StopCause::Api(StopReason::PlatformDown))));
        assert!(!is_outage(Some(StopCause::Api(StopReason::BadKey))));
        assert!(!is_outage(None));
    }
}
