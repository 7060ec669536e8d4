//! The data-stack executables, run as a pipeline runs them: `tap-yuju`
//! (Singer) and `source-yuju` (Airbyte) against the simulator over
//! loopback. Their records are held to what `export` writes for the same
//! window; their state to the `--state` policy; their output streams to
//! nothing but protocol messages, and never the key.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::common::*;
use yuju_export::simulator::{Calendar, Scenario};

pub(crate) const TAP: &str = env!("CARGO_BIN_EXE_tap-yuju");
pub(crate) const SOURCE: &str = env!("CARGO_BIN_EXE_source-yuju");

pub(crate) fn dated() -> Scenario {
    Scenario {
        calendar: Some("2026-03-01..2026-03-11".parse::<Calendar>().unwrap()),
        ..scenario()
    }
}

/// A pipeline config for `ids` against `sim`.
pub(crate) fn config(
    wd: &Workdir,
    sim: &Sim,
    ids: &[String],
    end: &str,
    extra: Value,
) -> std::path::PathBuf {
    let mut c = json!({
        "api_key": KEY,
        "customer_ids": ids,
        "start_date": "2026-03-01",
        "end_date": end,
        "tz": "UTC",
        "base_url": sim.url(),
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    wd.write("config.json", c.to_string())
}

pub(crate) fn run(exe: &str, wd: &Workdir, args: &[&str]) -> Output {
    Command::new(exe)
        .current_dir(wd.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A configured catalog of the stream with every property.
fn any_catalog(wd: &Workdir) {
    wd.write(
        "catalog.json",
        json!({"streams": [{"stream": {"name": "chat_messages", "json_schema": {}},
            "sync_mode": "incremental", "destination_sync_mode": "append"}]})
        .to_string(),
    );
}

/// `source-yuju read` of config.json and catalog.json, with `extra`.
fn read(wd: &Workdir, extra: &[&str]) -> Output {
    let args = [
        "read",
        "--config",
        "config.json",
        "--catalog",
        "catalog.json",
    ];
    run(SOURCE, wd, &[&args[..], extra].concat())
}

/// Every stdout line, parsed; a line that is not JSON fails the test.
pub(crate) fn messages(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A record's data by its key, window fields left out.
pub(crate) type Table = BTreeMap<(String, String, u64), Value>;

pub(crate) fn keyed(data: &Value) -> ((String, String, u64), Value) {
    let mut d = data.clone();
    let o = d.as_object_mut().unwrap();
    o.remove("window_start");
    o.remove("window_end");
    let key = (
        o["customer_id"].as_str().unwrap().to_string(),
        o["chat_id"].as_str().unwrap().to_string(),
        o["seq"].as_u64().unwrap(),
    );
    (key, d)
}

/// What `export` writes for the window, every column, as a table.
pub(crate) fn truth(wd: &Workdir, sim: &Sim, start: &str, end: &str) -> Table {
    let o = wd.export(
        sim,
        &[
            "--ids",
            "ids.txt",
            "--out",
            "truth.jsonl",
            "--start",
            start,
            "--end",
            end,
            "--tz",
            "UTC",
            "--columns",
            "customer_id,chat_id,seq,sender_type,message_type,content,extra,chat_extra",
            "--failed",
            "truth-failed.csv",
        ],
    );
    assert!(code(&o) <= 1, "{}", stderr(&o));
    let text = std::fs::read_to_string(wd.path("truth.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for k in ["extra", "chat_extra"] {
                if v[k] == json!({}) {
                    v[k] = Value::Null;
                }
            }
            keyed(&v)
        })
        .collect()
}

pub(crate) fn singer_table(msgs: &[Value]) -> Table {
    msgs.iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| keyed(&m["record"]))
        .collect()
}

fn singer_states(msgs: &[Value]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| m["type"] == "STATE")
        .map(|m| m["value"].clone())
        .collect()
}

fn customers() -> Vec<String> {
    let mut list = ids(12);
    list.insert(3, "drift-a".into());
    list.insert(6, "code-busy-a".into());
    list
}

/// A Singer sync writes a SCHEMA, then every row of the window as a
/// RECORD (the same rows `export` writes, `extra` intact), then a STATE
/// whose bookmark is the window's end; stdout holds nothing else.
#[test]
fn a_singer_sync_writes_the_windows_rows_and_moves_the_bookmark() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let list = customers();
    wd.ids("ids.txt", &list);
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let o = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    assert_eq!(msgs[0]["type"], "SCHEMA");
    assert_eq!(
        msgs[0]["key_properties"],
        json!(["customer_id", "chat_id", "seq"])
    );
    assert!(msgs
        .iter()
        .all(|m| ["SCHEMA", "RECORD", "STATE"].contains(&m["type"].as_str().unwrap())));
    let table = singer_table(&msgs);
    let records = msgs.iter().filter(|m| m["type"] == "RECORD").count();
    assert_eq!(records, table.len(), "no row twice");
    let truth = truth(&wd, &sim, "2026-03-01", "2026-03-05");
    assert!(!truth.is_empty());
    assert_eq!(table, truth);
    assert!(
        table.values().any(|r| r["extra"].is_object()),
        "the drift customer's undocumented fields come through"
    );
    let last = singer_states(&msgs).pop().unwrap();
    assert_eq!(
        last,
        json!({"bookmarks": {"chat_messages": {"window_end": "2026-03-05T00:00:00Z"}}})
    );
    let r = msgs.iter().find(|m| m["type"] == "RECORD").unwrap();
    assert_eq!(r["record"]["window_start"], "2026-03-01T00:00:00Z");
    assert_eq!(r["record"]["window_end"], "2026-03-05T00:00:00Z");
}

/// The next sync, given the last state, asks the platform only for the
/// new window, and its rows are that window's.
#[test]
fn the_next_singer_sync_asks_only_for_the_new_window() {
    let wd = Workdir::new();
    let list = ids(6);
    wd.ids("ids.txt", &list);
    let first = Sim::start(dated());
    config(&wd, &first, &list, "2026-03-04", json!({}));
    let o = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = singer_states(&messages(&o)).pop().unwrap();
    wd.write("state.json", state.to_string());

    let second = Sim::start(dated());
    config(&wd, &second, &list, "2026-03-07", json!({}));
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--state", "state.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let windows: BTreeSet<(String, String)> = second.stats().windows();
    assert_eq!(
        windows,
        BTreeSet::from([(
            "2026-03-04 00:00:00".to_string(),
            "2026-03-07 00:00:00".to_string()
        )])
    );
    let msgs = messages(&o);
    assert_eq!(
        singer_table(&msgs),
        truth(&wd, &second, "2026-03-04", "2026-03-07")
    );
    assert_eq!(
        singer_states(&msgs).pop().unwrap()["bookmarks"]["chat_messages"]["window_end"],
        "2026-03-07T00:00:00Z"
    );
}

/// A sync killed with SIGKILL mid-window, run again with the last state
/// it emitted, loses nothing: the two syncs' records, merged on the key,
/// are the window's rows; the second skips what the state counted.
#[test]
fn a_killed_singer_sync_continues_from_its_last_state() {
    let wd = Workdir::new();
    let list = ids(60);
    wd.ids("ids.txt", &list);
    let slow = Sim::start(Scenario {
        latency: std::time::Duration::from_millis(30),
        ..dated()
    });
    config(&wd, &slow, &list, "2026-03-05", json!({"concurrency": 2}));
    let mut child = Command::new(TAP)
        .current_dir(wd.dir.path())
        .args(["--config", "config.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut state = None;
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["type"] == "STATE" {
            let committed = v["value"]["bookmarks"]["chat_messages"]["in_progress"]["committed"]
                .as_u64()
                .unwrap_or(0);
            state = Some(v["value"].clone());
            if committed >= 10 {
                break;
            }
        }
        seen.push(v);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let state = state.expect("a state before the kill");
    let committed = state["bookmarks"]["chat_messages"]["in_progress"]["committed"]
        .as_u64()
        .unwrap();
    assert!(committed < list.len() as u64, "killed mid-window");
    wd.write("state.json", state.to_string());

    let sim = Sim::start(dated());
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--state", "state.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let asked = sim.stats().per_customer();
    assert_eq!(
        asked.len() as u64,
        list.len() as u64 - committed,
        "only the customers the state did not count are fetched again"
    );
    let msgs = messages(&o);
    let mut table = singer_table(&seen);
    table.extend(singer_table(&msgs));
    assert_eq!(table, truth(&wd, &sim, "2026-03-01", "2026-03-05"));
}

/// A customer that keeps failing on transient faults holds the bookmark:
/// the final state keeps the old one, so the window is exported again.
#[test]
fn a_transient_failure_holds_the_bookmark() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let mut list = ids(3);
    list.push("code-busy-forever-a".into());
    config(&wd, &sim, &list, "2026-03-05", json!({"retries": 1}));
    wd.write(
        "state.json",
        json!({"bookmarks": {"chat_messages": {"window_end": "2026-03-03T00:00:00Z"}}}).to_string(),
    );
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--state", "state.json"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("code-busy-forever-a"),
        "the failure is logged"
    );
    let last = singer_states(&messages(&o)).pop().unwrap();
    assert_eq!(
        last,
        json!({"bookmarks": {"chat_messages": {"window_end": "2026-03-03T00:00:00Z"}}})
    );
}

/// A catalog that deselects properties leaves them out of the records
/// (keys stay), and one that deselects the stream syncs nothing.
#[test]
fn the_catalog_selects_properties() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let list = ids(3);
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let o = run(TAP, &wd, &["--config", "config.json", "--discover"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut catalog: Value = serde_json::from_slice(&o.stdout).unwrap();
    for m in catalog["streams"][0]["metadata"].as_array_mut().unwrap() {
        if m["breadcrumb"] == json!(["properties", "content"]) {
            m["metadata"]["selected"] = json!(false);
        }
        if m["breadcrumb"] == json!([]) {
            m["metadata"]["selected"] = json!(true);
        }
    }
    wd.write("catalog.json", catalog.to_string());
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--catalog", "catalog.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    let records: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "RECORD").collect();
    assert!(!records.is_empty());
    assert!(records
        .iter()
        .all(|r| r["record"].get("content").is_none() && r["record"].get("seq").is_some()));
    assert!(msgs[0]["schema"]["properties"].get("content").is_none());
}

/// An Airbyte read writes RECORD, STATE and LOG messages only, the same
/// rows as `export`, a per-stream state with the new cursor; `spec`,
/// `check` and `discover` answer as the protocol says.
#[test]
fn an_airbyte_read_writes_the_windows_rows_and_a_stream_state() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let list = customers();
    wd.ids("ids.txt", &list);
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let spec = messages(&run(SOURCE, &wd, &["spec"]));
    assert_eq!(spec[0]["type"], "SPEC");
    assert_eq!(
        spec[0]["spec"]["connectionSpecification"]["properties"]["api_key"]["airbyte_secret"],
        true
    );
    let check = messages(&run(SOURCE, &wd, &["check", "--config", "config.json"]));
    assert_eq!(
        check,
        [json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})]
    );
    let o = run(SOURCE, &wd, &["discover", "--config", "config.json"]);
    let catalog = &messages(&o)[0]["catalog"];
    let stream = &catalog["streams"][0];
    assert_eq!(stream["source_defined_cursor"], true);
    assert_eq!(stream["default_cursor_field"], json!(["window_end"]));
    let configured = json!({"streams": [{
        "stream": stream,
        "sync_mode": "incremental",
        "destination_sync_mode": "append_dedup",
        "cursor_field": ["window_end"],
        "primary_key": [["customer_id"], ["chat_id"], ["seq"]],
    }]});
    wd.write("catalog.json", configured.to_string());
    let o = read(&wd, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    assert!(msgs
        .iter()
        .all(|m| ["RECORD", "STATE", "LOG"].contains(&m["type"].as_str().unwrap())));
    let table: Table = msgs
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| {
            assert_eq!(m["record"]["stream"], "chat_messages");
            keyed(&m["record"]["data"])
        })
        .collect();
    assert_eq!(table, truth(&wd, &sim, "2026-03-01", "2026-03-05"));
    let state = msgs.iter().rfind(|m| m["type"] == "STATE").unwrap();
    assert_eq!(state["state"]["type"], "STREAM");
    assert_eq!(
        state["state"]["stream"]["stream_state"],
        json!({"window_end": "2026-03-05T00:00:00Z"})
    );
}

