//! The platform-down verdict: when transient failures dominate, the run
//! stops dispatching instead of burning through the whole list.
//!
//! Two signs, either one enough: [`CONSECUTIVE_LIMIT`] customers in a row
//! failed on transient faults after all their retries, or the retry budget
//! ran dry (see [`crate::retry`]).

use std::sync::atomic::{AtomicU64, Ordering};

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

    /// A customer failed on transient faults. Returns `true` when the
    /// platform now looks down.
    pub fn on_transient_failure(&self) -> bool {
        self.consecutive_transient.fetch_add(1, Ordering::AcqRel) + 1 >= CONSECUTIVE_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_in_a_row_means_down_and_an_answer_resets() {
        let h = Health::default();
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert!(!h.on_transient_failure());
        }
        h.on_answer();
        for _ in 0..CONSECUTIVE_LIMIT - 1 {
            assert!(!h.on_transient_failure());
        }
        assert!(h.on_transient_failure());
    }
}
