//! Surviving the real platform: faults, rate limits, a platform that goes
//! down.

use std::time::Duration;

use crate::common::*;
use yuju_export::simulator::{Fault, Scenario};

/// With 30% of answers faulty — 429 with Retry-After, 500, 502, 503,
/// resets, truncated bodies, HTML with status 200, malformed JSON and hangs
/// beyond `--timeout` — the run exits 0 and its output is byte-identical to
/// a fault-free run's.
#[test]
fn thirty_percent_faults_give_the_fault_free_output() {
    let clean = Sim::healthy();
    let faulty = Sim::start(Scenario {
        fault_rate: 0.3,
        faults: Fault::ALL.to_vec(),
        hang: Duration::from_secs(30),
        retry_after: Duration::from_secs(1),
        seed: 11,
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(120);
    wd.ids("ids.txt", &list);
    let args = |out: &'static str| {
        vec![
            "--ids",
            "ids.txt",
            "--out",
            out,
            "--concurrency",
            "16",
            "--timeout",
            "1s",
            "--retries",
            "8",
            "--retry-base",
            "20ms",
            "--retry-cap",
            "200ms",
            "--summary",
        ]
    };
    let mut a = args("clean.csv");
    a.push("clean.json");
    let o = wd.export(&clean, &a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut a = args("faulty.csv");
    a.push("faulty.json");
    let o = wd.export(&faulty, &a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        std::fs::read(wd.path("clean.csv")).unwrap()
            == std::fs::read(wd.path("faulty.csv")).unwrap(),
        "faulty run's output differs from the clean run's"
    );
    let s = read_summary(&wd.path("faulty.json"));
    assert!(
        faulty
            .stats()
            .faults
            .load(std::sync::atomic::Ordering::Relaxed)
            > 20
    );
    assert!(s["retries"].as_u64().unwrap() > 20, "{s}");
    for cause in ["429", "5xx", "timeout", "bad_body"] {
        assert!(
            s["retries_by_cause"][cause].as_u64().unwrap() > 0,
            "no {cause} retries: {s}"
        );
    }
    assert_eq!(
        s["requests"].as_u64().unwrap(),
        s["retries"].as_u64().unwrap() + 120
    );
}

/// The customers that failed because the platform went down are not
/// written off: the run leaves them not done, and once the platform is back
/// `--resume` fetches them, so the dump ends complete, with no failed file.
#[test]
fn resume_after_platform_down_fetches_the_outage_victims() {
    let sim = Sim::start(Scenario {
        down_after: Some(20),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(300);
    wd.ids("ids.txt", &list);
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--retries",
        "0",
        // One at a time, so the outage starts at a point of the input
        // order (with more, a customer sent before the outage may answer
        // after one that failed in it, which then stays failed).
        "--concurrency",
        "1",
        "--resume",
        "--summary",
        "s.json",
    ];
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["stopped_because"], "platform_down");
    assert_eq!(s["customers"]["failed"], 0, "{s}");
    let failed_partial = wd.path("x.csv.failed.csv.partial");
    if failed_partial.exists() {
        assert!(read_failed(&failed_partial).is_empty());
    }

    // The platform comes back on the same address.
    let addr = sim.sim.addr;
    drop(sim);
    let sim = Sim::start_on(addr, scenario());
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    assert!(!wd.path("x.csv.failed.csv").exists());
}

/// The summary counts the retries that were sent, not those decided and
/// then cancelled by the stop during their backoff: its `requests` and
/// `retries` match what the simulator received.
#[test]
fn summary_counts_only_retries_sent() {
    let sim = Sim::start(Scenario {
        down_after: Some(0),
        ..scenario()
    });
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(200));
    let o = wd.export_to(
        &sim,
        "x.csv",
        &[
            "--retries",
            "1",
            "--retry-base",
            "300ms",
            "--retry-cap",
            "300ms",
            "--concurrency",
            "8",
            "--summary",
            "s.json",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let s = read_summary(&wd.path("s.json"));
    let per_customer = sim.stats().per_customer();
    let sent_retries: u64 = per_customer.values().map(|n| n - 1).sum();
    assert_eq!(s["requests"].as_u64().unwrap(), sim.requests(), "{s}");
    assert_eq!(s["retries"].as_u64().unwrap(), sent_retries, "{s}");
    assert_eq!(s["retries_by_cause"]["5xx"].as_u64().unwrap(), sent_retries);
}

/// A platform that answers 503 to everything after 30 good answers: the
/// run stops with exit 3 within a bounded number of requests (the retry
/// budget), says the platform looks down, and the partial output holds the
/// customers fetched before, intact.
#[test]
fn platform_down_stops_with_exit_3_and_bounded_requests() {
    let sim = Sim::start(Scenario {
        down_after: Some(30),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(1000);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(
        &sim,
        "x.csv",
        &[
            "--concurrency",
            "4",
            "--retry-base",
            "1ms",
            "--retry-cap",
            "5ms",
            "--summary",
            "s.json",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("looks down"), "{}", stderr(&o));
    // 500 tokens at 5 a retry: about 100 retries, plus first tries.
    assert!(
        sim.requests() < 300,
        "{} requests to a dead platform",
        sim.requests()
    );
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["stopped_because"], "platform_down");
    let done = (1000 - s["customers"]["not_done"].as_u64().unwrap()) as usize;
    let answered =
        s["customers"]["ok"].as_u64().unwrap() + s["customers"]["empty"].as_u64().unwrap();
    assert!(done > 0 && answered <= 30, "{s}");
    // Customers that failed before the stop have no rows; the others match.
    assert_partial_is_prefix(&wd, "x.csv", &list, done);
}

/// Against a simulator limited to 20 requests/s, a run with no `--rate`
/// meets the limit, paces under it and exports every customer; the summary
/// reports the limit it measured. (How close the estimate comes, and how
/// few 429s it costs, depends on timing: the limiter's unit tests check it
/// on a virtual clock, and the benchmark on loopback.)
#[test]
fn adaptive_rate_finds_the_limit() {
    let sim = Sim::start(Scenario {
        rate_limit: Some(20),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(60);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(
        &sim,
        "x.csv",
        &[
            "--concurrency",
            "64",
            "--retry-base",
            "200ms",
            "--summary",
            "s.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    let s = read_summary(&wd.path("s.json"));
    assert!(
        s["retries_by_cause"]["429"].as_u64().unwrap_or(0) > 0,
        "the simulator never limited the run: {s}"
    );
    let rate = s["settled_rate"].as_f64().expect("the limiter engaged");
    assert!(rate.is_finite() && rate > 0.0, "settled on {rate}");
    assert!(
        stderr(&o).contains(&format!("rate {rate:.1}/s")),
        "{}",
        stderr(&o)
    );
}

/// `--rate` caps requests per second: a 12-customer run at 4/s takes at
/// least the 2.75 s its schedule needs (slots 0, 0.25, ... 2.75 s).
#[test]
fn rate_cap_paces_requests() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(12));
    let start = std::time::Instant::now();
    let o = wd.export_to(&sim, "x.csv", &["--rate", "4", "--concurrency", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(start.elapsed() >= Duration::from_millis(2750));
}

/// A Retry-After longer than `--max-retry-after` fails the customer at once
/// instead of sleeping.
#[test]
fn long_retry_after_fails_the_customer() {
    let sim = Sim::start(Scenario {
        fault_rate: 1.0,
        faults: vec![Fault::TooMany],
        retry_after: Duration::from_secs(3600),
        ..scenario()
    });
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    let o = wd.export_to(&sim, "x.csv", &["--summary", "s.json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["failed_by_kind"]["retry_after_too_long"], 2);
    assert_eq!(sim.requests(), 2);
    let failed = read_failed(&wd.path("x.csv.failed.csv"));
    assert!(failed[0].1.contains("3600"), "{failed:?}");
}
