//! The contact list: `yuju-export contacts` as a table, and `export
//! --all-contacts` taking its IDs from it (fetched once, kept for
//! `--resume`, guarded against a list that fails, is empty or falls short).

use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;

use yuju_export::error::Exit;
use yuju_export::simulator::contacts::{contact_ids_at, contacts_at};
use yuju_export::simulator::{ContactBook, ContactsMode, Scenario};

use crate::common::*;

fn with_contacts(count: usize, mode: ContactsMode) -> Scenario {
    with_book(ContactBook { count, mode })
}

fn with_book(contacts: ContactBook) -> Scenario {
    Scenario {
        contacts,
        ..scenario()
    }
}

fn contacts(wd: &Workdir, sim: &Sim, args: &[&str]) -> std::process::Output {
    wd.cmd(sim).arg("contacts").args(args).output().unwrap()
}

fn contact_calls(sim: &Sim) -> u64 {
    sim.stats().contact_calls.load(Relaxed)
}

/// Chat requests: every request but the contact list's.
fn chat_requests(sim: &Sim) -> u64 {
    sim.stats().per_customer().values().sum()
}

/// The default table is `id,name`, in the platform's order: no personal
/// data unless asked for by name.
#[test]
fn the_contact_table_holds_ids_and_names_by_default() {
    let sim = Sim::start(with_contacts(30, ContactsMode::Normal));
    let wd = Workdir::new();
    let o = contacts(
        &wd,
        &sim,
        &[
            "--out",
            "c.csv",
            "--summary",
            "s.json",
            "--metrics",
            "c.prom",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(wd.path("c.csv")).unwrap();
    let truth = contacts_at(
        ContactBook {
            count: 30,
            mode: ContactsMode::Normal,
        },
        0,
    );
    let mut expected = String::from("id,name\n");
    for c in &truth {
        expected.push_str(&format!(
            "{},{}\n",
            c["id"].as_str().unwrap(),
            c["name"].as_str().unwrap()
        ));
    }
    assert_eq!(text, expected);
    assert!(!text.contains("138000"), "a mobile number was written");
    let summary = read_summary(&wd.path("s.json"));
    assert_eq!(summary["contacts"], 30);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["columns"], serde_json::json!(["id", "name"]));
    let metrics = std::fs::read_to_string(wd.path("c.prom")).unwrap();
    assert!(
        metrics.contains("\nyuju_export_contacts_listed 30\n"),
        "{metrics}"
    );
    assert_eq!(contact_calls(&sim), 1);
    assert_eq!(chat_requests(&sim), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(wd.path("c.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        wd.files(),
        ["c.csv", "c.prom", "s.json"],
        "no side file is left"
    );
}

/// `mobile`, `email` and `extra` come only when named, and `extra` keeps
/// the fields the documentation does not name.
#[test]
fn personal_data_and_undocumented_fields_come_when_named() {
    let sim = Sim::start(with_contacts(6, ContactsMode::Undocumented));
    let wd = Workdir::new();
    let o = contacts(
        &wd,
        &sim,
        &["--out", "c.jsonl", "--columns", "id,mobile,email,extra"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(wd.path("c.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[1]["mobile"], "13800000001");
    assert_eq!(lines[1]["email"], "c1@example.com");
    assert_eq!(lines[0]["email"], "", "null is written as empty text");
    assert_eq!(lines[2]["extra"]["tags"], serde_json::json!(["vip"]));
    assert!(lines[2]["extra"].get("create_time").is_some());
    assert!(lines[0].get("name").is_none());
}

/// The filter is sent as the documented list, and honoured; one the
/// platform rejects is exit 2 quoting its Msg, and leaves no file.
#[test]
fn filters_narrow_the_list_and_a_rejected_one_is_a_usage_error() {
    let sim = Sim::start(with_contacts(30, ContactsMode::Normal));
    let wd = Workdir::new();
    let o = contacts(
        &wd,
        &sim,
        &["--out", "one.csv", "--contact-filter", "name:equal:访客7"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(wd.path("one.csv")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(",访客7\n"), "{text}");

    let o = contacts(
        &wd,
        &sim,
        &["--out", "bad.csv", "--contact-filter", "email:like:x"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("不支持的筛选条件"), "{}", stderr(&o));
    assert!(!wd.path("bad.csv").exists() && !wd.path("bad.csv.partial").exists());

    let o = contacts(
        &wd,
        &sim,
        &["--out", "x.csv", "--contact-filter", "name=访客7"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("FIELD:CONDITION:VALUE"),
        "{}",
        stderr(&o)
    );
}

/// A list that fails twice is retried like any request; an empty one is
/// exit 3 unless allowed; a bad key is exit 3; none leaves an output.
#[test]
fn the_list_is_retried_and_guarded() {
    let sim = Sim::start(with_contacts(9, ContactsMode::Flaky));
    let wd = Workdir::new();
    let o = contacts(
        &wd,
        &sim,
        &[
            "--out",
            "c.csv",
            "--retry-base",
            "10ms",
            "--summary",
            "s.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_summary(&wd.path("s.json"))["retries"], 2);
    assert_eq!(
        std::fs::read_to_string(wd.path("c.csv"))
            .unwrap()
            .lines()
            .count(),
        10
    );

    let sim = Sim::start(with_contacts(9, ContactsMode::Empty));
    let o = contacts(&wd, &sim, &["--out", "e.csv"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--allow-empty-contacts"),
        "{}",
        stderr(&o)
    );
    assert!(!wd.path("e.csv").exists() && !wd.path("e.csv.partial").exists());
    let o = contacts(&wd, &sim, &["--out", "e.csv", "--allow-empty-contacts"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(wd.path("e.csv")).unwrap(),
        "id,name\n"
    );

    let sim = Sim::healthy();
    let mut cmd = wd.cmd(&sim);
    let o = cmd
        .env("YUJU_API_KEY", "wrong-key-77")
        .args(["contacts", "--out", "k.csv"]);
    let o = o.output().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(!stderr(&o).contains("wrong-key-77"));
    assert!(!wd.path("k.csv").exists() && !wd.path("k.csv.partial").exists());
}

/// The settings of the chat window, the ID list and the state mean
/// nothing for the list: refused by name. `--dry-run` makes no request.
#[test]
fn chat_settings_are_refused_and_a_dry_run_asks_nothing() {
    let sim = Sim::start(with_contacts(5, ContactsMode::Normal));
    let wd = Workdir::new();
    let o = contacts(
        &wd,
        &sim,
        &["--out", "c.csv", "--days", "3", "--state", "s.json"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--days, --state"), "{}", stderr(&o));
    let o = contacts(
        &wd,
        &sim,
        &[
            "--out",
            "c.csv",
            "--dry-run",
            "--contact-filter",
            "name:equal:a",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(
        plan.contains("/v1/openapi/contacts?apiKey=<redacted>"),
        "{plan}"
    );
    assert!(plan.contains(r#""filter_value":"a""#), "{plan}");
    assert!(!plan.contains(KEY));
    assert_eq!(sim.requests(), 0);
}

/// `export --all-contacts`: exactly the chats of the contacts the list
/// held, in its order, after one list request.
#[test]
fn all_contacts_exports_the_chats_of_every_contact() {
    let book = ContactBook {
        count: 40,
        mode: ContactsMode::Normal,
    };
    let sim = Sim::start(with_book(book));
    let wd = Workdir::new();
    let o = wd.export(
        &sim,
        &[
            "--all-contacts",
            "--out",
            "c.csv",
            "--summary",
            "s.json",
            "--metrics",
            "m.prom",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ids = contact_ids_at(book, 0);
    assert_eq!(read_csv(&wd.path("c.csv")), expected_rows(&ids));
    assert_eq!(contact_calls(&sim), 1);
    assert_eq!(chat_requests(&sim), 40);
    let summary = read_summary(&wd.path("s.json"));
    assert_eq!(summary["contact_list"]["contacts"], 40);
    assert_eq!(summary["customers"]["total"], 40);
    let metrics = std::fs::read_to_string(wd.path("m.prom")).unwrap();
    assert!(metrics.contains("\nyuju_export_contacts 40\n"), "{metrics}");
    assert!(
        stderr(&o).contains("the contact list holds 40 contacts"),
        "{}",
        stderr(&o)
    );
    assert!(
        !wd.path("c.csv.contacts").exists(),
        "the kept list goes with the journal"
    );

    let o = wd.export(
        &sim,
        &["--all-contacts", "--ids", "x.txt", "--out", "d.csv"],
    );
    assert_eq!(code(&o), 2);
}

/// Every way the list can fail stops the run before any chat request,
/// with its exit code, and leaves the watermark where it was.
#[test]
fn a_list_that_fails_stops_the_run_before_any_chat_request() {
    let wd = Workdir::new();
    let state = [
        "--state",
        "state.json",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-02",
        "--tz",
        "UTC",
    ];
    let cases: [(Scenario, Vec<&str>, i32, &str); 5] = [
        (
            with_contacts(9, ContactsMode::Empty),
            vec![],
            3,
            "--allow-empty-contacts",
        ),
        (
            with_contacts(9, ContactsMode::Normal),
            vec!["--min-contacts", "10"],
            3,
            "--min-contacts 10",
        ),
        (
            with_contacts(9, ContactsMode::Normal),
            vec!["--contact-filter", "email:like:x"],
            2,
            "不支持的筛选条件",
        ),
        (
            Scenario {
                api_key: "other".into(),
                ..scenario()
            },
            vec![],
            3,
            "401",
        ),
        (
            Scenario {
                down_after: Some(0),
                ..with_contacts(9, ContactsMode::Normal)
            },
            vec!["--retries", "1", "--retry-base", "10ms"],
            3,
            "could not be fetched",
        ),
    ];
    for (scenario, extra, exit, says) in cases {
        let sim = Sim::start(scenario);
        let args = [
            &["--all-contacts", "--out", "c-{start}.csv"][..],
            &state,
            &extra,
        ]
        .concat();
        let o = wd.export(&sim, &args);
        assert_eq!(code(&o), exit, "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
        assert_eq!(chat_requests(&sim), 0, "{extra:?}");
        assert!(
            !wd.path("state.json").exists(),
            "{extra:?} moved the watermark"
        );
        assert!(!wd.path("c-2026-03-01.csv").exists(), "{extra:?}");
    }
    let sim = Sim::start(with_contacts(9, ContactsMode::Empty));
    let args = [
        &[
            "--all-contacts",
            "--allow-empty-contacts",
            "--out",
            "c-{start}.csv",
        ][..],
        &state,
    ]
    .concat();
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Kill a run mid-way, let the platform's list change, resume: the rows
/// are those of the first list, every one once, and the list was asked
/// for once.
#[test]
fn a_resumed_run_goes_on_with_the_list_it_started_with() {
    let book = ContactBook {
        count: 120,
        mode: ContactsMode::Changing,
    };
    let sim = Sim::start(Scenario {
        contacts: book,
        latency: std::time::Duration::from_millis(10),
        ..scenario()
    });
    let wd = Workdir::new();
    let args = ["--all-contacts", "--out", "c.csv", "--concurrency", "2"];
    let report = wd.interrupt_in_process(&sim, &args, 30);
    assert_eq!(report.exit, Exit::Interrupted, "{:?}", report.summary);
    assert!(wd.path("c.csv.contacts").exists());
    let first = contact_ids_at(book, 0);
    assert_ne!(
        contact_ids_at(book, 1),
        first,
        "the platform's list changed"
    );
    let o = wd.export(
        &sim,
        &[&args[..], &["--resume", "--summary", "s.json"]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("c.csv")), expected_rows(&first));
    assert_eq!(contact_calls(&sim), 1, "the resume fetched the list again");
    let summary = read_summary(&wd.path("s.json"));
    assert_eq!(summary["contact_list"]["kept_from_interrupted_run"], true);
    assert!(!wd.path("c.csv.contacts").exists());
    assert!(!wd.path("c.csv.journal").exists());
}

/// `--shard K/N` partitions the fetched list: the shards together are the
/// whole list, each customer once.
#[test]
fn shards_partition_the_fetched_list() {
    let book = ContactBook {
        count: 60,
        mode: ContactsMode::Normal,
    };
    let sim = Sim::start(with_book(book));
    let wd = Workdir::new();
    let mut seen = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = format!("s{k}.csv");
        let o = wd.export(&sim, &["--all-contacts", "--shard", &shard, "--out", &out]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        seen.extend(read_csv(&wd.path(&out)).into_iter().map(|r| r.customer_id));
    }
    let ids: BTreeSet<String> = contact_ids_at(book, 0).into_iter().collect();
    let with_chats: BTreeSet<String> = expected_rows(&ids.iter().cloned().collect::<Vec<_>>())
        .into_iter()
        .map(|r| r.customer_id)
        .collect();
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), with_chats);
    assert_eq!(contact_calls(&sim), 3, "each shard fetches the list");
}

/// With `--state`, each night fetches a fresh list, and a list that fell
/// by more than half since the last completed night is warned about in
/// the log and the summary.
#[test]
fn a_list_that_halves_between_nights_is_warned_about() {
    let book = ContactBook {
        count: 60,
        mode: ContactsMode::Shrinking,
    };
    let sim = Sim::start(crate::state::dated(Scenario {
        contacts: book,
        ..scenario()
    }));
    let wd = Workdir::new();
    let night = |end: &str| {
        let args = [
            "--all-contacts",
            "--out",
            "c-{start}.csv",
            "--state",
            "state.json",
            "--start",
            "2026-03-01",
            "--end",
            end,
            "--tz",
            "UTC",
            "--summary",
            "s.json",
        ];
        wd.export(&sim, &args)
    };
    let o = night("2026-03-02");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(read_summary(&wd.path("s.json"))["contact_list"]
        .get("warning")
        .is_none());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path("state.json")).unwrap()).unwrap();
    assert_eq!(state["contacts"], 60);
    let o = night("2026-03-03");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("less than half of the 60"),
        "{}",
        stderr(&o)
    );
    let summary = read_summary(&wd.path("s.json"));
    assert_eq!(summary["contact_list"]["contacts"], 20);
    assert_eq!(summary["contact_list"]["previous"], 60);
    assert!(summary["contact_list"]["warning"]
        .as_str()
        .unwrap()
        .contains("cut it short"));
    assert_eq!(contact_calls(&sim), 2, "each night fetches a fresh list");
}

/// Pseudonymous tables still join: the contacts' `id` and the chats'
/// `customer_id` are written as the same pseudonyms.
#[test]
fn pseudonyms_join_the_two_tables() {
    let sim = Sim::start(with_contacts(12, ContactsMode::Normal));
    let wd = Workdir::new();
    let key = wd.write("key", "a-long-enough-pseudonym-key-0123456789\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let p = ["--pseudonymize", "--pseudonym-key-file", "key"];
    let o = contacts(&wd, &sim, &[&["--out", "c.csv"][..], &p].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = wd.export(
        &sim,
        &[&["--all-contacts", "--out", "chats.csv"][..], &p].concat(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let contact_ids: BTreeSet<String> = std::fs::read_to_string(wd.path("c.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let chat_ids: BTreeSet<String> = read_csv(&wd.path("chats.csv"))
        .into_iter()
        .map(|r| r.customer_id)
        .collect();
    assert!(!chat_ids.is_empty() && chat_ids.is_subset(&contact_ids));
    let real = contact_ids_at(
        ContactBook {
            count: 12,
            mode: ContactsMode::Normal,
        },
        0,
    );
    assert!(
        real.iter().all(|id| !contact_ids.contains(id)),
        "a real id was written"
    );
}

/// A kept list that is a link (planted to send another file's lines to
/// the platform as IDs) is refused, not read: exit 2, no request.
#[cfg(unix)]
#[test]
fn a_kept_list_that_is_a_link_is_refused() {
    let sim = Sim::start(with_contacts(5, ContactsMode::Normal));
    let wd = Workdir::new();
    wd.write(
        "c.csv.partial",
        "customer_id,chat_id,seq,sender_type,message_type,content\n",
    );
    let secret = wd.write("secret.txt", "root-line-one\nroot-line-two\n");
    std::os::unix::fs::symlink(&secret, wd.path("c.csv.contacts")).unwrap();
    let o = wd.export(&sim, &["--all-contacts", "--out", "c.csv", "--resume"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(sim.requests(), 0);
    let o = wd.export(
        &sim,
        &["--all-contacts", "--out", "c.csv", "--resume", "--dry-run"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("root-line"));
}
