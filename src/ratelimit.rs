//! The rate limiter shared by every worker: pacing plus adaptive throttling.
//!
//! **Pacing.** Requests take slots on one schedule: slot *k+1* is exactly
//! `1/rate` after slot *k* (or now, if the limiter was idle), so the schedule
//! does not drift and never bursts past the rate in any one-second window,
//! however many tasks call [`RateLimiter::acquire`] at once.
//!
//! **Adaptation (AIMD).** The platform's limit is not published. Without
//! `--rate` the limiter starts unpaced; the first 429 sets the rate to the
//! number of requests the platform accepted in the last second (its limit, as
//! closely as one window can tell). Every further 429 cuts the rate by 15 %
//! (at most once a second, and only for requests sent after the last cut, so
//! one burst of 429s counts once). Each success adds back a little, in three
//! zones around the *ceiling*, the rate that drew the last 429: quickly (a
//! quarter of the ceiling per second) up to 90 % of it; slowly (2 %, at least
//! 0.25 request/s, per second) on the plateau just under it, where the limit
//! probably is; and a bit faster again (5 %, at least 0.5/s, per second) past
//! it, to find a limit that was raised. With `--rate N` the same rules apply
//! under a cap of N.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

/// Multiplicative decrease on a 429.
const DECREASE: f64 = 0.85;
/// Below this share of the ceiling, increase fast.
const FAST_ZONE: f64 = 0.9;
/// Fast additive increase, as a share of the ceiling per second.
const FAST_STEP: f64 = 0.25;
/// Increase near the ceiling (a plateau), as a share of it per second.
const PLATEAU_STEP: f64 = 0.02;
/// Increase past the ceiling (probing for a higher limit), per second.
const PROBE_STEP: f64 = 0.05;
/// Floors of the steps, requests per second per second.
const MIN_FAST_STEP: f64 = 1.0;
const MIN_PLATEAU_STEP: f64 = 0.25;
const MIN_PROBE_STEP: f64 = 0.5;
/// The slowest the limiter ever paces.
const MIN_RATE: f64 = 0.2;
/// Shortest time between two cuts: the platform's limit window.
const CUT_SPACING: Duration = Duration::from_secs(1);
const WINDOW: Duration = Duration::from_secs(1);

/// Proof that a request may go; remembers when it was sent.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    pub sent_at: Instant,
}

#[derive(Debug)]
struct State {
    /// Pacing rate; `None` = unpaced (no cap and no 429 yet).
    rate: Option<f64>,
    /// The rate that drew the last 429.
    ceiling: Option<f64>,
    /// Next free slot.
    next: Instant,
    last_cut: Option<Instant>,
    /// Until when the first estimate of the limit may still rise: answers
    /// to the burst that found it come back out of order, so at the first
    /// 429 not all the accepted ones have been counted yet.
    discovering_until: Option<Instant>,
    /// Times of accepted answers in the last second.
    accepted: VecDeque<Instant>,
    /// Tasks currently waiting for a slot, and since when one has been.
    waiting: usize,
    waiting_since: Option<Instant>,
    throttled: Duration,
    cuts: u64,
}

/// One limiter per run, shared by all tasks.
#[derive(Debug)]
pub struct RateLimiter {
    cap: Option<f64>,
    state: Mutex<State>,
}

impl RateLimiter {
    /// A limiter paced at `cap` requests per second, or unpaced until the
    /// first 429 when `cap` is `None`.
    pub fn new(cap: Option<f64>) -> Self {
        RateLimiter {
            cap,
            state: Mutex::new(State {
                rate: cap,
                ceiling: None,
                next: Instant::now(),
                last_cut: None,
                discovering_until: None,
                accepted: VecDeque::new(),
                waiting: 0,
                waiting_since: None,
                throttled: Duration::ZERO,
                cuts: 0,
            }),
        }
    }

    /// Wait for this request's slot.
    pub async fn acquire(&self) -> Ticket {
        let now = Instant::now();
        let slot = {
            let mut s = self.state.lock().expect("limiter lock");
            match s.rate {
                None => now,
                Some(rate) => {
                    let slot = s.next.max(now);
                    s.next = slot + Duration::from_secs_f64(1.0 / rate);
                    if slot > now {
                        s.waiting += 1;
                        if s.waiting == 1 {
                            s.waiting_since = Some(now);
                        }
                    }
                    slot
                }
            }
        };
        if slot > now {
            let _guard = WaitGuard(self);
            sleep_until(slot).await;
        }
        Ticket { sent_at: slot }
    }