/// A wrong key: `check` answers FAILED (exit 0, no key in it); `read`
/// stops with exit 3 and a TRACE of failure_type config_error.
#[test]
fn a_wrong_key_fails_check_and_read_without_showing_it() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let wrong = "sk-WRONG-4242-secret";
    config(&wd, &sim, &ids(2), "2026-03-05", json!({"api_key": wrong}));
    let o = run(SOURCE, &wd, &["check", "--config", "config.json"]);
    assert_eq!(code(&o), 0);
    let msgs = messages(&o);
    assert_eq!(msgs[0]["connectionStatus"]["status"], "FAILED");
    any_catalog(&wd);
    let read = read(&wd, &[]);
    assert_eq!(code(&read), 3, "{}", stderr(&read));
    let trace = messages(&read)
        .into_iter()
        .find(|m| m["type"] == "TRACE")
        .expect("a TRACE");
    assert_eq!(trace["trace"]["error"]["failure_type"], "config_error");
    let tap = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&tap), 3, "{}", stderr(&tap));
    for out in [&o, &read, &tap] {
        for stream in [&out.stdout, &out.stderr] {
            assert!(!String::from_utf8_lossy(stream).contains(wrong));
        }
    }
}

/// The key stays out of every stream of both executables, even when the
/// platform quotes the request line (key and all) in an answer.
#[test]
fn the_key_never_shows_on_either_stream() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let mut list = ids(3);
    list.push("echo-a".into());
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    any_catalog(&wd);
    let tap = run(TAP, &wd, &["--config", "config.json"]);
    let source = read(&wd, &[]);
    for out in [&tap, &source] {
        // The echo is a definitive answer: logged, and the sync succeeds.
        assert_eq!(code(out), 0, "{}", stderr(out));
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(KEY), "{text}");
        }
    }
    assert!(String::from_utf8_lossy(&source.stdout).contains("echo-a"));
}

