//! Nothing skipped on a schedule: an empty ID list, statuses that are not
//! the platform's, a run in which every customer failed and a night that
//! is empty everywhere never move the `--state` watermark past data that
//! may exist. Every case runs the real binary over loopback HTTP.

use std::process::Output;

use crate::common::*;
use crate::state::{dated, night_with, STATE};
use yuju_export::simulator::Scenario;

/// One scheduled night over `ids`, ending at `end`.
fn night(wd: &Workdir, sim: &Sim, ids: &str, end: &str, extra: &[&str]) -> Output {
    night_with(wd, sim, ids, "n-{start}.csv", end, extra)
}

fn state_bytes(wd: &Workdir) -> Vec<u8> {
    std::fs::read(wd.path(STATE)).unwrap()
}

fn state(wd: &Workdir) -> serde_json::Value {
    serde_json::from_slice(&state_bytes(wd)).unwrap()
}

/// A first night that moves the watermark to 2026-03-06.
fn first_night(wd: &Workdir, sim: &Sim) {
    let o = night(wd, sim, "ids.txt", "2026-03-06", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state(wd)["window_end"], "2026-03-06T00:00:00Z");
}

/// An ID file that is empty, or holds only comments and blank lines, is
/// exit 2 naming the file; the state file is not touched, and no request
/// is made. `--allow-empty` takes it as a run of nothing.
#[test]
fn an_empty_id_list_is_an_error_and_leaves_the_state() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let sim = Sim::start(dated(scenario()));
    first_night(&wd, &sim);
    let before = state_bytes(&wd);
    let requests = sim.requests();
    for (name, text) in [
        ("empty.txt", ""),
        ("comments.txt", "# CRM extract 2026-03-07\n\n   \n# none\n"),
        ("header-only.csv", "customer_id,name\n"),
    ] {
        wd.write(name, text);
        let o = night(&wd, &sim, name, "2026-03-08", &[]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(name) && err.contains("no customer ID"),
            "{err}"
        );
        assert!(err.contains("--allow-empty"), "{err}");
        assert_eq!(state_bytes(&wd), before, "{name}: the state is untouched");
        assert_eq!(sim.requests(), requests, "{name}: nothing was fetched");
        let o = night(&wd, &sim, name, "2026-03-08", &["--dry-run"]);
        assert_eq!(code(&o), 2, "the dry run says it too: {}", stderr(&o));
    }
    let o = night(&wd, &sim, "empty.txt", "2026-03-08", &["--allow-empty"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state(&wd)["window_end"], "2026-03-08T00:00:00Z");
}

/// A wrong path before the API: every customer of a small run gets an
/// HTML 404, which is not the platform's answer. Each is asked twice, the
/// run stops as misdirected (exit 3) however small it is, and the
/// watermark stays.
#[test]
fn a_wrong_path_in_a_small_run_stops_it_and_holds_the_watermark() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let sim = Sim::start(dated(scenario()));
    first_night(&wd, &sim);
    let before = state_bytes(&wd);
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_BASE_URL", format!("{}/wrong", sim.url()))
        .args(["export", "--ids", "ids.txt", "--out", "n-{start}.csv"])
        .args(["--state", STATE, "--start", "2026-03-01", "--end"])
        .args(["2026-03-08", "--tz", "UTC", "--resume", "--summary"])
        .arg("summary.json");
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("HTTP 404 to 5 customer(s)"), "{err}");
    assert!(err.contains("--base-url"), "{err}");
    let s = read_summary(&wd.path("summary.json"));
    assert_eq!(s["stopped_because"], "misdirected");
    assert_eq!(s["retries_by_cause"]["http_status"], 5, "{s}");
    assert_eq!(s["state"]["moved"], false);
    assert_eq!(state_bytes(&wd), before);
    assert_eq!(s["requests"], 10, "each customer asked twice: {s}");
    assert!(
        !wd.path("n-2026-03-06.csv.failed.csv").exists(),
        "the customers are not done, not failed: --resume fetches them"
    );
}

