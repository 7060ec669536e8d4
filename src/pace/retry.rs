//! The retry policy: when to retry a transient fault, how long to wait, and
//! the per-run budget that stops a sick platform from being flooded.
//!
//! - **Backoff**: full-jitter exponential, base 1 s, cap 20 s (the AWS SDK's
//!   standard mode); a `Retry-After` is honoured, up to `max_retry_after`.
//! - **No backoff** for a 429 without `Retry-After` (the shared
//!   [rate limiter](crate::pace::ratelimit) paces the retry) nor for a
//!   status the platform does not answer with (asked again at once).
//! - **Allowances**: [`THROTTLED_PER_RETRY`] times `--retries` for 429s,
//!   `--retries` for other faults, one retry for a `Code` or a status nobody
//!   classified.
//! - **A retry budget** of 500 tokens per run (5 a retry, 10 after a
//!   timeout, refunded on success): a platform that fails most requests
//!   drains it after about 100 retries and the run stops (see
//!   [`crate::export::health`]).
//!
//! The reasons behind each number are in docs/limits.md ("Rate limits and
//! retries").

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::Rng;

use crate::api::Cause;

/// 429s a customer may draw per retry `--retries` allows (see the module
/// notes): 4, so the default `--retries 5` allows 20.
pub const THROTTLED_PER_RETRY: u32 = 4;

/// How a run retries. Defaults are the documented numbers above.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries of one customer after transient faults other than a 429
    /// (`--retries`); 429s are allowed [`THROTTLED_PER_RETRY`] times this.
    pub max_retries: u32,
    /// First backoff step (`--retry-base`).
    pub base: Duration,
    /// Longest backoff step (`--retry-cap`).
    pub cap: Duration,
    /// Longest `Retry-After` the run will honour (`--max-retry-after`).
    pub max_retry_after: Duration,
    /// Size of the per-run retry budget, in tokens.
    pub budget: u32,
    /// Tokens one retry costs.
    pub retry_cost: u32,
    /// Tokens one retry after a timeout costs.
    pub timeout_cost: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            budget: 500,
            retry_cost: 5,
            timeout_cost: 10,
        }
    }
}

/// What to do after a transient fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Do not retry; the reason goes to the failed file.
    GiveUp(GiveUp),
}

/// Why a customer is not retried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUp {
    /// `--retries` retries were made (four times that, of 429s).
    RetriesExhausted,
    /// The platform asked to wait longer than `--max-retry-after`.
    RetryAfterTooLong,
    /// The run's retry budget is empty.
    BudgetExhausted,
}

impl RetryPolicy {
    /// The full-jitter wait before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.cap)
            .as_secs_f64();
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling))
    }

    /// Retries one customer may make after faults of `cause`: `--retries`;
    /// [`THROTTLED_PER_RETRY`] times it after 429s (in the status or the
    /// envelope); one after a `Code` nobody has classified or a foreign
    /// HTTP status.
    pub fn max_retries_for(&self, cause: Cause) -> u32 {
        match cause {
            c if c.is_throttle() => self.max_retries.saturating_mul(THROTTLED_PER_RETRY),
            Cause::CodeUnknown | Cause::HttpStatus => self.max_retries.min(1),
            _ => self.max_retries,
        }
    }

    /// Decide on retry number `retry` (1-based, counted among the
    /// customer's retries of `cause`'s kind: 429s, or the other faults)
    /// after a fault of `cause`, paying its cost from `budget`.
    pub fn decide(
        &self,
        retry: u32,
        cause: Cause,
        retry_after: Option<Duration>,
        budget: &RetryBudget,
        rng: &mut impl Rng,
    ) -> Decision {
        if retry > self.max_retries_for(cause) {
            return Decision::GiveUp(GiveUp::RetriesExhausted);
        }
        if let Some(wait) = retry_after {
            if wait > self.max_retry_after {
                return Decision::GiveUp(GiveUp::RetryAfterTooLong);
            }
        }
        let cost = if cause == Cause::Timeout {
            self.timeout_cost
        } else {
            self.retry_cost
        };
        if !budget.try_spend(cost) {
            return Decision::GiveUp(GiveUp::BudgetExhausted);
        }
        let wait = match (retry_after, cause) {
            (Some(wait), _) => wait,
            // The shared limiter has cut its pace on this 429 and paces
            // every request, retries included: the retry waits for its
            // next slot and for nothing more.
            (None, c) if c.is_throttle() => Duration::ZERO,
            // A status that is not the platform's is asked again at once
            // (through the limiter): a wrong address is told in two
            // requests per customer, not after a backoff during which the
            // run dispatches more customers into it.
            (None, Cause::HttpStatus) => Duration::ZERO,
            (None, _) => self.backoff(retry, rng),
        };
        Decision::Retry(wait)
    }

    /// Tokens a retry after `cause` costs (refunded on eventual success).
    pub fn cost(&self, cause: Cause) -> u32 {
        if cause == Cause::Timeout {
            self.timeout_cost
        } else {
            self.retry_cost
        }
    }
}

/// The per-run token bucket that pays for retries. Shared by all workers.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: AtomicU32,
    capacity: u32,
}

impl RetryBudget {
    pub fn new(capacity: u32) -> Self {
        RetryBudget {
            tokens: AtomicU32::new(capacity),
            capacity,
        }
    }

