//! An upgrade never stops a schedule: every journal and state file a
//! released version wrote is read by every later one. The fixtures under
//! `tests/fixtures/` were written by released versions and are kept: a
//! change of format must keep reading them (or, for a journal, set it
//! aside and start the window afresh).

use std::path::{Path, PathBuf};

use crate::common::*;
use yuju_export::error::Exit;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The customers of the journal fixtures, and the settings they ran with.
const CUSTOMERS: usize = 60;
const ARGS: [&str; 6] = ["--ids", "ids.txt", "--out", "x.csv", "--concurrency", "2"];

/// Put the fixture journal `name` (with its partial output) in `wd`,
/// pointed at `sim` (the one thing a fixture cannot know is the address
/// of the test's simulator).
fn journal_fixture(wd: &Workdir, sim: &Sim, name: &str) {
    let dir = fixtures().join(name);
    std::fs::copy(dir.join("x.csv.partial"), wd.path("x.csv.partial")).unwrap();
    let text = std::fs::read_to_string(dir.join("x.csv.journal")).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_str(first).unwrap();
    header["fingerprint"]["base_url"] = format!("{}/", sim.url()).into();
    wd.write("x.csv.journal", format!("{header}\n{rest}"));
}

/// A journal as 0.1.0 wrote it (format 1, no `written_by`) is continued
/// by this version:
/// the resumed run completes with the rows of an uninterrupted one.
#[test]
fn a_journal_of_a_released_version_is_resumed() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(CUSTOMERS);
    wd.ids("ids.txt", &list);
    journal_fixture(&wd, &sim, "journal-0.1.0");
    let o = wd.export(&sim, &[&ARGS[..], &["--resume"]].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming"), "{}", stderr(&o));
    assert!(
        sim.requests() < CUSTOMERS as u64,
        "only the rest was fetched"
    );
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}

/// A journal of a format this version does not read (a newer one after a
/// downgrade, or one too old) does not stop the schedule: the window
/// starts afresh with a warning naming the version that wrote it, even
/// without --resume.
#[test]
fn a_journal_of_another_format_starts_the_window_afresh() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(CUSTOMERS);
    wd.ids("ids.txt", &list);
    journal_fixture(&wd, &sim, "journal-0.1.0");
    let text = std::fs::read_to_string(wd.path("x.csv.journal")).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_str(first).unwrap();
    header["version"] = 99.into();
    header["written_by"] = "9.9.9".into();
    wd.write("x.csv.journal", format!("{header}\n{rest}"));
    for extra in [&["--resume"][..], &[]] {
        let o = wd.export(&sim, &[&ARGS[..], extra].concat());
        assert_eq!(code(&o), 0, "{extra:?}: {}", stderr(&o));
        let err = stderr(&o);
        if extra.is_empty() {
            assert!(!err.contains("9.9.9"), "nothing left to set aside: {err}");
        } else {
            assert!(
                err.contains("written by yuju-export 9.9.9 (journal format 99)"),
                "{err}"
            );
            assert!(err.contains("starts afresh"), "{err}");
        }
        assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    }
}

/// Every state file a released version wrote is read: its watermark is
/// where the next window starts.
#[test]
fn state_files_of_released_versions_are_read() {
    let sim = Sim::healthy();
    let mut read = 0;
    for entry in std::fs::read_dir(fixtures().join("state")).unwrap() {
        let path = entry.unwrap().path();
        let wd = Workdir::new();
        wd.ids("ids.txt", &ids(2));
        std::fs::copy(&path, wd.path("state.json")).unwrap();
        let o = wd.export(
            &sim,
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--state",
                "state.json",
                "--dry-run",
            ],
        );
        assert_eq!(code(&o), 0, "{}: {}", path.display(), stderr(&o));
        let plan = String::from_utf8_lossy(&o.stdout);
        assert!(
            plan.contains("the end of the last completed window (2026-11-26T00:00:00+08:00)"),
            "{}: {plan}",
            path.display()
        );
        read += 1;
    }
    assert!(read >= 2, "a fixture per released format");
}

/// Writes the journal fixture of this version (run by hand when a release
/// changes the format: `cargo test --test it make_journal_fixture --
/// --ignored`, then name the folder after the release).
#[test]
#[ignore]
fn make_journal_fixture() {
    let sim = Sim::start(yuju_export::simulator::Scenario {
        latency: std::time::Duration::from_millis(15),
        ..scenario()
    });
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(CUSTOMERS));
    let report = wd.interrupt_in_process(&sim, &ARGS, 20);
    assert_eq!(report.exit, Exit::Interrupted);
    let dir = fixtures().join(format!("journal-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["x.csv.partial", "x.csv.journal"] {
        std::fs::copy(wd.path(name), dir.join(name)).unwrap();
    }
}
