//! The simulated platform's per-key rate limiter: the designs a gateway
//! plausibly runs, since the real one is not documented.
//!
//! A [`Gate`] decides, request by request, whether the key is over its
//! limit. It is a plain state machine over [`tokio::time::Instant`], so the
//! same code serves the HTTP simulator (real time) and the client limiter's
//! unit tests (a paused clock).
//!
//! - [`Model::Fixed`]: counts in one-second windows aligned to wall-clock
//!   seconds; a run starts at a random point of its first window.
//! - [`Model::FixedFromFirst`]: one-second windows starting at the first
//!   request, so a run's first window is a whole second.
//! - [`Model::Sliding`]: at most `limit` accepted requests in any trailing
//!   second.
//! - [`Model::Bucket`]: a token bucket refilled at `limit` per second that
//!   holds at most `burst` tokens and starts full.
//!
//! The limit itself may follow a [schedule](RateLimit::schedule), in time
//! since the first request: another client of the same key taking part of
//! it for a while.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// How the platform counts requests against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Model {
    /// Fixed one-second windows aligned to wall-clock seconds.
    #[default]
    Fixed,
    /// Fixed one-second windows, the first starting at the first request.
    FixedFromFirst,
    /// A sliding one-second window over accepted requests.
    Sliding,
    /// A token bucket with a burst size.
    Bucket,
}

impl Model {
    /// Every model, for tests and benches that run them all.
    pub const ALL: [Model; 4] = [
        Model::Fixed,
        Model::FixedFromFirst,
        Model::Sliding,
        Model::Bucket,
    ];

    /// The name `mock --rate-limit-model` takes.
    pub fn name(self) -> &'static str {
        match self {
            Model::Fixed => "fixed",
            Model::FixedFromFirst => "fixed-from-first",
            Model::Sliding => "sliding",
            Model::Bucket => "bucket",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One step of a schedule: from `at` (since the first request) the limit
/// is `limit` requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// When the step starts, counted from the first request.
    pub at: Duration,
    /// Requests per second from then on.
    pub limit: u32,
}

/// A schedule of limits, written `5s=8,12s=20` (from 5 s on 8/s, from 12 s
/// on 20/s; before the first step the base limit holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule(pub Vec<Step>);

impl FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut steps = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (at, limit) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected OFFSET=LIMIT, such as 5s=8"))?;
            let at = humantime::parse_duration(at.trim())
                .map_err(|e| format!("{part:?}: {e} (expected an offset such as 5s)"))?;
            let limit = limit
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the limit must be a whole number"))?;
            steps.push(Step { at, limit });
        }
        if steps.windows(2).any(|w| w[0].at >= w[1].at) {
            return Err("schedule offsets must increase".into());
        }
        Ok(Schedule(steps))
    }
}

/// A complete description of the platform's limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Requests per second (before the schedule's first step).
    pub limit: u32,
    /// How requests are counted.
    pub model: Model,
    /// Tokens the bucket holds ([`Model::Bucket`] only).
    pub burst: u32,
    /// Changes of the limit over time.
    pub schedule: Schedule,
}

impl RateLimit {
    /// A limit of `limit` per second counted by `model`, burst = limit.
    pub fn new(limit: u32, model: Model) -> Self {
        RateLimit {
            limit,
            model,
            burst: limit,
            schedule: Schedule::default(),
        }
    }

    /// The limit `since` after the first request.
    pub fn limit_at(&self, since: Duration) -> u32 {
        self.schedule
            .0
            .iter()
            .rev()
            .find(|s| s.at <= since)
            .map_or(self.limit, |s| s.limit)
    }

    /// Requests this limit lets through in the first `span` of a run that
    /// always has one waiting: the ideal a client is measured against.
    pub fn allowance(&self, span: Duration) -> f64 {
        let mut total = if self.model == Model::Bucket {
            f64::from(self.burst)
        } else {
            0.0
        };
        let mut from = Duration::ZERO;
        let mut limit = self.limit;
        for step in self.schedule.0.iter().filter(|s| s.at < span) {
            total += f64::from(limit) * (step.at - from).as_secs_f64();
            from = step.at;
            limit = step.limit;
        }
        total + f64::from(limit) * (span - from).as_secs_f64()
    }

    /// How long a run of `n` requests takes at best under this limit.
    pub fn ideal(&self, n: u64) -> Duration {
        // The allowance only grows: bisect on it.
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        while self.allowance(Duration::from_secs_f64(hi)) < n as f64 {
            hi *= 2.0;
        }
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.allowance(Duration::from_secs_f64(mid)) < n as f64 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Duration::from_secs_f64(hi)
    }
}

/// The limiter's state for one key.
#[derive(Debug)]
pub struct Gate {
    spec: RateLimit,
    /// The start of a wall-clock second, for [`Model::Fixed`].
    wall_origin: Instant,
    /// When the first request came.
    first: Option<Instant>,
    /// Index and count of the current fixed window.
    window: (u64, u32),
    /// Times of the accepted requests of the last second (sliding window).
    accepted: VecDeque<Instant>,
    /// Tokens in the bucket, and when it was last refilled.
    tokens: f64,
    refilled: Option<Instant>,
}

impl Gate {
    /// A gate whose wall-clock seconds start at `wall_origin` (and every
    /// whole second after it).
    pub fn new(spec: RateLimit, wall_origin: Instant) -> Self {
        Gate {
            tokens: f64::from(spec.burst),
            spec,
            wall_origin,
            first: None,
            window: (u64::MAX, 0),
            accepted: VecDeque::new(),
            refilled: None,
        }
    }

