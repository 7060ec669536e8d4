//! Scheduled exports with `--state`: the watermark, the lookback, the
//! lock, and the `--metrics` textfile. The simulator dates its chats over
//! a fixed calendar and every run gives absolute `--end` dates, so nothing
//! here depends on the clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Output;

use crate::common::*;
use yuju_export::simulator::{Calendar, Fault, Scenario};

pub const STATE: &str = "state.json";

fn calendar() -> Calendar {
    "2026-03-01..2026-03-11".parse().unwrap()
}

/// The test scenario, with dated chats.
pub fn dated(s: Scenario) -> Scenario {
    Scenario {
        calendar: Some(calendar()),
        ..s
    }
}

fn healthy() -> Sim {
    Sim::start(dated(scenario()))
}

/// One night as a crontab runs it: the same line every night, only the
/// end date differs (it would be `today` in the crontab).
fn night(wd: &Workdir, sim: &Sim, end: &str, extra: &[&str]) -> Output {
    night_with(wd, sim, "ids.txt", "night-{start}.csv", end, extra)
}

/// A night of `ids` into `out`, with the state file, the first window's
/// start, `--tz UTC`, `--resume` and `--summary summary.json`.
pub fn night_with(
    wd: &Workdir,
    sim: &Sim,
    ids: &str,
    out: &str,
    end: &str,
    extra: &[&str],
) -> Output {
    let args = [
        "--ids",
        ids,
        "--out",
        out,
        "--state",
        STATE,
        "--start",
        "2026-03-01",
        "--end",
        end,
        "--tz",
        "UTC",
        "--resume",
        "--summary",
        "summary.json",
    ];
    wd.export(sim, &[&args[..], extra].concat())
}

fn state_end(wd: &Workdir) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path(STATE)).unwrap()).unwrap();
    v["window_end"].as_str().unwrap().to_string()
}

/// The summary's `state` object of the last run.
fn watermark(wd: &Workdir) -> serde_json::Value {
    read_summary(&wd.path("summary.json"))["state"].clone()
}

/// Every committed output of the nights, by name.
fn nights(wd: &Workdir, prefix: &str) -> BTreeMap<String, Vec<Row>> {
    wd.files()
        .into_iter()
        .filter(|n| n.starts_with(prefix) && n.ends_with(".csv") && !n.contains(".failed"))
        .map(|n| {
            let rows = read_csv(&wd.path(&n));
            (n, rows)
        })
        .collect()
}