/// Each bad config gets a clear message and exit 2, and stdout holds only
/// protocol messages: nothing from the tap, one TRACE from the source.
#[test]
fn bad_configs_are_named_and_exit_2() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let good = json!({"api_key": KEY, "customer_ids": ["a"], "start_date": "2026-03-01",
        "base_url": sim.url()});
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases = [
        (without("api_key"), "api_key"),
        (with("ids_file", json!("ids.txt")), "both"),
        (without("customer_ids"), "customer_ids"),
        (with("start_date", json!("the first of March")), "--start"),
        (with("start_dat", json!("2026-03-01")), "start_dat"),
    ];
    any_catalog(&wd);
    for (config, says) in cases {
        wd.write("config.json", config.to_string());
        let tap = run(TAP, &wd, &["--config", "config.json"]);
        assert_eq!(code(&tap), 2, "{config}: {}", stderr(&tap));
        assert!(tap.stdout.is_empty() || messages(&tap).iter().all(|m| m["type"] == "SCHEMA"));
        assert!(stderr(&tap).contains(says), "{says}: {}", stderr(&tap));
        let read = read(&wd, &[]);
        assert_eq!(code(&read), 2, "{config}: {}", stderr(&read));
        let msgs = messages(&read);
        assert!(
            msgs.iter()
                .all(|m| m["type"] == "TRACE" || m["type"] == "LOG"),
            "{msgs:?}"
        );
        let trace = msgs.iter().find(|m| m["type"] == "TRACE").unwrap();
        assert_eq!(trace["trace"]["error"]["failure_type"], "config_error");
        assert!(
            trace["trace"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{trace}"
        );
    }
    // A state that is not JSON is an error, never a first sync.
    wd.write("config.json", good.to_string());
    wd.write("state.json", "window_end: yesterday");
    let tap = run(
        TAP,
        &wd,
        &["--config", "config.json", "--state", "state.json"],
    );
    assert_eq!(code(&tap), 2, "{}", stderr(&tap));
    assert!(stderr(&tap).contains("state"), "{}", stderr(&tap));
    let read = read(&wd, &["--state", "state.json"]);
    assert_eq!(code(&read), 2);
    assert_eq!(messages(&read)[0]["type"], "TRACE");
    assert_eq!(sim.requests(), 0, "nothing was requested");
}

