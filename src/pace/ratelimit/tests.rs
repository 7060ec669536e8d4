//! The limiter on a paused clock: its pacing alone, and whole runs against
//! the simulator's models of the platform's limit driven in-process, so
//! a run of many virtual seconds takes milliseconds.

use super::*;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;

use crate::simulator::limiter::{Gate, Model, RateLimit};

/// Slot times of `n` acquisitions made by `tasks` concurrent tasks, each
/// answered at once as accepted.
async fn slots(limiter: Arc<RateLimiter>, tasks: usize, n: usize) -> Vec<Instant> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let limiter = limiter.clone();
        let per = n / tasks + usize::from(t < n % tasks);
        handles.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..per {
                let ticket = limiter.acquire().await;
                limiter.on_success(&ticket);
                v.push(ticket.sent_at);
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
async fn slow_start_answered_at_once_is_never_held() {
    let limiter = Arc::new(RateLimiter::new(None));
    assert_eq!(limiter.current_rate(), None);
    // Answered at once, every slot is free: no second holds more than the
    // initial window plus the answers already counted.
    let times = slots(limiter.clone(), 1, 200).await;
    assert_eq!(*times.last().unwrap(), times[0]);
    assert_eq!(limiter.current_rate(), None);
}

#[tokio::test(start_paused = true)]
async fn a_429_answered_before_any_success_does_not_set_the_pace_to_one() {
    let limiter = RateLimiter::new(None);
    let tickets: Vec<Ticket> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(limiter.acquire().await);
        }
        v
    };
    // The gateway's 429 comes back before the seven accepted answers.
    limiter.on_throttled(&tickets[7]);
    let rate = limiter.current_rate().unwrap();
    assert!(rate >= 6.0, "{rate}");
    // The burst of 429s of requests sent before the cut counts once.
    for t in &tickets[..7] {
        limiter.on_success(t);
    }
    assert_eq!(limiter.cuts(), 1);
}

/// What one in-process run achieved.
#[derive(Debug)]
struct Run {
    /// When the last customer was done.
    elapsed: Duration,
    requests: u64,
    throttled: u64,
    /// When each accepted request came, since the start.
    accepted: Vec<Duration>,
    /// When each request answered 429 came, since the start.
    refused: Vec<Duration>,
    /// The most 429s one customer drew.
    most_throttled: u32,
}

impl Run {
    fn share(&self) -> f64 {
        self.throttled as f64 / self.requests as f64
    }
}

/// How the platform answers, for [`run`].
#[derive(Clone, Copy)]
struct Platform {
    /// Accepted answers take a uniform random time in `latency × [0.5, 1.5)`.
    latency: Duration,
    throttle_delay: Duration,
    /// Every `slow_every`th customer answers 20 times slower (0: none).
    slow_every: usize,
    /// A request reaches the platform a uniform random time in
    /// `[0, transit)` after its slot: the network, and a task woken late
    /// (zero: at its slot).
    transit: Duration,
}

const PLATFORM: Platform = Platform {
    latency: Duration::from_millis(10),
    throttle_delay: Duration::ZERO,
    slow_every: 0,
    transit: Duration::ZERO,
};

