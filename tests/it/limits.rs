//! The export against each design of the platform's rate limit: whatever
//! counts the limit, every customer's rows come out once, in input order.
//! Timings belong to the benchmark (`bench/run.sh limits`), not here.

use std::time::Duration;

use yuju_export::simulator::{LimitModel, Scenario};

use crate::common::*;

/// Export 40 customers at concurrency 64 against a 10/s limit counted by
/// `model`, and check the exact output.
fn exports_everything(scenario: Scenario) {
    let sim = Sim::start(Scenario {
        rate_limit: Some(10),
        latency: Duration::from_millis(10),
        ..scenario
    });
    let wd = Workdir::new();
    let list = ids(40);
    wd.ids("ids.txt", &list);
    let o = wd.export(
        &sim,
        &[
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--concurrency",
            "64",
            "--retries",
            "10",
            "--retry-base",
            "200ms",
        ],
    );
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