/// A gateway that answers 404 once (a deployment) is retried through; one
/// that keeps answering 404 for some customers fails them as `unknown`,
/// and the watermark holds.
#[test]
fn a_foreign_status_is_retried_once_then_fails_as_unknown() {
    let wd = Workdir::new();
    let mut list = ids(6);
    list.push("status-404-once-a".into());
    list.push("status-404-once-b".into());
    wd.ids("blips.txt", &list);
    let sim = Sim::start(scenario());
    let o = wd.export(&sim, &["--ids", "blips.txt", "--out", "b.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sim.stats().requests_for("status-404-once-a"), 2);
    assert_eq!(read_csv(&wd.path("b.csv")), expected_rows(&list));

    let wd = Workdir::new();
    let mut list = ids(30);
    wd.ids("ids.txt", &list);
    list.insert(3, "status-404-x".into());
    wd.ids("more.txt", &list);
    let sim = Sim::start(dated(scenario()));
    first_night(&wd, &sim);
    let before = state_bytes(&wd);
    let o = night(&wd, &sim, "more.txt", "2026-03-08", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let failed = read_failed_classes(&wd.path("n-2026-03-06.csv.failed.csv"));
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "status-404-x");
    assert_eq!(failed[0].2, "unknown", "{failed:?}");
    assert!(failed[0].1.contains("HTTP 404"), "{failed:?}");
    assert_eq!(sim.stats().requests_for("status-404-x"), 2, "asked twice");
    let s = read_summary(&wd.path("summary.json"));
    assert_eq!(s["state"]["moved"], false, "{s}");
    assert_eq!(state_bytes(&wd), before);
}

/// Every customer failed, each with the platform's definitive answer: the
/// run is complete (exit 1) but says nothing of the window, so the
/// watermark stays.
#[test]
fn a_run_in_which_every_customer_failed_holds_the_watermark() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(4));
    let gone: Vec<String> = (0..4).map(|i| format!("unknown-{i}")).collect();
    wd.ids("gone.txt", &gone);
    let sim = Sim::start(dated(scenario()));
    first_night(&wd, &sim);
    let before = state_bytes(&wd);
    let o = night(&wd, &sim, "gone.txt", "2026-03-08", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let s = read_summary(&wd.path("summary.json"));
    assert_eq!(s["customers"]["failed"], 4);
    assert_eq!(s["state"]["kept_because"], "all_failed", "{s}");
    assert!(
        stderr(&o).contains("every customer failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(state_bytes(&wd), before);
    // One customer answered is enough: definitive failures let it move.
    let mut mixed = gone.clone();
    mixed.push(ids(1).remove(0));
    wd.ids("mixed.txt", &mixed);
    let o = night(&wd, &sim, "mixed.txt", "2026-03-08", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(state(&wd)["window_end"], "2026-03-08T00:00:00Z");
}

/// The platform answers every customer `Code` 2000 with an empty `Data`
/// after a night on which many had chats: the watermark holds and the run
/// exits 1 with both shares; `--accept-empty` takes the night as real.
#[test]
fn a_night_empty_everywhere_after_a_busy_one_holds_the_watermark() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(60));
    let sim = Sim::start(dated(scenario()));
    first_night(&wd, &sim);
    let first = state(&wd);
    let (customers, with_chats) = (
        first["customers"].as_u64().unwrap(),
        first["customers_with_chats"].as_u64().unwrap(),
    );
    assert_eq!(customers, 60);
    assert!(with_chats * 10 >= customers, "{first}");
    let before = state_bytes(&wd);

    let down = Sim::start(dated(Scenario {
        empty_everywhere: true,
        ..scenario()
    }));
    let o = night(&wd, &down, "ids.txt", "2026-03-08", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    let last = format!("{:.1} % of {customers}", 100.0 * with_chats as f64 / 60.0);
    assert!(err.contains("0 % of 60") && err.contains(&last), "{err}");
    assert!(err.contains("--accept-empty"), "{err}");
    let s = read_summary(&wd.path("summary.json"));
    assert_eq!(s["state"]["kept_because"], "empty_everywhere", "{s}");
    assert_eq!(s["customers"]["failed"], 0);
    assert_eq!(state_bytes(&wd), before);

    let o = night(&wd, &down, "ids.txt", "2026-03-08", &["--accept-empty"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(state(&wd)["window_end"], "2026-03-08T00:00:00Z");
    assert_eq!(state(&wd)["customers_with_chats"], 0);
    // After an accepted empty night, the next empty one is not suspect.
    let o = night(&wd, &down, "ids.txt", "2026-03-09", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}