/// Export `n` customers at `concurrency` through `limiter` against `gate`,
/// as the fetch tasks do: the in-flight permit is held until the answer, a
/// 429 (the platform's limit sends no `Retry-After`) is retried at the
/// limiter's next slot. `seed` draws the latencies.
async fn run(
    limiter: Arc<RateLimiter>,
    gate: Arc<std::sync::Mutex<Gate>>,
    platform: Platform,
    n: usize,
    concurrency: usize,
    seed: u64,
) -> Run {
    let start = Instant::now();
    let inflight = Arc::new(Semaphore::new(concurrency));
    let counts = Arc::new(std::sync::Mutex::new((0u64, 0u64, Vec::new(), Vec::new())));
    let mut tasks = Vec::new();
    for i in 0..n {
        let first = inflight.clone().acquire_owned().await.unwrap();
        let (limiter, gate, inflight, counts) = (
            limiter.clone(),
            gate.clone(),
            inflight.clone(),
            counts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ i as u64);
            let mut permit = Some(first);
            for retry in 0u32.. {
                let p = match permit.take() {
                    Some(p) => p,
                    None => inflight.clone().acquire_owned().await.unwrap(),
                };
                let ticket = limiter.acquire().await;
                if !platform.transit.is_zero() {
                    tokio::time::sleep(platform.transit.mul_f64(rng.random_range(0.0..1.0))).await;
                }
                let now = Instant::now();
                let ok = gate.lock().unwrap().admit(now);
                {
                    let mut c = counts.lock().unwrap();
                    c.0 += 1;
                    if ok {
                        c.2.push(now - start);
                    } else {
                        c.1 += 1;
                        c.3.push(now - start);
                    }
                }
                if ok {
                    let mut latency = platform.latency.mul_f64(rng.random_range(0.5..1.5));
                    if platform.slow_every > 0 && i % platform.slow_every == 0 {
                        latency *= 20;
                    }
                    tokio::time::sleep(latency).await;
                    drop(p);
                    limiter.on_success(&ticket);
                    return retry;
                }
                tokio::time::sleep(platform.throttle_delay).await;
                drop(p);
                limiter.on_throttled(&ticket);
            }
            unreachable!("every customer is retried until accepted")
        }));
    }
    let mut most_throttled = 0;
    for t in tasks {
        most_throttled = most_throttled.max(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let (requests, throttled, mut accepted, mut refused) =
        std::mem::take(&mut *counts.lock().unwrap());
    accepted.sort();
    refused.sort();
    Run {
        elapsed,
        requests,
        throttled,
        accepted,
        refused,
        most_throttled,
    }
}

/// A gate for `spec` whose wall-clock second began `phase` before now.
fn gate(spec: RateLimit, phase: Duration) -> Arc<std::sync::Mutex<Gate>> {
    Arc::new(std::sync::Mutex::new(Gate::new(
        spec,
        Instant::now() - phase,
    )))
}

/// A run of `n` customers at concurrency 64 with no `--rate`, against a
/// platform limited by `spec` whose wall-clock second began `phase` ago.
async fn unpaced(
    spec: &RateLimit,
    phase: Duration,
    platform: Platform,
    n: usize,
    seed: u64,
) -> Run {
    let limiter = Arc::new(RateLimiter::seeded(None, 1, seed));
    run(limiter, gate(spec.clone(), phase), platform, n, 64, seed).await
}

/// No customer drew more 429s than the default `--retries` allows them
/// (four times it), so none would have failed on them.
fn none_would_fail(r: &Run) -> bool {
    r.most_throttled
        <= crate::pace::retry::RetryPolicy::default()
            .max_retries_for(crate::api::Cause::RateLimited)
}

/// Phases of the wall clock (how far into its second a run starts) the
/// targets are checked at.
const PHASES: [u64; 4] = [0, 130, 500, 970];
/// Seeds of the latencies, per phase.
const SEEDS: [u64; 2] = [1, 2];

/// What a run must reach: its efficiency (the ideal over the time taken)
/// and the most of its requests answered 429, for every phase and seed.
#[derive(Clone, Copy)]
struct Bound {
    customers: usize,
    efficiency: f64,
    share: f64,
}

/// 300 customers whose 429s come at once: 95 % of the ideal, under 6 % of
/// requests answered 429.
const SHORT: Bound = Bound {
    customers: 300,
    efficiency: 0.95,
    share: 0.06,
};

/// 1200 customers whose 429s come at once: 98 % of the ideal, under 3 %.
const LONG: Bound = Bound {
    customers: 1200,
    efficiency: 0.98,
    share: 0.03,
};

/// A gateway answering its 429s late: 300 customers, 90 % of the ideal,
/// at most 10 % (the slow start overshoots such a gateway by about 8 plus
/// half its limit before a request is overdue, and by half as much again
/// until the first late 429 shows).
const LATE: Bound = Bound {
    customers: 300,
    efficiency: 0.90,
    share: 0.10,
};

/// A gateway answering its 429s a second or two late: as [`LATE`], under
/// 9 %. While they are on their way the slow start's window shrinks by
/// the requests overdue, and its overshoot halves instead of holding
/// until the first 429 is back (a window held whole drew up to 9.9 %).
const LATE_SHRUNK: Bound = Bound {
    share: 0.09,
    ..LATE
};

/// One model against `bound`: `bound.customers` customers at concurrency
/// 64 against 20/s with 10 ms answers, for several phases of the wall
/// clock and several seeds; and a `--rate` of the limit never draws more
/// 429s.
async fn meets(spec: RateLimit, platform: Platform, bound: Bound) {
    let n = bound.customers;
    let ideal = spec.ideal(n as u64);
    for phase in PHASES.map(Duration::from_millis) {
        for seed in SEEDS {
            let free = unpaced(&spec, phase, platform, n, seed).await;
            let efficiency = ideal.as_secs_f64() / free.elapsed.as_secs_f64();
            assert!(
                efficiency >= bound.efficiency
                    && free.share() < bound.share
                    && none_would_fail(&free),
                "{} (429s after {:?}), {n} customers, phase {phase:?} seed {seed}: \
                 efficiency {efficiency:.3}, 429s {:.3} (most for one customer {})",
                spec.model,
                platform.throttle_delay,
                free.share(),
                free.most_throttled
            );
            let capped = run(
                Arc::new(RateLimiter::seeded(Some(f64::from(spec.limit)), 1, seed)),
                gate(spec.clone(), phase),
                platform,
                n,
                64,
                seed,
            )
            .await;
            assert!(
                capped.throttled <= free.throttled,
                "{} (429s after {:?}) phase {phase:?} seed {seed}: --rate drew {} 429s, none drew {}",
                spec.model,
                platform.throttle_delay,
                capped.throttled,
                free.throttled
            );
        }
    }
}

/// A model whose 429s come at once, over a short and a long run.
async fn meets_targets(spec: RateLimit, platform: Platform) {
    let bounds = if platform.throttle_delay.is_zero() {
        [SHORT, LONG].as_slice()
    } else {
        [LATE].as_slice()
    };
    for bound in bounds {
        meets(spec.clone(), platform, *bound).await;
    }
}

#[tokio::test(start_paused = true)]
async fn finds_fixed_wall_clock_windows() {
    meets_targets(RateLimit::new(20, Model::Fixed), PLATFORM).await;
}

#[tokio::test(start_paused = true)]
async fn finds_fixed_windows_from_the_first_request() {
    meets_targets(RateLimit::new(20, Model::FixedFromFirst), PLATFORM).await;
}

#[tokio::test(start_paused = true)]
async fn finds_a_sliding_window() {
    meets_targets(RateLimit::new(20, Model::Sliding), PLATFORM).await;
}

/// Requests that reach the platform up to 3 ms after their slot (a
/// loopback's transit, a task woken late): a sliding window at 20/s then
/// refuses some requests paced at exactly 20/s, so the limit is fractional
/// as far as the run can tell. 97 % of the ideal and under 3 % of requests
/// answered 429 over 1200 customers; for fixed windows, as without
/// transit. (A whole-request estimate settled at 19/s: 0.960.)
#[tokio::test(start_paused = true)]
async fn finds_a_limit_through_a_varying_transit() {
    let platform = Platform {
        transit: Duration::from_millis(3),
        ..PLATFORM
    };
    let sliding = Bound {
        efficiency: 0.97,
        ..LONG
    };
    meets(RateLimit::new(20, Model::Sliding), platform, sliding).await;
    meets(RateLimit::new(20, Model::Fixed), platform, LONG).await;
}

#[tokio::test(start_paused = true)]
async fn finds_a_token_bucket() {
    let spec = RateLimit {
        burst: 40,
        ..RateLimit::new(20, Model::Bucket)
    };
    meets_targets(spec, PLATFORM).await;
}

/// A gateway that answers its 429s late (the accepted answers take 5 to
/// 15 ms): each window model, with 429s answered 200 ms to 2 s late; a
/// second or two late, under [`LATE_SHRUNK`]'s 9 %.
async fn finds_a_limit_whose_429s_come_late(model: Model) {
    for delay in [200, 500, 1000, 2000] {
        let platform = Platform {
            throttle_delay: Duration::from_millis(delay),
            ..PLATFORM
        };
        let bound = if delay >= 1000 { LATE_SHRUNK } else { LATE };
        meets(RateLimit::new(20, model), platform, bound).await;
    }
}

/// Slow customers (every tenth answers in 100 to 300 ms) among quick ones
/// are not taken for 429s on their way, with 429s answered at once or
/// late.
#[tokio::test(start_paused = true)]
async fn slow_customers_are_not_taken_for_late_429s() {
    for delay in [0, 200] {
        let platform = Platform {
            throttle_delay: Duration::from_millis(delay),
            slow_every: 10,
            ..PLATFORM
        };
        meets_targets(RateLimit::new(20, Model::Fixed), platform).await;
    }
}

#[tokio::test(start_paused = true)]
async fn finds_fixed_windows_whose_429s_come_late() {
    finds_a_limit_whose_429s_come_late(Model::Fixed).await;
}

#[tokio::test(start_paused = true)]
async fn finds_windows_from_the_first_request_whose_429s_come_late() {
    finds_a_limit_whose_429s_come_late(Model::FixedFromFirst).await;
}

#[tokio::test(start_paused = true)]
async fn finds_a_sliding_window_whose_429s_come_late() {
    finds_a_limit_whose_429s_come_late(Model::Sliding).await;
}

/// 20/s, 8/s from 5 s to 12 s, 20/s again, for a run that starts `phase`
/// into a wall-clock second: 92 % of what the schedule allows, under 8 %
/// of requests answered 429, and back to 90 % of 20/s within 5 s of the
/// limit's return.
async fn follows_the_schedule(phase: u64, seed: u64, platform: Platform) {
    let spec = RateLimit {
        schedule: "5s=8,12s=20".parse().unwrap(),
        ..RateLimit::new(20, Model::Fixed)
    };
    let r = unpaced(&spec, Duration::from_millis(phase), platform, 300, seed).await;
    let efficiency = spec.ideal(300).as_secs_f64() / r.elapsed.as_secs_f64();
    let transit = platform.transit;
    assert!(
        efficiency >= 0.92 && r.share() < 0.08 && none_would_fail(&r),
        "phase {phase} ms, transit {transit:?}: {efficiency:.4} {:.3} {}",
        r.share(),
        r.most_throttled
    );
    let back = back_after(&r, RETURNS);
    assert!(
        back.is_some_and(|t| t <= Duration::from_secs(5)),
        "phase {phase} ms, transit {transit:?}: {back:?}"
    );
}

/// When the schedule's limit returns to 20/s.
const RETURNS: Duration = Duration::from_secs(12);

/// How long after `returns` the run first had a second with 18 or more
/// accepted requests (within 10 s).
fn back_after(r: &Run, returns: Duration) -> Option<Duration> {
    (0..1000)
        .map(|i| returns + Duration::from_millis(10 * i))
        .find(|&from| {
            r.accepted
                .iter()
                .filter(|&&t| t >= from && t < from + WINDOW)
                .count()
                >= 18
        })
        .map(|t| t - returns)
}

/// The schedule at 10 phases, with requests reaching the platform at
/// their slots and up to 3 ms after them (the count of the second before a
/// 429 then varies by a request or two).
#[tokio::test(start_paused = true)]
async fn follows_a_limit_that_falls_and_returns() {
    let transit = Platform {
        transit: Duration::from_millis(3),
        ..PLATFORM
    };
    for platform in [PLATFORM, transit] {
        for phase in (0..1000).step_by(100) {
            let seed = phase + 1;
            follows_the_schedule(phase, seed, platform).await;
        }
    }
}

/// Without a limit, the slow start costs a platform answering in 50 ms at
/// concurrency 32 under 5 % of the ideal `n × latency / concurrency`.
#[tokio::test(start_paused = true)]
async fn a_platform_without_a_limit_is_not_slowed() {
    let spec = RateLimit::new(u32::MAX, Model::Fixed);
    let platform = Platform {
        latency: Duration::from_millis(50),
        ..PLATFORM
    };
    let r = run(
        Arc::new(RateLimiter::new(None)),
        gate(spec, Duration::ZERO),
        platform,
        2000,
        32,
        1,
    )
    .await;
    let ideal = platform.latency.mul_f64(2000.0 / 32.0);
    let efficiency = ideal.as_secs_f64() / r.elapsed.as_secs_f64();
    assert_eq!(r.throttled, 0);
    assert!(efficiency >= 0.95, "{efficiency:.3} ({:?})", r.elapsed);
}

mod figures;
mod refused;
mod shards;
