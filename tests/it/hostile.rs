//! A hostile or broken network: server text that quotes the key or forges
//! log lines, answers without end, gzip bombs, redirects and a wrong base
//! URL, plain http to another host.

use crate::common::*;

/// A `Msg` that quotes the request line (the key in its query string) and
/// holds `\r\n` reaches neither stderr nor the failed file as it came: the
/// key is `<redacted>`, the line break is escaped, and a 5 MB `Msg` is cut.
#[test]
fn server_text_is_redacted_escaped_and_cut() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let mut list = ids(3);
    list.push("echo-1".into());
    list.push("echo-big-2".into());
    wd.ids("ids.txt", &list);
    let o = wd.export_to(&sim, "x.csv", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains(KEY), "the key reached stderr");
    assert!(err.len() < 20_000, "stderr holds {} bytes", err.len());
    assert!(
        !err.lines()
            .any(|l| l.starts_with("2026-11-27T03:00:00Z ERROR forged")),
        "a forged log line: {err}"
    );
    let failed = read_failed(&wd.path("x.csv.failed.csv"));
    assert_eq!(failed.len(), 2);
    for (id, error) in &failed {
        assert!(!error.contains(KEY), "{id}: {error}");
        assert!(error.contains("apiKey=<redacted>"), "{id}: {error}");
        assert!(
            !error.contains('\r') && !error.contains('\n'),
            "{id}: {error}"
        );
        assert!(error.contains("\\r\\n"), "{id}: {error}");
        assert!(
            error.chars().count() < 700,
            "{id}: {} chars",
            error.chars().count()
        );
    }
    assert!(failed[1].1.contains("more characters"), "{}", failed[1].1);
}

/// An answer that never ends and a gzip bomb each fail their customer
/// alone, once (no retry: the same answer would come back), with a kind of
/// their own; the others are exported.
#[test]
fn oversized_answers_fail_their_customer_once() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let good = ids(4);
    let mut list = good.clone();
    list.insert(1, "endless-1".into());
    list.insert(3, "bomb-1".into());
    wd.ids("ids.txt", &list);
    let o = wd.export_to(
        &sim,
        "x.csv",
        &["--max-response-bytes", "8MiB", "--summary", "s.json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&good));
    let failed = read_failed(&wd.path("x.csv.failed.csv"));
    let failed_ids: Vec<&str> = failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed_ids, ["endless-1", "bomb-1"]);
    assert!(
        failed[0].1.contains("--max-response-bytes"),
        "{}",
        failed[0].1
    );
    for id in ["endless-1", "bomb-1"] {
        assert_eq!(sim.stats().requests_for(id), 1, "{id} was retried");
    }
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["failed_by_kind"]["response_too_large"], 2);
}

/// Customer after customer redirected elsewhere: each is asked twice, after
/// 20 the run stops with exit 3, names the status and the target without
/// its query, and leaves those customers not done rather than failed.
#[test]
fn a_redirecting_address_stops_the_run() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list: Vec<String> = (0..200).map(|i| format!("redirect-{i}")).collect();
    wd.ids("ids.txt", &list);
    let o = wd.export_to(
        &sim,
        "x.csv",
        &["--concurrency", "2", "--summary", "s.json"],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("HTTP 302"), "{err}");
    assert!(err.contains("https://elsewhere.example/login"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    // Each customer is asked at most twice, and the run stops long before
    // the list's 400 requests (a retry waits for a permit that the
    // dispatcher may give a new customer first, so a few more than 20
    // customers can have started).
    let per = sim.stats().per_customer();
    assert!(per.values().all(|&n| n <= 2), "{per:?}");
    assert!(sim.requests() < 100, "{} requests", sim.requests());
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["stopped_because"], "misdirected");
    assert_eq!(s["customers"]["failed"], 0);
    assert!(!wd.path("x.csv.failed.csv").exists());
}

/// A base URL with a wrong path: every request is a 404, and the run stops
/// after 20 customers (each asked twice) instead of sending two requests
/// per customer.
#[test]
fn a_wrong_base_path_stops_after_twenty_customers() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(500));
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_BASE_URL", format!("{}/wrong/prefix", sim.url()))
        .args([
            "export",
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--summary",
            "s.json",
        ]);
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("HTTP 404"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--base-url"), "{}", stderr(&o));
    // The simulator counts only requests to the API's path.
    let requests = read_summary(&wd.path("s.json"))["requests"]
        .as_u64()
        .unwrap();
    assert!(requests < 200, "{requests} requests of the list's 1000");
}

/// Plain http to another host would send the key in clear text: refused
/// (exit 2) unless --allow-insecure-http; loopback is fine.
#[test]
fn plain_http_to_another_host_needs_a_flag() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    let args = ["--ids", "ids.txt", "--out", "x.csv", "--dry-run"];
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_BASE_URL", "http://api.example.com")
        .arg("export")
        .args(args);
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--allow-insecure-http"),
        "{}",
        stderr(&o)
    );
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_BASE_URL", "http://api.example.com")
        .arg("export")
        .args(args)
        .arg("--allow-insecure-http");
    assert_eq!(code(&cmd.output().unwrap()), 0);
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "loopback http is fine: {}", stderr(&o));
}