/// The `yuju-export` binary run under the name `tap-yuju` or
/// `source-yuju` (a link, as the packages install them) is that
/// executable.
#[test]
fn one_binary_answers_to_all_three_names() {
    let wd = Workdir::new();
    for name in ["tap-yuju", "source-yuju"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_yuju-export"), wd.path(name)).unwrap();
    }
    let about = Command::new(wd.path("tap-yuju"))
        .args(["--about", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&about), 0, "{}", stderr(&about));
    let about: Value = serde_json::from_slice(&about.stdout).unwrap();
    assert_eq!(about["name"], "tap-yuju");
    assert_eq!(
        about["capabilities"],
        json!(["catalog", "discover", "state", "about"])
    );
    let spec = Command::new(wd.path("source-yuju"))
        .arg("spec")
        .output()
        .unwrap();
    assert_eq!(code(&spec), 0);
    let spec: Value = serde_json::from_slice(&spec.stdout).unwrap();
    assert_eq!(spec["type"], "SPEC");
}

/// A few customers the platform does not know (`Code` 4000) do not fail
/// every nightly sync: both executables exit 0, the bookmark moves as
/// `--state` does, the failures are logged naming the customers, and the
/// Airbyte source sends no failure TRACE.
#[test]
fn final_answers_for_a_few_customers_do_not_fail_the_sync() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let mut list = ids(4);
    list.insert(2, "unknown-gone".into());
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    any_catalog(&wd);
    let o = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown-gone"), "{}", stderr(&o));
    let last = singer_states(&messages(&o)).pop().unwrap();
    assert_eq!(
        last["bookmarks"]["chat_messages"]["window_end"], "2026-03-05T00:00:00Z",
        "{last}"
    );
    let o = read(&wd, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    assert!(!msgs.iter().any(|m| m["type"] == "TRACE"), "{msgs:?}");
    let logged = msgs.iter().filter(|m| m["type"] == "LOG").any(|m| {
        m["log"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown-gone")
    });
    assert!(logged, "the failure is a LOG message naming the customer");
    let state = msgs.iter().rfind(|m| m["type"] == "STATE").unwrap();
    assert_eq!(
        state["state"]["stream"]["stream_state"]["window_end"],
        "2026-03-05T00:00:00Z"
    );
}

/// `check` fails a config without `start_date` with the message `read`
/// would give, instead of passing and leaving the first sync to fail; the
/// spec marks the key required.
#[test]
fn check_needs_a_start_date_as_read_does() {
    let wd = Workdir::new();
    let sim = Sim::start(dated());
    let list = ids(2);
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(wd.path("config.json")).unwrap()).unwrap();
    c.as_object_mut().unwrap().remove("start_date");
    wd.write("config.json", c.to_string());
    let check = messages(&run(SOURCE, &wd, &["check", "--config", "config.json"]));
    assert_eq!(
        check[0]["connectionStatus"]["status"], "FAILED",
        "{check:?}"
    );
    let said = check[0]["connectionStatus"]["message"].as_str().unwrap();
    assert!(said.contains("no start_date"), "{said}");
    let spec = messages(&run(SOURCE, &wd, &["spec"]));
    let required = &spec[0]["spec"]["connectionSpecification"]["required"];
    assert!(required.as_array().unwrap().contains(&json!("start_date")));
}