    /// A gate aligned to the real wall clock.
    pub fn wall_clock(spec: RateLimit) -> Self {
        let into_second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let now = Instant::now();
        let origin = now
            .checked_sub(Duration::from_nanos(u64::from(into_second)))
            .unwrap_or(now);
        Gate::new(spec, origin)
    }

    /// Whether a request arriving at `now` is within the limit (and, if it
    /// is, count it).
    pub fn admit(&mut self, now: Instant) -> bool {
        let first = *self.first.get_or_insert(now);
        let limit = self.spec.limit_at(now.saturating_duration_since(first));
        match self.spec.model {
            Model::Fixed | Model::FixedFromFirst => {
                let origin = if self.spec.model == Model::Fixed {
                    self.wall_origin
                } else {
                    first
                };
                let index = now.saturating_duration_since(origin).as_secs();
                if self.window.0 != index {
                    self.window = (index, 0);
                }
                if self.window.1 >= limit {
                    return false;
                }
                self.window.1 += 1;
                true
            }
            Model::Sliding => {
                while self
                    .accepted
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
                {
                    self.accepted.pop_front();
                }
                if self.accepted.len() >= limit as usize {
                    return false;
                }
                self.accepted.push_back(now);
                true
            }
            Model::Bucket => {
                let since = self.refilled.map_or(Duration::ZERO, |t| now - t);
                self.refilled = Some(now);
                self.tokens = (self.tokens + since.as_secs_f64() * f64::from(limit))
                    .min(f64::from(self.spec.burst));
                if self.tokens < 1.0 {
                    return false;
                }
                self.tokens -= 1.0;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offer one request every `every` for `span`; the times accepted.
    fn offer(gate: &mut Gate, start: Instant, every: Duration, span: Duration) -> Vec<Duration> {
        let mut t = Duration::ZERO;
        let mut ok = Vec::new();
        while t < span {
            if gate.admit(start + t) {
                ok.push(t);
            }
            t += every;
        }
        ok
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fixed_windows_follow_the_wall_clock() {
        let start = Instant::now();
        // The wall-clock second began 700 ms before the first request.
        let mut gate = Gate::new(RateLimit::new(5, Model::Fixed), start - ms(700));
        let ok = offer(&mut gate, start, ms(10), ms(1300));
        // 5 in the 300 ms left of the first window, 5 at the next one.
        assert_eq!(ok, [0, 10, 20, 30, 40, 300, 310, 320, 330, 340].map(ms));
    }

    #[test]
    fn fixed_windows_from_the_first_request() {
        let start = Instant::now();
        let mut gate = Gate::new(RateLimit::new(3, Model::FixedFromFirst), start - ms(700));
        let ok = offer(&mut gate, start, ms(100), ms(2000));
        assert_eq!(ok, [0, 100, 200, 1000, 1100, 1200].map(ms));
    }

    #[test]
    fn sliding_window_counts_the_trailing_second() {
        let start = Instant::now();
        let mut gate = Gate::new(RateLimit::new(3, Model::Sliding), start);
        let ok = offer(&mut gate, start, ms(300), ms(2400));
        // 0, 300, 600 fill it; 900 is refused; 1200 sees only 300 and 600.
        assert_eq!(ok, [0, 300, 600, 1200, 1500, 1800].map(ms));
    }

    #[test]
    fn bucket_allows_its_burst_then_the_rate() {
        let start = Instant::now();
        let spec = RateLimit {
            burst: 4,
            ..RateLimit::new(10, Model::Bucket)
        };
        let mut gate = Gate::new(spec, start);
        let ok = offer(&mut gate, start, ms(10), ms(1000));
        // The burst of 4, then one token every 100 ms.
        assert_eq!(ok.len(), 4 + 9, "{ok:?}");
        assert_eq!(&ok[..5], &[0, 10, 20, 30, 100].map(ms));
    }

    #[test]
    fn schedule_changes_the_limit() {
        let spec = RateLimit {
            schedule: "5s=8, 12s=20".parse().unwrap(),
            ..RateLimit::new(20, Model::FixedFromFirst)
        };
        assert_eq!(spec.limit_at(ms(4999)), 20);
        assert_eq!(spec.limit_at(ms(5000)), 8);
        assert_eq!(spec.limit_at(ms(13_000)), 20);
        // 5 s at 20, 7 s at 8, then 20/s: 300 requests by 5 + 7 + 7.2 s.
        assert!((spec.ideal(300).as_secs_f64() - 19.2).abs() < 1e-6);
        let start = Instant::now();
        let mut gate = Gate::new(spec, start);
        let ok = offer(&mut gate, start, ms(10), ms(14_000));
        assert_eq!(ok.len(), 5 * 20 + 7 * 8 + 2 * 20);
    }

    #[test]
    fn schedules_parse_strictly() {
        assert!("5s=8,4s=20".parse::<Schedule>().is_err());
        assert!("5s:8".parse::<Schedule>().is_err());
        assert!("soon=8".parse::<Schedule>().is_err());
        assert_eq!("".parse::<Schedule>().unwrap(), Schedule::default());
    }

    #[test]
    fn bucket_ideal_counts_the_burst() {
        let spec = RateLimit {
            burst: 40,
            ..RateLimit::new(20, Model::Bucket)
        };
        assert!((spec.ideal(300).as_secs_f64() - 13.0).abs() < 1e-6);
    }
}
