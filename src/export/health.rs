//! The platform-down policy, whole: when transient failures dominate, the
//! run stops dispatching instead of burning through the whole list, and the
//! customers the outage caught are left not done (so `--resume` fetches
//! them again) rather than written to the failed file.
//!
//! Two signs, either one enough: [`CONSECUTIVE_LIMIT`] customers in a row
//! failed on transient faults after all their retries, or the retry budget
//! ran dry (see [`crate::retry`]).
//!
//! A wrong address is judged here too: [`REJECTED_LIMIT`] customers in a
//! row answered with one and the same 3xx, 403 or 404 mean the base URL
//! names something that is not the API, and the run stops instead of
//! sending thousands of requests into it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::outcome::{FailureKind, StopCause};
use crate::api::StopReason;
use crate::retry::GiveUp;

/// Customers in a row that may fail transiently before the run stops.
pub const CONSECUTIVE_LIMIT: u64 = 50;

/// Customers in a row that may get one and the same 3xx, 403 or 404
/// before the run stops.
pub const REJECTED_LIMIT: u64 = 20;

/// Tracks recent customer outcomes across all tasks.
#[derive(Debug, Default)]
pub struct Health {
    consecutive_transient: AtomicU64,
    /// The status of the current streak of rejections, and its length.
    rejected: Mutex<(u16, u64)>,
}

impl Health {
    /// A customer's request went through (success or business answer).
    pub fn on_answer(&self) {
        self.consecutive_transient.store(0, Ordering::Release);
        *self.rejected.lock().expect("health lock") = (0, 0);
    }

    /// A customer was answered with a status that is not retried. Returns
    /// `true` when the address now looks wrong.
    pub fn on_rejected(&self, status: u16) -> bool {
        self.consecutive_transient.store(0, Ordering::Release);
        let mut streak = self.rejected.lock().expect("health lock");
        let telling = (300..400).contains(&status) || status == 403 || status == 404;
        if !telling {
            *streak = (0, 0);
            return false;
        }
        if streak.0 != status {
            *streak = (status, 0);
        }
        streak.1 += 1;
        streak.1 >= REJECTED_LIMIT
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
        FailureKind::Transient(_) | FailureKind::RetryAfterTooLong | FailureKind::Http { .. }
    )
}

/// Whether a run that stopped for `cause` ended in an outage (the platform
/// down, or a wrong address): the held failures are then left not done.
pub fn is_outage(cause: Option<StopCause>) -> bool {
    matches!(
        cause,
        Some(StopCause::Api(
            StopReason::PlatformDown | StopReason::Misdirected { .. }
        ))
    )
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
    fn twenty_of_one_status_in_a_row_mean_a_wrong_address() {
        let h = Health::default();
        for _ in 0..REJECTED_LIMIT - 1 {
            assert!(!h.on_rejected(404));
        }
        assert!(!h.on_rejected(302), "another status starts another streak");
        h.on_answer();
        for _ in 0..REJECTED_LIMIT - 1 {
            assert!(!h.on_rejected(404));
        }
        assert!(h.on_rejected(404));
        for _ in 0..3 * REJECTED_LIMIT {
            assert!(!h.on_rejected(400), "a 400 says nothing of the address");
        }
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
