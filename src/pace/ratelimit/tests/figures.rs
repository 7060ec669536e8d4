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
    let bucket = RateLimit {
        burst: 40,
        ..RateLimit::new(20, Model::Bucket)
    };
    shard_figures(&[
        ("fixed", RateLimit::new(20, Model::Fixed)),
        (
            "fixed-from-first",
            RateLimit::new(20, Model::FixedFromFirst),
        ),
        ("sliding", RateLimit::new(20, Model::Sliding)),
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

/// The shards' rows: the test's four phases, then 20 phases of the wall
/// clock × 5 or 10 draws per row (100 or 200 draws on the models that
/// do not count on the wall clock) (worst, mean; the runs' tenth and
/// median), per model, for two and eight shards, and for one shard of
/// four alone on the key (shards run one at a time).
async fn shard_figures(models: &[(&str, RateLimit)]) {
    let mut test = Vec::new();
    for phase in PHASES {
        test.push(four_shards(phase, 0).await);
    }
    let worst = test.iter().map(|r| r.0).fold(f64::MAX, f64::min);
    let share = test.iter().map(|r| r.1).fold(0.0, f64::max);
    println!(
        "4 shards 4x300, the test's 4 phases: worst {worst:.3}, {:.1} %",
        share * 100.0
    );
    let fixed = &models[0].1;
    let rows = models
        .iter()
        .map(|(name, spec)| (format!("4 shards, {name}"), spec, 4, 4, 5))
        .chain([
            ("4 shards, fixed".to_string(), fixed, 4, 4, 10),
            ("2 shards, fixed".to_string(), fixed, 2, 2, 10),
            ("8 shards, fixed".to_string(), fixed, 8, 8, 10),
            ("1 of 4 shards alone, fixed".to_string(), fixed, 4, 1, 5),
        ]);
    for (name, spec, processes, running, rounds) in rows {
        // Only windows on the wall clock depend on the phase: the other
        // models take 20 times the draws instead.
        let phases: Vec<u64> = match spec.model {
            Model::Fixed => (0..1000).step_by(50).collect(),
            _ => vec![0],
        };
        let mut runs = Vec::new();
        for round in 0..rounds * 20 / phases.len() as u64 {
            for &phase in &phases {
                runs.push(shards(spec, processes, running, phase, round).await);
            }
        }
        let n = runs.len() as f64;
        let mean = runs.iter().map(|r| r.0).sum::<f64>() / n;
        let mean_share = runs.iter().map(|r| r.1).sum::<f64>() / n;
        let worst_share = runs.iter().map(|r| r.1).fold(0.0, f64::max);
        let mut effs: Vec<f64> = runs.iter().map(|r| r.0).collect();
        effs.sort_by(f64::total_cmp);
        println!(
            "{name}, {} runs: worst {:.3}, {:.1} %; mean {mean:.3}, {:.1} %; tenth {:.3}, median {:.3}",
            runs.len(),
            effs[0],
            worst_share * 100.0,
            mean_share * 100.0,
            effs[runs.len() / 10],
            effs[runs.len() / 2]
        );
    }
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
