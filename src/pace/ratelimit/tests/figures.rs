//! The figures of the limiter's rows on the virtual clock, printed rather
//! than asserted: what docs/limits.md and bench/RESULTS.md quote.

use std::time::Duration;

use super::*;

/// The figures of the limiter's rows (the worst over the phases and
/// seeds): `cargo test --lib figures -- --ignored --nocapture`.
#[tokio::test(start_paused = true)]
#[ignore]
async fn figures() {
    let bucket = RateLimit {
        burst: 40,
        ..RateLimit::new(20, Model::Bucket)
    };
    let after = |ms| Platform {
        throttle_delay: Duration::from_millis(ms),
        ..PLATFORM
    };
    let transit = Platform {
        transit: Duration::from_millis(3),
        ..PLATFORM
    };
    let fixed = RateLimit::new(20, Model::Fixed);
    let sliding = RateLimit::new(20, Model::Sliding);
    let rows = [
        ("fixed", fixed.clone(), PLATFORM),
        (
            "fixed-from-first",
            RateLimit::new(20, Model::FixedFromFirst),
            PLATFORM,
        ),
        ("sliding", sliding.clone(), PLATFORM),
        ("bucket 40", bucket.clone(), PLATFORM),
        ("fixed, 429s after 200 ms", fixed.clone(), after(200)),
        ("fixed, 429s after 1 s", fixed.clone(), after(1000)),
        ("fixed, 429s after 2 s", fixed.clone(), after(2000)),
        ("sliding, 429s after 500 ms", sliding.clone(), after(500)),
        ("bucket 40, 429s after 200 ms", bucket, after(200)),
        ("sliding, transit 0-3 ms", sliding, transit),
        ("fixed, transit 0-3 ms", fixed, transit),
    ];
    for (name, spec, platform) in rows {
        let mut line = format!("{name}:");
        for n in [300, 1200] {
            let (eff, share) = worst_of(&spec, platform, n).await;
            line += &format!("  {n}: {eff:.3}, {:.1} %", share * 100.0);
        }
        println!("{line}");
    }
    let (eff, share, _) = shards_over(&PHASES, 1).await;
    println!(
        "4 shards 4x300: efficiency {eff:.3}, 429 share {:.1} %",
        share * 100.0
    );
    let phases: Vec<u64> = (0..1000).step_by(50).collect();
    let (eff, share, (mean_eff, mean_share)) = shards_over(&phases, 1).await;
    println!(
        "4 shards 4x300, 20 phases: worst {eff:.3}, {:.1} %; mean {mean_eff:.3}, {:.1} %",
        share * 100.0,
        mean_share * 100.0
    );
    let (eff, share, (mean_eff, mean_share)) = shards_over(&phases, 10).await;
    println!(
        "4 shards 4x300, 20 phases x 10 seeds: worst {eff:.3}, {:.1} %; mean {mean_eff:.3}, {:.1} %",
        share * 100.0,
        mean_share * 100.0
    );
    for (name, platform) in [("", PLATFORM), (", transit 0-3 ms", transit)] {
        let (eff, share, back) = worst_schedule(platform).await;
        println!(
            "schedule 20->8->20{name}: 300: {eff:.3}, {:.1} %, back to 18/s in {back:?}",
            share * 100.0
        );
    }
}

/// Four shards' lowest efficiency, highest 429 share, and their means,
/// over `phases`, each for `rounds` draws of the latencies and jitter.
async fn shards_over(phases: &[u64], rounds: u64) -> (f64, f64, (f64, f64)) {
    let (mut eff, mut share, mut sums) = (f64::MAX, 0f64, (0.0, 0.0));
    for round in 0..rounds {
        for &phase in phases {
            let (e, s, _) = four_shards(phase, round).await;
            (eff, share) = (eff.min(e), share.max(s));
            sums = (sums.0 + e, sums.1 + s);
        }
    }
    let n = (phases.len() as u64 * rounds) as f64;
    (eff, share, (sums.0 / n, sums.1 / n))
}

/// The lowest efficiency and the highest 429 share of `n` customers
/// against `spec` over the phases and seeds.
async fn worst_of(spec: &RateLimit, platform: Platform, n: usize) -> (f64, f64) {
    let (mut eff, mut share) = (f64::MAX, 0f64);
    for phase in PHASES.map(Duration::from_millis) {
        for seed in SEEDS {
            let r = unpaced(spec, phase, platform, n, seed).await;
            eff = eff.min(spec.ideal(n as u64).as_secs_f64() / r.elapsed.as_secs_f64());
            share = share.max(r.share());
        }
    }
    (eff, share)
}

/// The schedule's worst efficiency, 429 share and time back to 18/s over
/// the 10 phases [`follows_a_limit_that_falls_and_returns`] checks.
async fn worst_schedule(platform: Platform) -> (f64, f64, Duration) {
    let spec = RateLimit {
        schedule: "5s=8,12s=20".parse().unwrap(),
        ..RateLimit::new(20, Model::Fixed)
    };
    let (mut eff, mut share, mut back) = (f64::MAX, 0f64, Duration::ZERO);
    for phase in (0..1000).step_by(100) {
        let r = unpaced(
            &spec,
            Duration::from_millis(phase),
            platform,
            300,
            phase + 1,
        )
        .await;
        eff = eff.min(spec.ideal(300).as_secs_f64() / r.elapsed.as_secs_f64());
        share = share.max(r.share());
        back = back.max(back_after(&r, RETURNS).unwrap_or(Duration::MAX));
    }
    (eff, share, back)
}
