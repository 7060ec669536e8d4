//! The figures of the limiter's rows on the virtual clock, printed rather
//! than asserted: what docs/limits.md and bench/RESULTS.md quote (the
//! shards' rows before a change are this code run on the code before).

use std::time::Duration;

use super::shards::{four_shards, shards};
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
    let from_first = RateLimit::new(20, Model::FixedFromFirst);
    let sliding = RateLimit::new(20, Model::Sliding);
    let rows = [
        ("fixed", fixed.clone(), PLATFORM),
        ("fixed-from-first", from_first.clone(), PLATFORM),
        ("sliding", sliding.clone(), PLATFORM),
        ("bucket 40", bucket.clone(), PLATFORM),
        ("fixed, 429s after 200 ms", fixed.clone(), after(200)),
        ("fixed, 429s after 1 s", fixed.clone(), after(1000)),
        ("fixed, 429s after 2 s", fixed.clone(), after(2000)),
        ("sliding, 429s after 500 ms", sliding.clone(), after(500)),
        ("bucket 40, 429s after 200 ms", bucket.clone(), after(200)),
        ("sliding, transit 0-3 ms", sliding.clone(), transit),
        ("fixed, transit 0-3 ms", fixed.clone(), transit),
    ];
    for (name, spec, platform) in rows {
        let mut line = format!("{name}:");
        for n in [300, 1200] {
            let (eff, share, early) = worst_of(&spec, platform, n).await;
            line += &format!("  {n}: {eff:.3}, {:.1} %", share * 100.0);
            if n == 1200 {
                line += &format!(" ({early} 429s in the first 5 s at most)");
            }
        }
        println!("{line}");
    }
    shard_figures(&[
        ("fixed", fixed),
        ("fixed-from-first", from_first),
        ("sliding", sliding),
        ("bucket 40", bucket),
    ])
    .await;
    for (name, platform) in [("", PLATFORM), (", transit 0-3 ms", transit)] {
        let (eff, share, back) = worst_schedule(platform).await;
        println!(
            "schedule 20->8->20{name}: 300: {eff:.3}, {:.1} %, back to 18/s in {back:?}",
            share * 100.0
        );
    }
}

/// The shards' rows: the test's four phases and three draws; four shards per model over
/// 100 runs (fixed windows on the wall clock also over 200); two and
/// eight shards; one shard of four alone on the key (shards run one at
/// a time).
async fn shard_figures(models: &[(&str, RateLimit)]) {
    let mut test = Vec::new();
    for round in 0..3 {
        for phase in PHASES {
            test.push(four_shards(phase, round).await);
        }
    }
    println!(
        "4 shards 4x300, the test's 4 phases x 3 draws: {}",
        Spread::of(&test)
    );
    for (name, spec) in models {
        let count = if spec.model == Model::Fixed { 200 } else { 100 };
        let runs = shard_runs(spec, 4, 4, count).await;
        println!("4 shards, {name}, 100 runs: {}", Spread::of(&runs[..100]));
        if count > 100 {
            println!("4 shards, {name}, {count} runs: {}", Spread::of(&runs));
        }
    }
    let fixed = &models[0].1;
    for (name, processes, running, count) in [
        ("2 shards", 2, 2, 200),
        ("8 shards", 8, 8, 200),
        ("1 of 4 shards alone", 4, 1, 100),
    ] {
        let runs = shard_runs(fixed, processes, running, count).await;
        println!("{name}, fixed, {count} runs: {}", Spread::of(&runs));
    }
}

/// `count` runs of [`shards`]: 20 phases of the wall clock per draw on
/// fixed windows, which alone depend on the phase; one draw per run on
/// the other models.
async fn shard_runs(
    spec: &RateLimit,
    processes: u32,
    running: u64,
    count: usize,
) -> Vec<(f64, f64, bool)> {
    let phases: Vec<u64> = match spec.model {
        Model::Fixed => (0..1000).step_by(50).collect(),
        _ => vec![0],
    };
    let mut runs = Vec::with_capacity(count);
    for round in 0..(count / phases.len()) as u64 {
        for &phase in &phases {
            runs.push(shards(spec, processes, running, phase, round).await);
        }
    }
    runs
}

/// The spread of some runs' efficiency and 429 share: the worst and the
/// mean of each, and the efficiency's tenth and median.
struct Spread {
    worst: f64,
    worst_share: f64,
    mean: f64,
    mean_share: f64,
    tenth: f64,
    median: f64,
}

impl Spread {
    fn of(runs: &[(f64, f64, bool)]) -> Spread {
        let n = runs.len() as f64;
        let mut effs: Vec<f64> = runs.iter().map(|r| r.0).collect();
        effs.sort_by(f64::total_cmp);
        Spread {
            worst: effs[0],
            worst_share: runs.iter().map(|r| r.1).fold(0.0, f64::max),
            mean: effs.iter().sum::<f64>() / n,
            mean_share: runs.iter().map(|r| r.1).sum::<f64>() / n,
            tenth: effs[effs.len() / 10],
            median: effs[effs.len() / 2],
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst {:.3}, {:.1} %; mean {:.3}, {:.1} %; tenth {:.3}, median {:.3}",
            self.worst,
            self.worst_share * 100.0,
            self.mean,
            self.mean_share * 100.0,
            self.tenth,
            self.median
        )
    }
}

/// The lowest efficiency, the highest 429 share and the most 429s in the
/// first 5 s (the slow start's overshoot and its settling) of `n`
/// customers against `spec` over the phases and seeds.
async fn worst_of(spec: &RateLimit, platform: Platform, n: usize) -> (f64, f64, usize) {
    let (mut eff, mut share, mut early) = (f64::MAX, 0f64, 0);
    for phase in PHASES.map(Duration::from_millis) {
        for seed in SEEDS {
            let r = unpaced(spec, phase, platform, n, seed).await;
            eff = eff.min(spec.ideal(n as u64).as_secs_f64() / r.elapsed.as_secs_f64());
            share = share.max(r.share());
            early = early.max(r.refused.partition_point(|t| *t < Duration::from_secs(5)));
        }
    }
    (eff, share, early)
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
