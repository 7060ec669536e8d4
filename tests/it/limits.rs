//! The export against each design of the platform's rate limit: whatever
//! counts the limit, every customer's rows come out once, in input order.
//! Timings belong to the benchmark (`bench/run.sh limits`), not here.

use std::time::Duration;

use yuju_export::simulator::{LimitModel, Scenario};

use crate::common::*;

/// Export 40 customers at concurrency 64 against a 10/s limit counted by
/// `model`, with the default retry settings, and check the exact output.
fn exports_everything(scenario: Scenario) {
    let sim = Sim::start(Scenario {
        rate_limit: Some(10),
        latency: Duration::from_millis(10),
        ..scenario
    });
    let wd = Workdir::new();
    let list = ids(40);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(&sim, "x.csv", &["--concurrency", "64"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}

/// Fixed windows on wall-clock seconds, 429s at once.
#[test]
fn fixed_wall_clock_windows() {
    exports_everything(Scenario {
        limit_model: LimitModel::Fixed,
        ..scenario()
    });
}

/// Fixed windows from the first request.
#[test]
fn fixed_windows_from_the_first_request() {
    exports_everything(Scenario {
        limit_model: LimitModel::FixedFromFirst,
        ..scenario()
    });
}

/// A sliding one-second window.
#[test]
fn sliding_window() {
    exports_everything(Scenario {
        limit_model: LimitModel::Sliding,
        ..scenario()
    });
}

/// A token bucket with a burst twice the limit.
#[test]
fn token_bucket() {
    exports_everything(Scenario {
        limit_model: LimitModel::Bucket,
        burst: Some(20),
        ..scenario()
    });
}

/// 429s that come back after the accepted answers would.
#[test]
fn late_429s() {
    exports_everything(Scenario {
        throttle_delay: Duration::from_millis(200),
        ..scenario()
    });
}

/// A limit that falls to 4/s after one second and comes back at three.
#[test]
fn scheduled_limit() {
    exports_everything(Scenario {
        rate_schedule: "1s=4,3s=10".parse().unwrap(),
        ..scenario()
    });
}

/// A customer answered 429 more often than `--retries` allows other faults
/// is still exported: 429s pace the run, they do not fail a customer
/// until four times `--retries` of them. The simulator answers a
/// `throttled…` customer's first six requests 429, one more than the
/// default `--retries 5` would allow.
#[test]
fn throttled_customers_are_not_failed_by_retries_meant_for_faults() {
    let wd = Workdir::new();
    let mut list = ids(6);
    list.insert(3, "throttled-a".to_string());
    wd.ids("ids.txt", &list);
    // Each run spends seconds on the paced 429s: run the two at once.
    let (defaults, one_retry) = std::thread::scope(|s| {
        let defaults = s.spawn(|| {
            wd.export(
                &Sim::start(scenario()),
                &["--ids", "ids.txt", "--out", "x.csv", "--summary", "s.json"],
            )
        });
        let one_retry = s.spawn(|| {
            wd.export(
                &Sim::start(scenario()),
                &[
                    "--ids",
                    "ids.txt",
                    "--out",
                    "y.csv",
                    "--retries",
                    "1",
                    "--failed",
                    "f.csv",
                ],
            )
        });
        (defaults.join().unwrap(), one_retry.join().unwrap())
    });

    let o = defaults;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    let s = read_summary(&wd.path("s.json"));
    let first = yuju_export::simulator::THROTTLED_FIRST;
    assert_eq!(s["retries_by_cause"]["429"].as_u64(), Some(first), "{s}");
    // The summary line states the share of requests answered 429.
    let requests = s["requests"].as_u64().unwrap();
    let share = format!(
        "answered 429: {:.1} % of requests",
        100.0 * first as f64 / requests as f64
    );
    assert!(stderr(&o).contains(&share), "{share}: {}", stderr(&o));

    // --retries 1 allows four 429s: the throttled customer fails after its
    // fifth attempt, and the others are exported.
    let o = one_retry;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let failed = std::fs::read_to_string(wd.path("f.csv")).unwrap();
    let failed: Vec<_> = failed.lines().skip(1).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("throttled-a,"), "{failed:?}");
    assert!(failed[0].contains("gave up after 5 attempts"), "{failed:?}");
    let rest: Vec<_> = list
        .iter()
        .filter(|id| !id.starts_with("throttled"))
        .cloned()
        .collect();
    assert_eq!(read_csv(&wd.path("y.csv")), expected_rows(&rest));
}
