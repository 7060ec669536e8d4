//! The export job end to end: rows, order, formats, failures, stops.

use crate::common::*;
use yuju_export::simulator::{Scenario, EXAMPLE_CUSTOMER};

/// The documented example customer gives exactly its seven rows, with the
/// documented texts, in order, seq 0..6.
#[test]
fn documented_example_gives_its_seven_rows() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &[EXAMPLE_CUSTOMER]);
    let out = wd.export_to(&sim, "chats.csv", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv(&wd.path("chats.csv"));
    let contents: Vec<&str> = rows.iter().map(|r| r.content.as_str()).collect();
    assert_eq!(
        contents,
        [
            "你好",
            "人工回复: 1777",
            "访客发送: 777",
            "客服回复: 000",
            "访客发送: 456",
            "人工回复: 666",
            "访客发送: 123"
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.chat_id == "5c82cf0c-8db0-4bcd-94de-dece5c011f8b-258262"));
    assert!(rows.iter().all(|r| r.customer_id == EXAMPLE_CUSTOMER));
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    assert_eq!(rows[0].message_type, "AI对话");
    assert_eq!(rows[1].sender_type, "客服");
    // Complete run: no partial, journal, failed or lock file left behind.
    assert_eq!(wd.files(), ["chats.csv", "ids.txt"]);
}

/// Hostile content (quotes, commas, CR, LF, tabs, emoji, Chinese, U+2028)
/// survives a round trip through CSV and through JSONL: every row parsed
/// back equals the simulator's data, in input order.
#[test]
fn hostile_content_round_trips_in_csv_and_jsonl() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let ids = ids(150);
    wd.ids("ids.txt", &ids);
    let expected = expected_rows(&ids);
    for needle in ["\n", "\r\n", "\t", "\"", ",", "😀", "\u{2028}", "汉字"] {
        assert!(
            expected.iter().any(|r| r.content.contains(needle)),
            "the data lacks {needle:?}"
        );
    }
    for (name, format) in [
        ("a.csv", "csv"),
        ("a.jsonl", "jsonl"),
        ("b.ndjson", "jsonl"),
    ] {
        let out = wd.export(
            &sim,
            &["--ids", "ids.txt", "--out", name, "--concurrency", "16"],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let rows = match format {
            "csv" => read_csv(&wd.path(name)),
            _ => read_jsonl(&wd.path(name)),
        };
        assert_eq!(rows.len(), expected.len(), "{name}");
        assert_eq!(rows, expected, "{name}");
    }
    // JSONL keeps UTF-8 as is rather than \u escapes.
    let text = std::fs::read_to_string(wd.path("a.jsonl")).unwrap();
    assert!(text.contains("汉字") && text.contains("😀"));
    assert!(!text.contains("\\u6c49"));
}

/// Output order is the input order whatever the concurrency: runs at
/// concurrency 1 and 64 against a simulator with jittered latency give
/// byte-identical files.
#[test]
fn order_is_identical_across_concurrency() {
    let sim = Sim::start(Scenario {
        latency: std::time::Duration::from_millis(5),
        jitter_sigma: 1.0,
        ..scenario()
    });
    let wd = Workdir::new();
    let ids = ids(120);
    wd.ids("ids.txt", &ids);
    for (out, conc) in [("c1.csv", "1"), ("c64.csv", "64")] {
        let o = wd.export(
            &sim,
            &["--ids", "ids.txt", "--out", out, "--concurrency", conc],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let a = std::fs::read(wd.path("c1.csv")).unwrap();
    let b = std::fs::read(wd.path("c64.csv")).unwrap();
    assert!(a == b, "outputs differ between concurrency 1 and 64");
    assert_eq!(read_csv_bytes(&a), expected_rows(&ids));
}

/// A customer the API answers with Code 4000 lands in the failed file with
/// the API's Msg, is asked once only (never retried), and the run exits 1
/// with every other customer exported. The failed file is valid input.
#[test]
fn business_failures_go_to_the_failed_file_and_exit_1() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let mut list = ids(20);
    list.insert(3, "unknown-aaa".into());
    list.insert(10, "unknown-bbb".into());
    wd.ids("ids.txt", &list);
    let out = wd.export_to(&sim, "x.csv", &["--summary", "s.json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let failed = read_failed(&wd.path("x.csv.failed.csv"));
    assert_eq!(
        failed.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["unknown-aaa", "unknown-bbb"]
    );
    assert!(failed[0].1.contains("客户不存在"), "{:?}", failed[0]);
    assert_eq!(sim.stats().requests_for("unknown-aaa"), 1);
    assert_eq!(sim.stats().requests_for("unknown-bbb"), 1);
    let good: Vec<String> = list
        .iter()
        .filter(|i| !i.starts_with("unknown"))
        .cloned()
        .collect();
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&good));
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["customers"]["failed"], 2);
    assert_eq!(s["failed_by_kind"]["api_code"], 2);
    assert_eq!(s["exit_code"], 1);

    // The failed file reads back as input.
    let again = wd.export(&sim, &["--ids", "x.csv.failed.csv", "--out", "retry.csv"]);
    assert_eq!(code(&again), 1);
    assert_eq!(read_failed(&wd.path("retry.csv.failed.csv")).len(), 2);
}

