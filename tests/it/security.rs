//! A shared machine: planted links, special files as `--out`, file modes,
//! files of one run that are the same file, locks on shared side files.

#![cfg(unix)]

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use yuju_export::simulator::Scenario;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A link planted at the name of any side file (the partial output, the
/// journal, the lock, the failed file's partial, the summary) is refused
/// with exit 2 naming it, before any request, and the file it points to is
/// neither read, written, truncated nor created.
#[test]
fn planted_links_at_side_files_are_refused_and_their_targets_untouched() {
    const ARGS: &[&str] = &[
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--summary",
        "sum.json",
    ];
    let sim = Sim::healthy();
    for side in [
        "x.csv.partial",
        "x.csv.journal",
        "x.csv.lock",
        "x.csv.failed.csv.partial",
        "x.csv.failed.csv",
        "sum.json",
    ] {
        let wd = Workdir::new();
        wd.ids("ids.txt", &ids(3));
        let victim = wd.write("victim.txt", "not yours\n");
        std::os::unix::fs::symlink(&victim, wd.path(side)).unwrap();
        let o = wd.export(&sim, ARGS);
        assert_eq!(code(&o), 2, "{side}: {}", stderr(&o));
        assert!(stderr(&o).contains(side), "{side}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("symbolic link"),
            "{side}: {}",
            stderr(&o)
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not yours\n");
        assert!(!wd.path("x.csv").exists());
        // A dangling link's target is not created either.
        let wd = Workdir::new();
        wd.ids("ids.txt", &ids(3));
        let nowhere = wd.path("created-by-root");
        std::os::unix::fs::symlink(&nowhere, wd.path(side)).unwrap();
        let o = wd.export(&sim, ARGS);
        assert_eq!(code(&o), 2, "{side}: {}", stderr(&o));
        assert!(!nowhere.exists(), "{side}: the link's target was created");
    }
    assert_eq!(sim.requests(), 0);
}

/// `--out /dev/null` is written into, not replaced by a regular file, and
/// leaves no partial file, journal or lock beside it.
#[test]
fn dev_null_stays_a_device() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(5));
    let o = wd.export_to(&sim, "/dev/null", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device());
    assert!(!Path::new("/dev/null.partial").exists());
    assert!(!Path::new("/dev/null.journal").exists());
    assert!(!Path::new("/dev/null.lock").exists());
    assert_eq!(sim.requests(), 5);
}