/// A platform whose `GET /v1/openapi/check` answers 404 (its shape comes
/// from a secondary source): `check` proves the key with the record
/// endpoint instead, so a valid key never fails it and a wrong one still
/// does.
#[test]
fn check_proves_the_key_with_the_record_endpoint_when_check_is_missing() {
    let wd = Workdir::new();
    let sim = Sim::start(Scenario {
        no_check: true,
        ..dated()
    });
    let list = ids(2);
    config(&wd, &sim, &list, "2026-03-05", json!({}));
    let check = messages(&run(SOURCE, &wd, &["check", "--config", "config.json"]));
    assert_eq!(
        check[0]["connectionStatus"]["status"], "SUCCEEDED",
        "{check:?}"
    );
    assert_eq!(
        sim.stats().requests_for("key-check"),
        1,
        "the record endpoint was asked"
    );
    config(
        &wd,
        &sim,
        &list,
        "2026-03-05",
        json!({"api_key": "wrong-key"}),
    );
    let check = messages(&run(SOURCE, &wd, &["check", "--config", "config.json"]));
    assert_eq!(
        check[0]["connectionStatus"]["status"], "FAILED",
        "{check:?}"
    );
    let said = check[0]["connectionStatus"]["message"].as_str().unwrap();
    assert!(
        said.contains("refused the API key") && !said.contains("wrong-key"),
        "{said}"
    );
}