/// A stale failed file from an earlier run of the same output is removed
/// by a run in which nothing failed.
#[test]
fn stale_failed_file_is_removed_by_a_clean_run() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    wd.write("x.csv.failed.csv", "customer_id,error\nold,stale\n");
    let out = wd.export_to(&sim, "x.csv", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!wd.path("x.csv.failed.csv").exists());
}

/// A bad key (401) stops the whole run at once with exit 3 and a message
/// about the key, after few requests; no output file appears, the partial
/// one is kept.
#[test]
fn bad_key_stops_the_run_with_exit_3() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(300));
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_API_KEY", "wrong-key").args([
        "export",
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--concurrency",
        "4",
    ]);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid or expired"),
        "{}",
        stderr(&out)
    );
    assert!(
        sim.requests() <= 8,
        "{} requests after a 401",
        sim.requests()
    );
    // Nothing was committed: nothing is kept, and no --resume is needed.
    assert_eq!(wd.files(), ["ids.txt"]);
    assert!(!stderr(&out).contains("--resume"), "{}", stderr(&out));
}

/// An exhausted quota (402 after N answers) stops the run with exit 3; the
/// rows fetched before it are kept in the partial file, correct and in
/// order, and make up a prefix of the input.
#[test]
fn quota_exhausted_stops_with_exit_3_and_keeps_rows() {
    let sim = Sim::start(Scenario {
        quota: Some(40),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(200);
    wd.ids("ids.txt", &list);
    let out = wd.export_to(
        &sim,
        "x.csv",
        &["--concurrency", "4", "--summary", "s.json"],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("quota"), "{}", stderr(&out));
    let s = read_summary(&wd.path("s.json"));
    let done = (s["customers"]["total"].as_u64().unwrap()
        - s["customers"]["not_done"].as_u64().unwrap()) as usize;
    assert!(done > 0 && done <= 40, "{done}");
    assert_partial_is_prefix(&wd, "x.csv", &list, done);
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["stopped_because"], "quota_exhausted");
}

/// `--out -` streams CSV to stdout (no partial file, no failed file).
#[test]
fn stdout_output_streams_csv() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(30);
    wd.ids("ids.txt", &list);
    let out = wd.export_to(&sim, "-", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read_csv_bytes(&out.stdout), expected_rows(&list));
    assert_eq!(wd.files(), ["ids.txt"]);
}

/// A reader that goes away (`--out - | head -1`) ends the run quietly with
/// exit 0: no "broken pipe" error, no exit 4, no panic.
#[test]
fn stdout_reader_going_away_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    let sim = Sim::start(Scenario {
        latency: std::time::Duration::from_millis(5),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(2000);
    wd.ids("ids.txt", &list);
    let mut child = wd.spawn_export(&sim, &["--ids", "ids.txt", "--out", "-"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    stdout.read_line(&mut header).unwrap();
    assert!(header.starts_with("customer_id,"), "{header}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(sim.requests() < list.len() as u64, "the run stopped early");
}

/// An output that cannot be written (stdout on a full disk) stops the run
/// with exit 4, an error naming the cause, and the summary still written.
#[cfg(target_os = "linux")]
#[test]
fn unwritable_output_exits_4_with_a_summary() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(400);
    wd.ids("ids.txt", &list);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = wd.cmd(&sim);
    cmd.args([
        "export",
        "--ids",
        "ids.txt",
        "--out",
        "-",
        "--summary",
        "s.json",
    ])
    .stdout(full);
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 4, "{err}");
    assert!(err.contains("No space left"), "{err}");
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["exit_code"], 4);
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["stopped_because"], "output_error");
    assert!(s["customers"]["not_done"].as_u64().unwrap() > 0);
}