fn key(r: &Row) -> (String, String, u64) {
    (r.customer_id.clone(), r.chat_id.clone(), r.seq)
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

/// One run over `start..end` without --state, into `out`.
fn span_run(wd: &Workdir, sim: &Sim, start: &str, end: &str, out: &str) -> Vec<Row> {
    let o = wd.export(
        sim,
        &[
            "--ids", "ids.txt", "--out", out, "--start", start, "--end", end, "--tz", "UTC",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    read_csv(&wd.path(out))
}

/// A season of nights with `--state`: two nights missed, one night on
/// which some customers failed on transient faults (exit 1), one on which
/// the platform went down (exit 3), and a resume of that night the next
/// day. The watermark moves only after the clean nights, and the nights'
/// files together hold exactly the rows of one run over the whole span:
/// no chat lost, none twice.
#[test]
fn nights_with_state_export_the_whole_span_once() {
    let wd = Workdir::new();
    let list = ids(80);
    wd.ids("ids.txt", &list);
    let sim = healthy();

    // First night: no state yet, so --start opens the window.
    let o = night(&wd, &sim, "2026-03-02", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state_end(&wd), "2026-03-02T00:00:00Z");
    let w = watermark(&wd);
    assert_eq!(w["moved"], true, "{w}");
    assert_eq!(w["window_start"], "2026-03-01T00:00:00Z");

    // Some customers fail on 503s: the output is complete (exit 1), but
    // the watermark stays, and the summary says why.
    let flaky = Sim::start(dated(Scenario {
        fault_rate: 0.3,
        faults: vec![Fault::Status503],
        ..scenario()
    }));
    let o = night(&wd, &flaky, "2026-03-03", &["--retries", "0"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let w = watermark(&wd);
    assert_eq!(
        (w["moved"].clone(), w["kept_because"].clone()),
        (false.into(), "transient_failures".into()),
        "{w}"
    );
    assert!(stderr(&o).contains("watermark kept at 2026-03-02T00:00:00Z"));
    assert_eq!(state_end(&wd), "2026-03-02T00:00:00Z");

    // The next night covers that window again (its file is replaced).
    let o = night(&wd, &sim, "2026-03-04", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(watermark(&wd)["window_start"], "2026-03-02T00:00:00Z");
    assert_eq!(state_end(&wd), "2026-03-04T00:00:00Z");

    // 2026-03-05 is missed. On the 6th the platform goes down mid-run.
    let down = Sim::start(dated(Scenario {
        down_after: Some(10),
        ..scenario()
    }));
    // One request at a time, so that no customer fails before the outage
    // is recognised (such a failure would be committed, and hold the
    // watermark again on the resumed night).
    let o = night(
        &wd,
        &down,
        "2026-03-06",
        &["--retries", "0", "--concurrency", "1"],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let customers = read_summary(&wd.path("summary.json"))["customers"].clone();
    assert_eq!(customers["failed"], 0, "{customers}");
    assert!(customers["not_done"].as_u64().unwrap() > 0, "{customers}");
    let w = watermark(&wd);
    assert_eq!(w["kept_because"], "incomplete", "{w}");
    assert_eq!(state_end(&wd), "2026-03-04T00:00:00Z");
    // The platform comes back at the same address (part of the run).
    let addr = down.sim.addr;
    drop(down);
    let sim = Sim::start_on(addr, dated(scenario()));

    // The next night resumes it and keeps its window (to the 6th), though
    // --end now says the 7th; the dry run says so first. Once that window
    // is done, the same run goes on with the next one, to the 7th, in its
    // own file: the catch-up takes one run, not two nights.
    let o = night(&wd, &sim, "2026-03-07", &["--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(plan.contains("keeping its window"), "{plan}");
    assert!(plan.contains("goes on with the next window"), "{plan}");
    assert!(plan.contains("from the state file state.json"), "{plan}");
    let o = night(&wd, &sim, "2026-03-07", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("keeping the interrupted run's window"),
        "{err}"
    );
    assert!(err.contains("going on with the next window"), "{err}");
    assert!(
        err.contains("watermark moved to 2026-03-06T00:00:00Z"),
        "{err}"
    );
    assert_eq!(state_end(&wd), "2026-03-07T00:00:00Z");
    assert_eq!(watermark(&wd)["window_start"], "2026-03-06T00:00:00Z");

    // 2026-03-08 is missed; the 9th catches up, the 11th ends the span.
    for end in ["2026-03-09", "2026-03-11"] {
        let o = night(&wd, &sim, end, &[]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(!stderr(&o).contains("going on"), "{}", stderr(&o));
        assert_eq!(state_end(&wd), format!("{end}T00:00:00Z"));
    }

    let files = nights(&wd, "night-");
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        [
            "night-2026-03-01.csv",
            "night-2026-03-02.csv",
            "night-2026-03-04.csv",
            "night-2026-03-06.csv",
            "night-2026-03-07.csv",
            "night-2026-03-09.csv"
        ]
    );
    let union: Vec<Row> = files.values().flatten().cloned().collect();
    let distinct: HashSet<_> = union.iter().map(key).collect();
    assert_eq!(distinct.len(), union.len(), "no row is exported twice");

    let whole = span_run(&wd, &sim, "2026-03-01", "2026-03-11", "whole.csv");
    assert_eq!(whole, expected_rows(&list), "the calendar holds every chat");
    for (name, rows) in &files {
        assert!(
            !rows.is_empty() && rows.len() < whole.len(),
            "{name}: each night holds a part of the span"
        );
    }
    assert_eq!(sorted(union), sorted(whole), "no row is lost");
}

/// With --lookback the window starts that long before the recorded end:
/// the overlap is exported twice, and keeping the latest file's copy of
/// each (customer, chat, seq) gives one run's rows over the whole span.
#[test]
fn lookback_overlaps_the_previous_window() {
    let wd = Workdir::new();
    let list = ids(60);
    wd.ids("ids.txt", &list);
    let sim = healthy();
    let run = |end: &str, extra: &[&str]| {
        let args = [
            "--ids",
            "ids.txt",
            "--out",
            "lb-{start}.csv",
            "--state",
            STATE,
            "--start",
            "2026-03-01",
            "--end",
            end,
            "--tz",
            "Asia/Shanghai",
            "--summary",
            "summary.json",
        ];
        let o = wd.export(&sim, &[&args[..], extra].concat());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    run("2026-03-06", &[]);
    run("2026-03-11", &["--lookback", "1d"]);
    let w = watermark(&wd);
    assert_eq!(w["window_start"], "2026-03-05T00:00:00+08:00", "{w}");
    assert_eq!(state_end(&wd), "2026-03-11T00:00:00+08:00");

    let files = nights(&wd, "lb-");
    assert_eq!(files.len(), 2, "{:?}", files.keys());
    let overlap = span_run(&wd, &sim, "2026-03-05", "2026-03-06", "overlap.csv");
    assert!(!overlap.is_empty());
    let first: HashSet<_> = files["lb-2026-03-01.csv"].iter().map(key).collect();
    let twice: HashSet<_> = files["lb-2026-03-05.csv"]
        .iter()
        .map(key)
        .filter(|k| first.contains(k))
        .collect();
    assert_eq!(twice, overlap.iter().map(key).collect::<HashSet<_>>());

    // The DuckDB query of docs/scheduling.md, in Rust: the latest file wins.
    let mut latest: HashMap<_, Row> = HashMap::new();
    for rows in files.values() {
        for r in rows {
            latest.insert(key(r), r.clone());
        }
    }
    let deduplicated = sorted(latest.into_values().collect());
    let whole = span_run(&wd, &sim, "2026-03-01", "2026-03-11", "whole.csv");
    assert_eq!(deduplicated, sorted(whole));
}

/// What --state refuses, before any request (exit 2): a first run
/// without --start, --days, --lookback without --state, a state path that
/// changes with the date, a damaged state file (named with its line), a
/// state file that is another role's file, and an empty window.
#[test]
fn state_usage_errors_exit_2_and_say_what_is_missing() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(3));
    let sim = healthy();
    let base = ["--ids", "ids.txt", "--out", "x.csv", "--tz", "UTC"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--state", STATE], "pass --start for the first run"),
        (
            vec!["--state", STATE, "--start", "2026-03-01", "--days", "7"],
            "--days cannot be used with --state",
        ),
        (
            vec!["--start", "2026-03-01", "--lookback", "2h"],
            "--lookback needs --state",
        ),
        (
            vec!["--state", "s-{date}.json", "--start", "2026-03-01"],
            "only {shard}",
        ),
        (
            vec!["--state", "x.csv.failed.csv", "--start", "2026-03-01"],
            "are the same file",
        ),
    ];
    for (args, needle) in cases {
        let o = wd.export(&sim, &[&base[..], &args].concat());
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    wd.write(STATE, "{\n  \"window_end\": \"last tuesday\"\n}\n");
    let o = wd.export(
        &sim,
        &[&base[..], &["--state", STATE, "--start", "2026-03-01"]].concat(),
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("state.json, line 2"), "{}", stderr(&o));
    assert_eq!(sim.requests(), 0);
    assert!(!wd.path("x.csv").exists());
}

/// A rerun of a day already exported (a catch-up after boot, an
/// operator's second try) is a success that exports nothing: exit 0 with
/// one line, the metrics of a successful run of no rows, the summary's
/// `up_to_date`, and the state file unchanged, byte for byte. Its dry run
/// says so too; `-q` prints nothing.
#[test]
fn a_rerun_of_an_exported_day_is_up_to_date() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let sim = healthy();
    let o = night(&wd, &sim, "2026-03-06", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = std::fs::read(wd.path(STATE)).unwrap();
    let requests = sim.requests();
    for end in ["2026-03-06", "2026-03-05"] {
        let o = night(&wd, &sim, end, &["--metrics", "m.prom"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("up to date: the last completed window ends at 2026-03-06T00:00:00Z"),
            "{err}"
        );
        assert_eq!(std::fs::read(wd.path(STATE)).unwrap(), state, "{end}");
        let (samples, _, _) = read_metrics(&wd.path("m.prom"));
        let sample = |name: &str| samples[&(name.to_string(), String::new())];
        assert_eq!(sample("yuju_export_last_run_exit_code"), 0.0);
        assert_eq!(sample("yuju_export_last_run_rows"), 0.0);
        assert!(sample("yuju_export_last_success_timestamp_seconds") > 0.0);
        let s = read_summary(&wd.path("summary.json"));
        assert_eq!(s["status"], "complete");
        assert_eq!(s["state"]["kept_because"], "up_to_date", "{s}");
        assert_eq!(s["state"]["watermark"], "2026-03-06T00:00:00Z");
    }
    let o = night(&wd, &sim, "2026-03-06", &["-q"]);
    assert_eq!((code(&o), stderr(&o)), (0, String::new()));
    let o = night(&wd, &sim, "2026-03-06", &["--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"));
    assert_eq!(sim.requests(), requests, "nothing was fetched");
    assert!(
        !wd.files().iter().any(|f| f.ends_with(".lock")),
        "{:?}",
        wd.files()
    );
}

/// A second run on the same --state while the first is alive exits 2 at
/// once, whatever its output, and leaves the state alone.
#[test]
fn a_second_run_on_the_same_state_is_refused() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let sim = Sim::start(dated(Scenario {
        latency: std::time::Duration::from_secs(600),
        ..scenario()
    }));
    let args = |out: &'static str| {
        [
            "--ids",
            "ids.txt",
            "--out",
            out,
            "--state",
            STATE,
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-02",
            "--tz",
            "UTC",
        ]
    };
    let mut first = wd.spawn_export(&sim, &args("a.csv"));
    // The first run holds its locks before it sends a request.
    while sim.requests() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let o = wd.export(&sim, &args("b.csv"));
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another yuju-export run") && stderr(&o).contains(STATE),
        "{}",
        stderr(&o)
    );
    assert!(!wd.path(STATE).exists());
}

/// Parse a textfile: (name, labels) → value, and the names with HELP
/// and TYPE lines. Every sample line is `name{labels} value`, with no
/// timestamp.
type Samples = BTreeMap<(String, String), f64>;

fn read_metrics(path: &Path) -> (Samples, HashSet<String>, HashSet<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut samples, mut help, mut typed) = (BTreeMap::new(), HashSet::new(), HashSet::new());
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["#", "HELP", name, ..] => {
                help.insert(name.to_string());
            }
            ["#", "TYPE", name, "gauge"] => {
                typed.insert(name.to_string());
            }
            [series, value] => {
                let (name, labels) = match series.split_once('{') {
                    Some((n, l)) => (n, l.trim_end_matches('}')),
                    None => (series, ""),
                };
                samples.insert(
                    (name.to_string(), labels.to_string()),
                    value.parse().unwrap(),
                );
            }
            _ => panic!("not a textfile line: {line:?}"),
        }
    }
    (samples, help, typed)
}

/// Every metric the shipped alert rules (deploy/alerts.yaml) use is one a
/// run writes: a `--state` night with a customer the platform does not
/// know and one answering a code nobody classified.
#[test]
fn every_metric_of_the_alert_rules_is_written() {
    let wd = Workdir::new();
    let mut list = ids(4);
    wd.ids("ids.txt", &list);
    list.push("unknown-a".into());
    list.push("code-unknown-a".into());
    wd.ids("more.txt", &list);
    let sim = healthy();
    let metrics = ["--metrics", "m.prom"];
    let o = night(&wd, &sim, "2026-03-06", &metrics);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = night_with(
        &wd,
        &sim,
        "more.txt",
        "night-{start}.csv",
        "2026-03-07",
        &metrics,
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let (samples, help, _) = read_metrics(&wd.path("m.prom"));
    let written: HashSet<&str> = samples.keys().map(|(name, _)| name.as_str()).collect();
    let rules =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/alerts.yaml"))
            .unwrap();
    let mut used = BTreeSet::new();
    for (i, _) in rules.match_indices("yuju_export_") {
        let name: String = rules[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        used.insert(name);
    }
    assert!(used.len() >= 6, "{used:?}");
    for name in &used {
        assert!(help.contains(name), "{name} has no HELP line");
        assert!(written.contains(name.as_str()), "{name} has no sample");
    }
}

/// `--metrics` with `--shard`: every sample has the shard label and a
/// HELP and TYPE line, the figures are the summary's, and the watermark is
/// the state's. A later run stopped by the platform updates the last run's
/// figures and keeps the last success.
#[test]
fn metrics_report_the_run_and_keep_the_last_success() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(40));
    let run = |sim: &Sim, end: &str| {
        wd.export(
            sim,
            &[
                "--ids",
                "ids.txt",
                "--out",
                "m-{shard}-{start}.csv",
                "--shard",
                "1/2",
                "--state",
                "state-{shard}.json",
                "--metrics",
                "export-{shard}.prom",
                "--summary",
                "summary.json",
                "--start",
                "2026-03-01",
                "--end",
                end,
                "--tz",
                "UTC",
            ],
        )
    };
    let o = run(&healthy(), "2026-03-11");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = read_summary(&wd.path("summary.json"));
    let (m, help, typed) = read_metrics(&wd.path("export-1of2.prom"));
    let names: HashSet<String> = m.keys().map(|(n, _)| n.clone()).collect();
    for name in [
        "yuju_export_last_run_timestamp_seconds",
        "yuju_export_last_success_timestamp_seconds",
        "yuju_export_last_run_exit_code",
        "yuju_export_last_run_duration_seconds",
        "yuju_export_last_run_rows",
        "yuju_export_last_run_customers",
        "yuju_export_last_run_requests",
        "yuju_export_last_run_retries",
        "yuju_export_window_end_timestamp_seconds",
    ] {
        assert!(names.contains(name), "{name} missing");
    }
    assert_eq!(names, help, "HELP for every metric");
    assert_eq!(names, typed, "TYPE for every metric");
    let get = |m: &Samples, name: &str, label: &str| {
        let labels = if label.is_empty() {
            "shard=\"1of2\"".to_string()
        } else {
            format!("shard=\"1of2\",{label}")
        };
        m[&(name.to_string(), labels)]
    };
    assert!(m.keys().all(|(_, l)| l.starts_with("shard=\"1of2\"")));
    assert_eq!(get(&m, "yuju_export_last_run_exit_code", ""), 0.0);
    assert_eq!(
        get(&m, "yuju_export_last_run_rows", ""),
        summary["rows"].as_f64().unwrap()
    );
    assert_eq!(
        get(&m, "yuju_export_last_run_requests", ""),
        summary["requests"].as_f64().unwrap()
    );
    for status in ["ok", "empty", "failed", "not_done"] {
        assert_eq!(
            get(
                &m,
                "yuju_export_last_run_customers",
                &format!("status=\"{status}\"")
            ),
            summary["customers"][status].as_f64().unwrap(),
            "{status}"
        );
    }
    for (cause, n) in summary["retries_by_cause"].as_object().unwrap() {
        assert_eq!(
            get(
                &m,
                "yuju_export_last_run_retries",
                &format!("cause=\"{cause}\"")
            ),
            n.as_f64().unwrap()
        );
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("state-1of2.json")).unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(state["window_end"].as_str().unwrap()).unwrap();
    assert_eq!(
        get(&m, "yuju_export_window_end_timestamp_seconds", ""),
        end.timestamp() as f64
    );
    let success = get(&m, "yuju_export_last_success_timestamp_seconds", "");
    assert_eq!(
        success,
        get(&m, "yuju_export_last_run_timestamp_seconds", "")
    );

    // The next night the quota is gone (402): exit 3.
    let broke = Sim::start(dated(Scenario {
        quota: Some(0),
        ..scenario()
    }));
    let o = run(&broke, "2026-03-12");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let (later, _, _) = read_metrics(&wd.path("export-1of2.prom"));
    assert_eq!(get(&later, "yuju_export_last_run_exit_code", ""), 3.0);
    assert_eq!(
        get(&later, "yuju_export_last_success_timestamp_seconds", ""),
        success
    );
    assert!(get(&later, "yuju_export_last_run_timestamp_seconds", "") >= success);
    assert_eq!(
        get(&later, "yuju_export_window_end_timestamp_seconds", ""),
        end.timestamp() as f64,
        "the watermark stays"
    );
}

/// A resumed window whose `--out` names no `{start}` does not go on to the
/// next window (it would replace the file just completed): the run says
/// so, and the next run exports the rest.
#[test]
fn a_resumed_window_without_start_in_its_name_waits_for_the_next_run() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(80));
    let night = |sim: &Sim, end: &str| {
        let slow = ["--retries", "0", "--concurrency", "1"];
        night_with(&wd, sim, "ids.txt", "all.csv", end, &slow)
    };
    let down = Sim::start(dated(Scenario {
        down_after: Some(10),
        ..scenario()
    }));
    let o = night(&down, "2026-03-03");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("each run replaces the last one's export"),
        "a fixed --out with --state is warned of: {}",
        stderr(&o)
    );
    let addr = down.sim.addr;
    drop(down);
    let sim = Sim::start_on(addr, dated(scenario()));
    let o = night(&sim, "2026-03-05");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("waits for the next run"), "{err}");
    assert_eq!(state_end(&wd), "2026-03-03T00:00:00Z");
    let o = night(&sim, "2026-03-05");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state_end(&wd), "2026-03-05T00:00:00Z");
}
