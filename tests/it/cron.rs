//! For the crontab and for analysts: relative windows, path templates,
//! quiet success, dry runs, shards, Excel-friendly CSV, completions, man.

use std::collections::HashSet;

use chrono::{Days, Utc};
use serde_json::json;
use wiremock::matchers::{body_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use yuju_export::config::shard::Shard;
use yuju_export::simulator::EXAMPLE_CUSTOMER;

/// `--start yesterday --end today --tz Asia/Shanghai` sends yesterday's
/// midnight to today's midnight in Shanghai, whatever the machine's zone.
#[tokio::test]
async fn relative_window_resolves_in_the_given_zone() {
    let server = MockServer::start().await;
    let today =
        |now: chrono::DateTime<Utc>| now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let before = today(Utc::now());
    for day in [before, before + Days::new(1)] {
        let start = format!("{} 00:00:00", day - Days::new(1));
        let end = format!("{day} 00:00:00");
        Mock::given(method("POST"))
            .and(body_json(json!({
                "customer_id": "c1", "days": "", "start_time": start, "end_time": end,
                "chat_source": [], "chat_robot": [], "seat_member": []
            })))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"Code":2000,"Data":[]}"#, "application/json"),
            )
            .mount(&server)
            .await;
    }
    let wd = Workdir::new();
    wd.ids("ids.txt", &["c1"]);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_yuju-export"));
    cmd.current_dir(wd.dir.path())
        .env_clear()
        .env("TZ", "America/Los_Angeles")
        .env("YUJU_API_KEY", KEY)
        .env("YUJU_BASE_URL", server.uri())
        .args([
            "export",
            "--ids",
            "ids.txt",
            "--out",
            "x-{date}.csv",
            "--start",
            "yesterday",
            "--end",
            "today",
            "--tz",
            "Asia/Shanghai",
        ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // {date} is today in --tz.
    let names = wd.files();
    assert!(
        names
            .iter()
            .any(|n| n == &format!("x-{before}.csv")
                || n == &format!("x-{}.csv", before + Days::new(1))),
        "{names:?}"
    );
}

/// Templates expand in --out, --failed and --summary; an unknown one is an
/// error (exit 2) before any request.
#[test]
fn path_templates_expand_in_every_path() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &["unknown-1", EXAMPLE_CUSTOMER]);
    std::fs::create_dir(wd.path("dumps")).unwrap();
    let o = wd.export(
        &sim,
        &[
            "--ids",
            "ids.txt",
            "--tz",
            "UTC",
            "--start",
            "2026-11-01",
            "--end",
            "2026-11-02 06:00:00",
            "--out",
            "dumps/chats-{start}-{end}.jsonl",
            "--failed",
            "dumps/failed-{date}.csv",
            "--summary",
            "dumps/summary-{date}.json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let today = Utc::now().date_naive();
    let dumps: HashSet<String> = std::fs::read_dir(wd.path("dumps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dumps.contains("chats-2026-11-01-2026-11-02T060000.jsonl"),
        "{dumps:?}"
    );
    assert!(
        dumps.contains(&format!("failed-{today}.csv"))
            || dumps.iter().any(|d| d.starts_with("failed-")),
        "{dumps:?}"
    );
    assert!(dumps.iter().any(|d| d.starts_with("summary-")), "{dumps:?}");

    let o = wd.export_to(&sim, "x-{when}.csv", &[]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("unknown placeholder {when}"),
        "{}",
        stderr(&o)
    );
}

/// With -q a successful run prints nothing at all; a run with failures
/// still says so on stderr.
#[test]
fn quiet_success_is_silent() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let o = wd.export_to(&sim, "x.csv", &["-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", stderr(&o));
    wd.ids("bad.txt", &["unknown-9"]);
    let o = wd.export(&sim, &["--ids", "bad.txt", "--out", "y.csv", "-q"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("failed"), "{}", stderr(&o));
}

/// --dry-run checks everything and prints the plan with the key redacted,
/// makes no request and writes no file.
#[test]
fn dry_run_prints_the_plan_and_makes_no_request() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let mut list = ids(10);
    list.push(list[0].clone());
    wd.ids("ids.txt", &list);
    let o = wd.export_to(
        &sim,
        "x.csv.gz",
        &["--rate", "2", "--dry-run", "--days", "7"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = String::from_utf8(o.stdout.clone()).unwrap();
    for needle in [
        "10 distinct",
        "1 duplicate",
        "apiKey=<redacted>",
        "\"days\":\"7\"",
        "x.csv.gz",
        "gzip",
        "x.csv.gz.failed.csv",
        "about 5s",
    ] {
        assert!(plan.contains(needle), "missing {needle:?} in:\n{plan}");
    }
    assert!(!plan.contains(KEY) && !stderr(&o).contains(KEY));
    assert_eq!(sim.requests(), 0);
    assert_eq!(wd.files(), ["ids.txt"]);
    // Bad input fails the dry run the same way as a real run.
    wd.write("bad.txt", "a b\n");
    let o = wd.export(&sim, &["--ids", "bad.txt", "--out", "x.csv", "--dry-run"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

/// Shards partition the input exactly (each ID in exactly one shard,
/// whatever the input order) and their rows together equal an unsharded
/// run's.
#[test]
fn shards_partition_and_recombine() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(90);
    wd.ids("ids.txt", &list);
    let mut reversed = list.clone();
    reversed.reverse();
    wd.ids("reversed.txt", &reversed);
    let o = wd.export_to(&sim, "all.csv", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut all = read_csv(&wd.path("all.csv"));
    let mut combined = Vec::new();
    let mut owners: Vec<u32> = Vec::new();
    for k in 0..3u32 {
        let spec = format!("{k}/3");
        let o = wd.export_to(
            &sim,
            "s-{shard}.csv",
            &["--shard", &spec, "--summary", "s.json"],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let rows = read_csv(&wd.path(&format!("s-{k}of3.csv")));
        let s = read_summary(&wd.path("s.json"));
        assert_eq!(s["shard"], spec);
        let shard = Shard { index: k, count: 3 };
        let mine: Vec<String> = list
            .iter()
            .filter(|id| shard.contains(id))
            .cloned()
            .collect();
        assert_eq!(
            s["customers"]["total"].as_u64().unwrap() as usize,
            mine.len()
        );
        assert_eq!(rows, expected_rows(&mine), "shard {k} is in input order");
        // The same shard from the reversed input holds the same customers.
        let o = wd.export(
            &sim,
            &[
                "--ids",
                "reversed.txt",
                "--out",
                "r.csv",
                "--shard",
                &spec,
                "--summary",
                "r.json",
            ],
        );
        assert_eq!(code(&o), 0);
        let again: HashSet<String> = read_csv(&wd.path("r.csv"))
            .into_iter()
            .map(|r| r.customer_id)
            .collect();
        let first: HashSet<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
        assert_eq!(again, first);
        owners.extend(std::iter::repeat_n(k, mine.len()));
        combined.extend(rows);
    }
    assert_eq!(owners.len(), list.len(), "every ID is in exactly one shard");
    all.sort();
    combined.sort();
    assert_eq!(combined, all);
}

/// --csv-bom starts the file with a UTF-8 BOM; --csv-formula-guard prefixes
/// formula-like cells with a quote; both read back with the csv crate.
#[test]
fn excel_friendly_csv_options() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(60);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(&sim, "x.csv", &["--csv-bom", "--csv-formula-guard"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bytes = std::fs::read(wd.path("x.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}customer_id,".as_bytes()));
    let rows = read_csv_bytes(&bytes[3..]);
    let expected = expected_rows(&list);
    assert_eq!(rows.len(), expected.len());
    let mut guarded = 0;
    for (got, want) in rows.iter().zip(&expected) {
        if want.content.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            assert_eq!(got.content, format!("'{}", want.content));
            guarded += 1;
        } else {
            assert_eq!(got.content, want.content);
        }
    }
    assert!(guarded > 0, "the data had no formula-like cell");
    let o = wd.export_to(&sim, "x.jsonl", &["--csv-bom"]);
    assert_eq!(code(&o), 2);
}

/// `completions` and `man` print what their tools expect.
#[test]
fn completions_and_man_page() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let out = wd.cmd(&sim).args(["completions", "bash"]).output().unwrap();
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("complete -F") && text.contains("yuju-export") && text.contains("--resume"),
        "{text}"
    );
    let out = wd.cmd(&sim).arg("man").output().unwrap();
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(".ie") || text.contains(".TH"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(text.contains("yuju\\-export"));
}

/// The shipped CronJob's memory limit holds its largest answer by the rule
/// docs/scheduling.md gives ("Memory": about 32 MiB plus 5 times
/// `--max-response-bytes`), so one large answer cannot get the pod
/// OOM-killed night after night.
#[test]
fn shipped_cronjob_memory_limit_fits_its_largest_answer() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/cronjob.yaml"))
            .unwrap();
    let mib = |text: &str| -> u64 {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        let unit = &text[digits.len()..];
        assert!(unit == "Mi" || unit == "MiB", "{text}: give it in MiB");
        digits.parse().unwrap()
    };
    let arg = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("- --max-response-bytes="))
        .expect("the manifest bounds answers");
    let limit = manifest
        .lines()
        .find_map(|l| l.split("limits: { memory: ").nth(1))
        .map(|rest| rest.trim_end_matches([' ', '}']))
        .expect("the manifest limits memory");
    let (answer, limit) = (mib(arg), mib(limit));
    assert!(
        32 + 5 * answer <= limit,
        "--max-response-bytes={answer}MiB needs {} MiB; the limit is {limit} MiB",
        32 + 5 * answer
    );
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scheduling.md"))
        .unwrap();
    let docs = docs.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(docs.contains("32 MiB plus 5 ×"), "the rule is documented");
}

/// The arguments of the shipped Kubernetes CronJob work as written: run
/// as index 2 of 4 (with `/data` in a temporary directory), the pod
/// exports its shard into the templated, compressed file.
#[test]
fn shipped_cronjob_arguments_run() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/cronjob.yaml"))
            .unwrap();
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "args:").skip(1);
    let mut args = Vec::new();
    for line in lines.by_ref() {
        let Some(arg) = line.trim().strip_prefix("- ") else {
            break;
        };
        args.push(arg.to_string());
    }
    assert!(args.len() > 5 && args[0] == "export", "{args:?}");

    let sim = Sim::healthy();
    let wd = Workdir::new();
    let data = wd.path("data");
    std::fs::create_dir_all(data.join("dumps")).unwrap();
    let list = ids(40);
    let text: String = list.iter().map(|id| format!("{id}\n")).collect();
    std::fs::write(data.join("customers.txt"), text).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("/data", &data.to_string_lossy()))
        .collect();
    let mut cmd = wd.cmd(&sim);
    cmd.env("JOB_COMPLETION_INDEX", "2").args(&args);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names: Vec<String> = std::fs::read_dir(data.join("dumps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("chats-") && n.ends_with(".2of4.csv.gz")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("summary-") && n.ends_with(".2of4.json")),
        "{names:?}"
    );
    // The shard keeps its own watermark, at the end of the window it wrote.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("state.2of4.json")).unwrap()).unwrap();
    let end = state["window_end"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(end).is_ok(), "{state}");
}
