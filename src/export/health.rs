//! The platform-down policy, whole: when transient failures dominate, the
//! run stops dispatching instead of burning through the whole list, and the
//! customers the outage caught are left not done (so `--resume` fetches
//! them again) rather than written to the failed file.
//!
//! Two signs, either one enough: [`CONSECUTIVE_LIMIT`] customers in a row
//! failed on transient faults after all their retries, or the retry budget
//! ran dry (see [`crate::pace::retry`]).
//!
//! A wrong address is judged here too: customers in a row failed with one
//! and the same foreign status (3xx, 400, 403, 404 ..., which the platform
//! never answers with) mean the base URL names something that is not the
//! API, and the run stops instead of sending thousands of requests into
//! it. The streak that tells is [`REJECTED_LIMIT`] long, or every customer
//! of a smaller run.
//!
//! The fetch tasks tell [`Health`] what each customer got and are told
//! when to stop; the writer holds the trailing streak of transient
//! failures in [`Suspects`], and commits or drops it as this module says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::outcome::{Failure, FailureKind, StopCause};
use crate::api::StopReason;
use crate::pace::retry::GiveUp;

/// Customers in a row that may fail transiently before the run stops.
pub const CONSECUTIVE_LIMIT: u64 = 50;

/// Customers in a row that may fail with one and the same foreign status
/// before the run stops (fewer in a smaller run: all of them).
pub const REJECTED_LIMIT: u64 = 20;

/// Tracks recent customer outcomes across all tasks.
#[derive(Debug)]
pub struct Health {
    consecutive_transient: AtomicU64,
    /// The status of the current streak of rejections, and its length.
    rejected: Mutex<(u16, u64)>,
    /// The streak of one foreign status that stops the run.
    rejected_limit: u64,
}

impl Health {
    /// The health of a run that fetches `customers` customers: one foreign
    /// status for all of them (or [`REJECTED_LIMIT`] in a row) stops it.
    pub fn new(customers: usize) -> Health {
        Health {
            consecutive_transient: AtomicU64::new(0),
            rejected: Mutex::new((0, 0)),
            rejected_limit: (customers as u64).clamp(1, REJECTED_LIMIT),
        }
    }

    /// A customer's request went through (success or business answer).
    pub fn on_answer(&self) {
        self.consecutive_transient.store(0, Ordering::Release);
        *self.rejected.lock().expect("health lock") = (0, 0);
    }

    /// A customer failed with a foreign status, twice. Returns why the run
    /// must stop when the address now looks wrong.
    pub fn on_rejected(&self, status: u16) -> Option<StopReason> {
        self.consecutive_transient.store(0, Ordering::Release);
        let mut streak = self.rejected.lock().expect("health lock");
        if streak.0 != status {
            *streak = (status, 0);
        }
        streak.1 += 1;
        (streak.1 >= self.rejected_limit).then_some(StopReason::Misdirected {
            status,
            streak: streak.1,
        })
    }

    /// A customer's retries ended for `why`. Returns why the run must stop
    /// when the platform now looks down.
    pub fn on_give_up(&self, why: GiveUp) -> Option<StopReason> {
        let down = match why {
            GiveUp::BudgetExhausted => true,
            GiveUp::RetriesExhausted | GiveUp::RetryAfterTooLong => {
                self.consecutive_transient.fetch_add(1, Ordering::AcqRel) + 1 >= CONSECUTIVE_LIMIT
            }
        };
        down.then_some(StopReason::PlatformDown)
    }
}

/// Most transiently failed customers held back at once (far above the
/// platform-down streak, so only a pathological run reaches it).
const MAX_HELD: usize = 10_000;

/// The trailing streak of customers, in input order, that failed on faults
/// an outage would cause, not committed yet: if the run ends in an outage
/// they are left not done (so `--resume` fetches them again); any other
/// outcome after them, or any other end, commits them to the failed file.
#[derive(Debug, Default)]
pub struct Suspects {
    held: Vec<(usize, Failure)>,
}

impl Suspects {
    /// Hold customer `index`'s failure if it may be an outage's victim;
    /// otherwise (or when the streak is full) it is given back, to be
    /// committed now, after the streak.
    pub fn hold(&mut self, index: usize, failure: Failure) -> Option<(usize, Failure)> {
        if may_be_victim(failure.kind) && self.held.len() < MAX_HELD {
            self.held.push((index, failure));
            None
        } else {
            Some((index, failure))
        }
    }

    /// Customers held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The streak, to be committed, in order.
    pub fn take(&mut self) -> Vec<(usize, Failure)> {
        std::mem::take(&mut self.held)
    }

    /// Hold again, first, what could not be committed.
    pub fn put_back(&mut self, rest: impl IntoIterator<Item = (usize, Failure)>) {
        let later = std::mem::take(&mut self.held);
        self.held.extend(rest);
        self.held.extend(later);
    }

    /// At the run's end (stopped for `stop`): whether the streak is to be
    /// committed (`false`: the outage's victims are left not done).
    pub fn commit_at_end(stop: Option<StopCause>) -> bool {
        !is_outage(stop)
    }

    /// Forget the streak (its customers are not done).
    pub fn clear(&mut self) {
        self.held.clear();
    }
}

/// Whether a failure of this kind may be an outage's victim: such failures
/// are held back in [`Suspects`] until what follows them (or the run's
/// end) tells.
fn may_be_victim(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Transient(_) | FailureKind::RetryAfterTooLong | FailureKind::Http { .. }
    )
}

/// Whether a run that stopped for `cause` ended in an outage (the platform
/// down, or a wrong address): the held failures are then left not done.
fn is_outage(cause: Option<StopCause>) -> bool {
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
        let h = Health::new(1000);
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert_eq!(h.on_give_up(GiveUp::RetriesExhausted), None);
        }
        h.on_answer();
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert_eq!(h.on_give_up(GiveUp::RetryAfterTooLong), None);
        }
        assert_eq!(
            h.on_give_up(GiveUp::RetriesExhausted),
            Some(StopReason::PlatformDown)
        );
    }

    #[test]
    fn twenty_of_one_status_in_a_row_mean_a_wrong_address() {
        let h = Health::new(1000);
        for _ in 0..REJECTED_LIMIT - 1 {
            assert_eq!(h.on_rejected(404), None);
        }
        assert_eq!(
            h.on_rejected(302),
            None,
            "another status starts another streak"
        );
        h.on_answer();
        for _ in 0..REJECTED_LIMIT - 1 {
            assert_eq!(h.on_rejected(400), None);
        }
        let stop = h.on_rejected(400).unwrap();
        assert_eq!(
            stop,
            StopReason::Misdirected {
                status: 400,
                streak: REJECTED_LIMIT
            }
        );
        assert!(stop.message().contains("20 customer(s) in a row"));
    }

    #[test]
    fn a_small_run_is_misdirected_when_every_customer_got_one_status() {
        let h = Health::new(3);
        assert_eq!(h.on_rejected(404), None);
        assert_eq!(h.on_rejected(404), None);
        assert_eq!(
            h.on_rejected(404),
            Some(StopReason::Misdirected {
                status: 404,
                streak: 3
            })
        );
        let h = Health::new(3);
        h.on_rejected(404);
        h.on_answer();
        h.on_rejected(404);
        assert_eq!(h.on_rejected(404), None, "one customer was answered");
    }

    #[test]
    fn an_empty_budget_means_down_at_once() {
        assert!(Health::new(10)
            .on_give_up(GiveUp::BudgetExhausted)
            .is_some());
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