    /// The platform accepted a request (any answer but 429).
    pub fn on_success(&self, _ticket: &Ticket) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("limiter lock");
        s.accepted.push_back(now);
        while s.accepted.front().is_some_and(|t| now - *t > WINDOW) {
            s.accepted.pop_front();
        }
        if s.discovering_until.is_some_and(|until| now < until) {
            let accepted = s.accepted.len() as f64;
            if s.rate.is_some_and(|r| r < accepted) {
                s.rate = Some(accepted);
                s.ceiling = Some(accepted);
            }
            return;
        }
        if let Some(rate) = s.rate {
            let ceiling = s.ceiling.unwrap_or(rate);
            let step = if rate < FAST_ZONE * ceiling {
                (FAST_STEP * ceiling).max(MIN_FAST_STEP)
            } else if rate < ceiling {
                (PLATEAU_STEP * ceiling).max(MIN_PLATEAU_STEP)
            } else {
                (PROBE_STEP * ceiling).max(MIN_PROBE_STEP)
            };
            // `rate` successes a second each add step/rate: +step per second.
            let mut new = rate + step / rate;
            if let Some(cap) = self.cap {
                new = new.min(cap);
            }
            s.rate = Some(new);
        }
    }

    /// The platform answered 429 to the request holding `ticket`.
    pub fn on_throttled(&self, ticket: &Ticket) {
        let now = Instant::now();
        let mut s = self.state.lock().expect("limiter lock");
        if let Some(last) = s.last_cut {
            if ticket.sent_at < last || now - last < CUT_SPACING {
                return;
            }
        }
        while s.accepted.front().is_some_and(|t| now - *t > WINDOW) {
            s.accepted.pop_front();
        }
        let accepted = (s.accepted.len() as f64).max(1.0);
        if s.rate.is_none() {
            // Discovery: the burst that found the limit has used up the
            // platform's current window; sending more before it ends only
            // draws more 429s.
            s.next = s.next.max(now + WINDOW);
            s.discovering_until = Some(now + WINDOW);
        }
        let new = match s.rate {
            None => accepted,
            Some(rate) => rate.min(accepted.max(rate * DECREASE)) * DECREASE,
        }
        // Never below the floor, nor above a cap set under it.
        .max(self.cap.map_or(MIN_RATE, |cap| cap.min(MIN_RATE)));
        s.ceiling = Some(s.rate.unwrap_or(accepted));
        s.rate = Some(new);
        s.last_cut = Some(now);
        s.cuts += 1;
        // Slots already handed out keep their times; new ones follow the
        // last of them at the new, slower pace.
        tracing::debug!(rate = new, "rate limited by the platform: slowing down");
    }

    /// The rate the limiter paces at now (`None` = unpaced).
    pub fn current_rate(&self) -> Option<f64> {
        self.state.lock().expect("limiter lock").rate
    }

    /// Wall-clock time during which at least one request waited for a slot.
    pub fn throttled(&self) -> Duration {
        let s = self.state.lock().expect("limiter lock");
        s.throttled + s.waiting_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// How many times a 429 cut the rate.
    pub fn cuts(&self) -> u64 {
        self.state.lock().expect("limiter lock").cuts
    }
}

/// Ends a wait for a slot, even when the waiting future is dropped.
struct WaitGuard<'a>(&'a RateLimiter);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("limiter lock");
        s.waiting -= 1;
        if s.waiting == 0 {
            if let Some(since) = s.waiting_since.take() {
                s.throttled += since.elapsed();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Slot times of `n` acquisitions made by `tasks` concurrent tasks.
    async fn slots(limiter: Arc<RateLimiter>, tasks: usize, n: usize) -> Vec<Instant> {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let limiter = limiter.clone();
            let per = n / tasks + usize::from(t < n % tasks);
            handles.push(tokio::spawn(async move {
                let mut v = Vec::new();
                for _ in 0..per {
                    v.push(limiter.acquire().await.sent_at);
                }
                v
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort();
        all
    }

    fn max_in_any_second(times: &[Instant]) -> usize {
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..times.len() {
            while times[hi] - times[lo] >= WINDOW {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_does_not_drift_or_burst() {
        let limiter = Arc::new(RateLimiter::new(Some(50.0)));
        let start = Instant::now();
        let times = slots(limiter.clone(), 64, 500).await;
        assert_eq!(times.len(), 500);
        assert!(max_in_any_second(&times) <= 50);
        // 500 slots at 50/s: the last is 9.98 s after the first, no drift.
        let span = *times.last().unwrap() - start;
        assert!(
            span >= Duration::from_millis(9_970) && span <= Duration::from_millis(9_990),
            "{span:?}"
        );
        assert!(limiter.throttled() >= Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn fractional_rates_are_paced() {
        let limiter = Arc::new(RateLimiter::new(Some(0.5)));
        let start = Instant::now();
        let times = slots(limiter, 3, 4).await;
        assert_eq!(*times.last().unwrap() - start, Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_never_lifts_the_rate_above_a_cap_below_the_floor() {
        let limiter = RateLimiter::new(Some(0.05));
        let t = limiter.acquire().await;
        limiter.on_throttled(&t);
        let rate = limiter.current_rate().unwrap();
        assert!(rate <= 0.05, "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn first_429_sets_the_rate_to_what_was_accepted() {
        let limiter = RateLimiter::new(None);
        assert_eq!(limiter.current_rate(), None);
        for _ in 0..20 {
            let t = limiter.acquire().await;
            limiter.on_success(&t);
        }
        let t = limiter.acquire().await;
        limiter.on_throttled(&t);
        let rate = limiter.current_rate().unwrap();
        // 20 accepted; the 20 successes nudged nothing since it was unpaced.
        assert!((rate - 20.0).abs() < 1e-9, "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_429s_cuts_once_and_success_recovers_slowly() {
        let limiter = RateLimiter::new(Some(100.0));
        let tickets: Vec<_> = futures_lite_join(&limiter, 10).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        for t in &tickets {
            limiter.on_throttled(t);
        }
        assert_eq!(limiter.cuts(), 1);
        let cut = limiter.current_rate().unwrap();
        assert!(cut <= 85.0, "{cut}");
        // A second of successes at the new rate adds about one slow step (2/s).
        let n = cut.round() as usize;
        for _ in 0..n {
            let t = limiter.acquire().await;
            limiter.on_success(&t);
        }
        let after = limiter.current_rate().unwrap();
        assert!(after > cut && after < cut + 30.0, "{cut} -> {after}");
        // Never above the cap.
        for _ in 0..5000 {
            let t = limiter.acquire().await;
            limiter.on_success(&t);
        }
        assert_eq!(limiter.current_rate(), Some(100.0));
    }

    async fn futures_lite_join(limiter: &RateLimiter, n: usize) -> Vec<Ticket> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(limiter.acquire().await);
        }
        v
    }
}
