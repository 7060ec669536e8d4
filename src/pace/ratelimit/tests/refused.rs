//! A 429 right after a cut, through the limiter's own interface on a
//! paused clock.

use super::*;

/// The gap between a 429 to the request after a cut at the estimate and
/// the next request, in slots of the pace after it, with or without an
/// accepted answer in between: two seconds at 10/s (a cap), then the
/// cut.
async fn gap_after_a_second_429(accepted_between: bool) -> f64 {
    let limiter = RateLimiter::new(Some(10.0));
    for _ in 0..20 {
        let t = limiter.acquire().await;
        limiter.on_success(&t);
    }
    let t = limiter.acquire().await;
    limiter.on_throttled(&t);
    if accepted_between {
        let t = limiter.acquire().await;
        limiter.on_success(&t);
    }
    let refused = limiter.acquire().await;
    limiter.on_throttled(&refused);
    let rate = limiter.current_rate().unwrap();
    let next = limiter.acquire().await;
    (next.sent_at - refused.sent_at).as_secs_f64() * rate
}

/// A 429 right after a cut at the estimate, with nothing accepted since,
/// says the platform refuses whatever comes now: the schedule pauses for
/// two slots. One after an accepted answer is a cut like any other.
#[tokio::test(start_paused = true)]
async fn a_429_right_after_a_cut_pauses_the_schedule() {
    let refused_again = gap_after_a_second_429(false).await;
    let accepted_between = gap_after_a_second_429(true).await;
    // Two slots, to the rounding of a duration's nanoseconds.
    assert!(refused_again >= 1.99, "{refused_again}");
    assert!(accepted_between < 2.0, "{accepted_between}");
}
