//! Shards of one run on one key (`--shard K/N`): whole runs on the virtual
//! clock, and the rule that keeps their parts even.

use super::*;

/// `running` of `processes` shards, each with its part of 1200 customers,
/// on one key of `spec`, starting `phase` ms into a wall-clock second,
/// their latencies and jitter drawn for `round`: their efficiency
/// together, their 429 share, and whether none of their customers would
/// have failed.
pub(super) async fn shards(
    spec: &RateLimit,
    processes: u32,
    running: u64,
    phase: u64,
    round: u64,
) -> (f64, f64, bool) {
    let each = 1200 / processes as usize;
    let shared = gate(spec.clone(), Duration::from_millis(phase));
    let runs = futures_util::future::join_all((0..running).map(|k| {
        // A round's seeds differ from every other round's in their high
        // bits, so no customer's latencies repeat across rounds.
        let seed = k + (round << 32);
        run(
            Arc::new(RateLimiter::seeded(None, processes, seed)),
            shared.clone(),
            PLATFORM,
            each,
            64,
            seed,
        )
    }))
    .await;
    let elapsed = runs.iter().map(|r| r.elapsed).max().unwrap();
    let requests: u64 = runs.iter().map(|r| r.requests).sum();
    let throttled: u64 = runs.iter().map(|r| r.throttled).sum();
    let customers = each as u64 * running;
    let efficiency = spec.ideal(customers).as_secs_f64() / elapsed.as_secs_f64();
    (
        efficiency,
        throttled as f64 / requests as f64,
        runs.iter().all(none_would_fail),
    )
}

/// Four shards of 300 customers on fixed windows of 20/s.
pub(super) async fn four_shards(phase: u64, round: u64) -> (f64, f64, bool) {
    shards(&RateLimit::new(20, Model::Fixed), 4, 4, phase, round).await
}

/// Four shards of one run on one key (`--shard K/4`), none with `--rate`:
/// over the phases and three draws of the latencies and jitter each, 90 %
/// of the limit together on average and never under 84 % (a run's
/// figure spreads by several points from one draw to the next: its
/// shards' parts drift apart, and the last one finds a freed part only
/// after a while), and under 5 % of requests answered 429 in every run.
#[tokio::test(start_paused = true)]
async fn four_shards_share_a_key() {
    let mut sum = 0.0;
    for round in 0..3 {
        for phase in PHASES {
            let (efficiency, share, none_failed) = four_shards(phase, round).await;
            assert!(
                efficiency >= 0.84 && share < 0.05 && none_failed,
                "phase {phase} ms, round {round}: {efficiency:.3} {share:.3}"
            );
            sum += efficiency;
        }
    }
    let mean = sum / (3 * PHASES.len()) as f64;
    assert!(mean >= 0.90, "mean efficiency {mean:.3}");
}

/// A shard of `processes` whose first 429 came after two accepted
/// answers, and the limiter: the estimate is then two per second,
/// contended.
async fn a_contended_shard(processes: u32) -> RateLimiter {
    let limiter = RateLimiter::seeded(None, processes, 7);
    for _ in 0..2 {
        let t = limiter.acquire().await;
        limiter.on_success(&t);
    }
    let t = limiter.acquire().await;
    limiter.on_throttled(&t);
    limiter
}

/// A shard's own probe drawing a 429 keeps it contended from that 429 on:
/// the step found the other shards' parts, not the limit, so the shard
/// must not grow past them once the first 429 is 8 s old.
#[tokio::test(start_paused = true)]
async fn a_shards_own_probe_429_keeps_it_contended() {
    let limiter = a_contended_shard(4).await;
    let first = limiter
        .state
        .lock()
        .unwrap()
        .curve
        .unwrap()
        .contended_until
        .unwrap();
    let probe = loop {
        let t = limiter.acquire().await;
        let c = limiter.state.lock().unwrap().curve.unwrap();
        if c.probing(t.sent_at) {
            break t;
        }
        limiter.on_success(&t);
    };
    limiter.on_throttled(&probe);
    let now = Instant::now();
    let s = limiter.state.lock().unwrap();
    assert!(now + CONTENDED > first);
    assert_eq!(s.curve.unwrap().contended_until, Some(now + CONTENDED));
}

/// However many cuts in a row found the limit where it was, a contended
/// shard of N probes again within N × 3 s and 8 s at most (jittered by a
/// quarter): a shard left behind wins its part back by steps that come
/// often enough. Two shards hold at most 6 s, four and eight 8 s.
#[tokio::test(start_paused = true)]
async fn a_contended_shard_holds_at_most_eight_seconds() {
    for (processes, longest) in [(2, 6), (4, 8), (8, 8)] {
        let limiter = a_contended_shard(processes).await;
        let mut s = limiter.state.lock().unwrap();
        for _ in 0..12 {
            let now = Instant::now();
            s.cut(now, 2.0, CutFor::Estimate);
            let hold = s.curve.unwrap().hold;
            assert!(
                hold <= Duration::from_secs(longest).mul_f64(1.0 + JITTER),
                "{processes} shards: {hold:?} after {} cuts",
                s.cuts
            );
        }
        assert!(s.streak >= 10, "the cuts found the limit where it was");
        assert!(
            s.curve.unwrap().hold >= Duration::from_secs(longest).mul_f64(1.0 - JITTER),
            "{processes} shards: the hold grew to its longest"
        );
    }
}

/// Past its first step a shard doubles its excess over the estimate every
/// 3 s, not every half second as a process alone does: the other shards'
/// 429s may only have paused, and a shard that grows past its part takes
/// it from them at a 429 each.
#[tokio::test(start_paused = true)]
async fn a_shard_grows_slowly_past_its_first_step() {
    let limiter = a_contended_shard(4).await;
    let c = limiter.state.lock().unwrap().curve.unwrap();
    tokio::time::sleep_until(c.at + c.grow_from()).await;
    let first = limiter.current_rate().unwrap() - c.limit;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = limiter.current_rate().unwrap() - c.limit;
    assert!(
        first >= 1.0 && later > first && later <= 2.0 * first + 1e-9,
        "excess {first} at the growth's start, {later} 3 s later"
    );
}