    /// Take `cost` tokens if there are that many.
    pub fn try_spend(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// A request succeeded after retries that cost `spent` tokens (0 for a
    /// first-try success, which earns one token).
    pub fn on_success(&self, spent: u32) {
        let gain = if spent == 0 { 1 } else { spent };
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(gain).min(self.capacity))
            });
    }

    /// Tokens left.
    pub fn remaining(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }

    pub fn is_empty_for(&self, cost: u32) -> bool {
        self.remaining() < cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_cap() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=8u32 {
            let ceiling = Duration::from_secs(1 << (retry - 1)).min(p.cap);
            let waits: Vec<_> = (0..500).map(|_| p.backoff(retry, &mut rng)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling), "retry {retry}");
            let mean = waits.iter().map(Duration::as_secs_f64).sum::<f64>() / 500.0;
            let half = ceiling.as_secs_f64() / 2.0;
            assert!(
                (mean - half).abs() < half * 0.15,
                "retry {retry}: mean {mean}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_maximum() {
        let p = RetryPolicy::default();
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        let d = p.decide(
            1,
            Cause::RateLimited,
            Some(Duration::from_secs(7)),
            &budget,
            &mut rng,
        );
        assert_eq!(d, Decision::Retry(Duration::from_secs(7)));
        let d = p.decide(
            1,
            Cause::RateLimited,
            Some(Duration::from_secs(3600)),
            &budget,
            &mut rng,
        );
        assert_eq!(d, Decision::GiveUp(GiveUp::RetryAfterTooLong));
    }

    #[test]
    fn a_429_without_retry_after_waits_only_for_the_limiter() {
        let p = RetryPolicy::default();
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        let allowed = p.max_retries * THROTTLED_PER_RETRY;
        assert_eq!(p.max_retries_for(Cause::RateLimited), allowed);
        for retry in 1..=allowed {
            let d = p.decide(retry, Cause::RateLimited, None, &budget, &mut rng);
            assert_eq!(d, Decision::Retry(Duration::ZERO), "retry {retry}");
        }
        // It still has a bound, and it pays the budget.
        assert_eq!(
            p.decide(allowed + 1, Cause::RateLimited, None, &budget, &mut rng),
            Decision::GiveUp(GiveUp::RetriesExhausted)
        );
        assert_eq!(budget.remaining(), 500 - allowed * p.retry_cost);
    }

    #[test]
    fn retries_zero_means_no_retry_of_a_429_either() {
        let p = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        for cause in [Cause::RateLimited, Cause::Server] {
            assert_eq!(
                p.decide(1, cause, None, &budget, &mut rng),
                Decision::GiveUp(GiveUp::RetriesExhausted),
                "{cause:?}"
            );
        }
    }

    #[test]
    fn envelope_throttles_count_as_429s_and_unknown_codes_get_one_retry() {
        let p = RetryPolicy::default();
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            p.max_retries_for(Cause::CodeThrottled),
            p.max_retries_for(Cause::RateLimited)
        );
        assert_eq!(
            p.decide(1, Cause::CodeThrottled, None, &budget, &mut rng),
            Decision::Retry(Duration::ZERO)
        );
        assert_eq!(p.max_retries_for(Cause::CodeTransient), p.max_retries);
        assert!(matches!(
            p.decide(1, Cause::CodeUnknown, None, &budget, &mut rng),
            Decision::Retry(_)
        ));
        assert_eq!(
            p.decide(2, Cause::CodeUnknown, None, &budget, &mut rng),
            Decision::GiveUp(GiveUp::RetriesExhausted)
        );
        let none = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(none.max_retries_for(Cause::CodeUnknown), 0);
    }

    #[test]
    fn retries_stop_after_the_limit() {
        let p = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            p.decide(2, Cause::Server, None, &budget, &mut rng),
            Decision::Retry(_)
        ));
        assert_eq!(
            p.decide(3, Cause::Server, None, &budget, &mut rng),
            Decision::GiveUp(GiveUp::RetriesExhausted)
        );
    }

    #[test]
    fn budget_empties_and_refills() {
        let p = RetryPolicy::default();
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(1);
        let mut granted = 0;
        while let Decision::Retry(_) = p.decide(1, Cause::Server, None, &budget, &mut rng) {
            granted += 1;
        }
        assert_eq!(granted, 100, "500 tokens at 5 a retry");
        assert!(budget.is_empty_for(5));
        // Timeouts cost double.
        budget.on_success(20);
        assert_eq!(budget.remaining(), 20);
        let mut timeouts = 0;
        while let Decision::Retry(_) = p.decide(1, Cause::Timeout, None, &budget, &mut rng) {
            timeouts += 1;
        }
        assert_eq!(timeouts, 2);
        // First-try successes earn a token each, never past the capacity.
        for _ in 0..1000 {
            budget.on_success(0);
        }
        assert_eq!(budget.remaining(), 500);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_add_up_on_a_paused_clock() {
        let p = RetryPolicy::default();
        let budget = RetryBudget::new(500);
        let mut rng = StdRng::seed_from_u64(3);
        let start = tokio::time::Instant::now();
        let mut expected_max = Duration::ZERO;
        let mut retry = 1;
        while let Decision::Retry(wait) = p.decide(retry, Cause::Server, None, &budget, &mut rng) {
            expected_max += Duration::from_secs(1 << (retry - 1)).min(p.cap);
            tokio::time::sleep(wait).await;
            retry += 1;
        }
        assert_eq!(retry, 6, "five retries, then give up");
        let waited = start.elapsed();
        assert!(waited <= expected_max, "{waited:?} > {expected_max:?}");
        assert!(waited > Duration::ZERO);
    }
}