/// `--columns` picks and orders the columns, in CSV headers and JSON keys;
/// `seq` stays an integer in JSONL.
#[test]
fn columns_subset_and_order() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &[EXAMPLE_CUSTOMER]);
    let out = wd.export_to(&sim, "c.csv", &["--columns", "content,seq"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(wd.path("c.csv")).unwrap();
    assert_eq!(
        text.lines().take(2).collect::<Vec<_>>(),
        ["content,seq", "你好,0"]
    );
    let out = wd.export_to(&sim, "c.jsonl", &["--columns", "seq,customer_id"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = std::fs::read_to_string(wd.path("c.jsonl")).unwrap();
    let first = first.lines().next().unwrap();
    assert_eq!(
        first,
        format!("{{\"seq\":0,\"customer_id\":\"{EXAMPLE_CUSTOMER}\"}}")
    );
}

/// Empty customers (`Data: []` and `Data: null`) give no rows and count as
/// empty; duplicates are exported once and counted. The summary says so.
#[test]
fn empty_customers_and_duplicates_are_counted() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = [
        "empty-1",
        EXAMPLE_CUSTOMER,
        "null-2",
        EXAMPLE_CUSTOMER,
        "empty-1",
    ];
    wd.ids("ids.txt", &list);
    let out = wd.export_to(&sim, "x.jsonl", &["--summary", "s.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read_jsonl(&wd.path("x.jsonl")).len(), 7);
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["customers"]["total"], 3);
    assert_eq!(s["customers"]["ok"], 1);
    assert_eq!(s["customers"]["empty"], 2);
    assert_eq!(s["customers"]["duplicate"], 2);
    assert_eq!(s["rows"], 7);
    assert_eq!(sim.stats().requests_for(EXAMPLE_CUSTOMER), 1);
}

/// A config file supplies settings; the command line overrides it.
#[test]
fn config_file_settings_and_precedence() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &[EXAMPLE_CUSTOMER]);
    wd.write(
        "conf.toml",
        "ids = \"ids.txt\"\nout = \"from-file.jsonl\"\ncolumns = \"content\"\nconcurrency = 2\n",
    );
    let out = wd.export(&sim, &["--config", "conf.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(wd.path("from-file.jsonl")).unwrap();
    assert_eq!(text.lines().next().unwrap(), "{\"content\":\"你好\"}");
    let out = wd.export(&sim, &["--config", "conf.toml", "--out", "cli.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(wd.path("cli.csv"))
            .unwrap()
            .lines()
            .next(),
        Some("content")
    );
}

/// SIGINT stops a run gracefully: exit 130, the partial output holds a
/// correct prefix, and no final output appears.
#[cfg(unix)]
#[test]
fn sigint_exits_130_and_keeps_the_partial_output() {
    let sim = Sim::start(Scenario {
        latency: std::time::Duration::from_millis(50),
        ..scenario()
    });
    let wd = Workdir::new();
    let list = ids(400);
    wd.ids("ids.txt", &list);
    let child = wd.spawn_export(
        &sim,
        &["--ids", "ids.txt", "--out", "x.csv", "--concurrency", "2"],
    );
    // Wait until some customers were answered, then interrupt.
    while sim.stats().ok.load(std::sync::atomic::Ordering::Relaxed) < 10 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    unsafe_kill(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(!wd.path("x.csv").exists());
    let rows = read_csv(&wd.path("x.csv.partial"));
    let customers: Vec<String> = {
        let mut v: Vec<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
        v.dedup();
        v
    };
    let n = list
        .iter()
        .position(|id| Some(id) == customers.last())
        .map_or(0, |i| i + 1);
    assert!(n < list.len());
    assert_eq!(rows, expected_rows(&list[..n]));
}

#[cfg(unix)]
pub fn unsafe_kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