/// A character device made with mknod in a temp dir (CI runs as root) is
/// streamed into in place; `--resume` on it is refused with exit 2.
#[test]
fn a_device_is_streamed_into_and_cannot_be_resumed() {
    let wd = Workdir::new();
    let dev = wd.path("null");
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let sim = Sim::healthy();
    wd.ids("ids.txt", &ids(4));
    let o = wd.export_to(&sim, "null", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::metadata(&dev)
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(wd.files(), ["ids.txt", "null"]);
    let o = wd.export_to(&sim, "null", &["--resume"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
}

/// A named pipe as `--out`: the reader at its other end gets every row,
/// and the pipe is still a pipe afterwards.
#[test]
fn a_fifo_is_streamed_into() {
    let wd = Workdir::new();
    let fifo = wd.path("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let sim = Sim::healthy();
    let list = ids(20);
    wd.ids("ids.txt", &list);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = wd.export_to(&sim, "pipe", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bytes = reader.join().unwrap();
    assert_eq!(read_csv_bytes(&bytes), expected_rows(&list));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// `/dev/stdout` (a link to the process's own stdout) is followed, as the
/// operator asked: the rows come out on stdout.
#[test]
fn dev_stdout_writes_to_stdout() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(6);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(&sim, "/dev/stdout", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv_bytes(&o.stdout), expected_rows(&list));
}

/// `--out` that is a link to a regular file: the finished output replaces
/// the link (the rename swaps the name), and the file it pointed to is left
/// as it was.
#[test]
fn an_output_link_is_replaced_not_followed() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(3);
    wd.ids("ids.txt", &list);
    let old = wd.write("old.csv", "yesterday\n");
    std::os::unix::fs::symlink(&old, wd.path("latest.csv")).unwrap();
    let o = wd.export_to(&sim, "latest.csv", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let latest = std::fs::symlink_metadata(wd.path("latest.csv")).unwrap();
    assert!(latest.file_type().is_file(), "the link became the output");
    assert_eq!(read_csv(&wd.path("latest.csv")), expected_rows(&list));
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "yesterday\n");
}

/// Under umask 022 every file the run creates is 0600; `--file-mode 0640`
/// widens them all; the metrics file is 0644 either way (node_exporter,
/// another user, reads it; it holds no personal data); no lock file stays;
/// a key file others can read draws a warning.
#[test]
fn created_files_are_owner_only_unless_widened() {
    let sim = Sim::start(Scenario {
        api_key: KEY.into(),
        ..Scenario::default()
    });
    let wd = Workdir::new();
    let mut list = ids(4);
    list.push("unknown-1".into());
    wd.ids("ids.txt", &list);
    let key = wd.write("key.txt", KEY);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = wd.cmd(&sim);
    cmd.env_remove("YUJU_API_KEY").args([
        "export",
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--summary",
        "s.json",
        "--metrics",
        "m.prom",
        "--api-key-file",
        "key.txt",
    ]);
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    for f in ["x.csv", "x.csv.failed.csv", "s.json"] {
        assert_eq!(mode_of(&wd.path(f)), 0o600, "{f}");
    }
    assert_eq!(mode_of(&wd.path("m.prom")), 0o644);
    assert!(
        !wd.files().iter().any(|f| f.ends_with(".lock")),
        "{:?}",
        wd.files()
    );
    let o = wd.export_to(
        &sim,
        "y.csv",
        &[
            "--summary",
            "t.json",
            "--metrics",
            "n.prom",
            "--file-mode",
            "0640",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    for f in ["y.csv", "y.csv.failed.csv", "t.json"] {
        assert_eq!(mode_of(&wd.path(f)), 0o640, "{f}");
    }
    assert_eq!(mode_of(&wd.path("n.prom")), 0o644);
    let o = wd.export_to(&sim, "z.csv", &["--file-mode", "0666"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// Two roles naming one file are refused before any request, naming both,
/// even when the names differ as text.
#[test]
fn files_of_one_run_that_are_the_same_file_are_refused() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(3));
    std::fs::create_dir(wd.path("d")).unwrap();
    std::os::unix::fs::symlink(wd.path("d"), wd.path("alias")).unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--out", "c.csv", "--failed", "c.csv.partial"],
            &["--failed", "partial output"],
        ),
        (
            &["--out", "c.csv", "--failed", "f.csv", "--summary", "f.csv"],
            &["--failed", "--summary"],
        ),
        (
            &["--out", "d/c.csv", "--summary", "alias/../d/c.csv.journal"],
            &["journal", "--summary"],
        ),
        (&["--out", "ids.txt"], &["--ids", "--out"]),
        (
            &["--out", "c.parquet", "--failed", "c.parquet.staged"],
            &["--failed", "staged rows"],
        ),
    ];
    for (args, needles) in cases {
        let o = wd.export(&sim, &[&["--ids", "ids.txt"], *args].concat());
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        for n in *needles {
            assert!(
                stderr(&o).contains(n),
                "{args:?}: missing {n:?}: {}",
                stderr(&o)
            );
        }
    }
    assert_eq!(sim.requests(), 0);
}

/// Two shards given one failed file: the second run is refused while the
/// first holds the failed file's lock, instead of interleaving bytes.
#[test]
fn a_failed_file_shared_by_two_live_runs_is_refused() {
    let sim = Sim::start(Scenario {
        latency: Duration::from_millis(15),
        ..scenario()
    });
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(300));
    let args = |out: &'static str| {
        [
            "--ids",
            "ids.txt",
            "--out",
            out,
            "--failed",
            "shared.failed.csv",
            "--concurrency",
            "2",
        ]
    };
    let mut first = wd.spawn_export(&sim, &args("a.csv"));
    while !wd.path("a.csv.journal").exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = wd.export(&sim, &args("b.csv"));
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("shared.failed.csv"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another yuju-export run"),
        "{}",
        stderr(&o)
    );
}

/// A full disk (here a file-size limit, which fails writes with EFBIG the
/// same way): exit 4 naming the file, a summary whose counts are what the
/// journal committed, and a resume that completes the same export.
#[test]
fn a_full_disk_names_the_file_and_counts_only_what_was_committed() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(300);
    wd.ids("ids.txt", &list);
    let mut cmd = wd.cmd(&sim);
    cmd.args([
        "-c",
        "trap '' XFSZ; ulimit -f 40; exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_yuju-export"),
        "export",
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--summary",
        "s.json",
    ]);
    let mut bash = std::process::Command::new("bash");
    bash.args(cmd.get_args())
        .current_dir(wd.dir.path())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    let o = bash.output().unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("x.csv.partial"), "{}", stderr(&o));
    let s = read_summary(&wd.path("s.json"));
    let c = &s["customers"];
    let done =
        c["ok"].as_u64().unwrap() + c["empty"].as_u64().unwrap() + c["failed"].as_u64().unwrap();
    let journal = yuju_export::store::journal::load(
        &wd.path("x.csv.journal"),
        std::fs::metadata(wd.path("x.csv.partial")).unwrap().len(),
        0,
        0,
    )
    .unwrap()
    .unwrap();
    assert_eq!(done, journal.checkpoint.next, "{s}");
    assert_eq!(s["rows"].as_u64().unwrap(), journal.checkpoint.tally.rows);
    assert!(done < 300);
    let o = wd.export_to(&sim, "x.csv", &["--resume"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}

/// A `--state` that names a FIFO is refused with exit 2 at once (opening
/// it to read would block the run forever).
#[test]
fn a_state_file_that_is_a_fifo_is_refused_not_waited_on() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    let made = std::process::Command::new("mkfifo")
        .arg(wd.path("state.json"))
        .status();
    assert!(made.unwrap().success());
    let mut child = wd.spawn_export(
        &sim,
        &[
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--state",
            "state.json",
            "--start",
            "2026-01-01",
        ],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the run blocked on a FIFO given as --state");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("state.json"), "{}", stderr(&o));
    assert_eq!(sim.requests(), 0);
}
