//! Crash-safe runs: kill -9 and resume, graceful signals, the guards around
//! an interrupted run, compressed outputs.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use crate::export::unsafe_kill;
use yuju_export::error::Exit;
use yuju_export::simulator::data::SplitMix;
use yuju_export::simulator::Scenario;
use yuju_export::store::journal;

/// Run `export` with `args`, ask it to stop as Ctrl-C does once 20
/// requests were sent, and check that it stops as interrupted (exit 130)
/// with customers left to do.
fn interrupt_after(wd: &Workdir, sim: &Sim, args: &[&str]) {
    let report = wd.interrupt_in_process(sim, args, 20);
    assert_eq!(report.exit, Exit::Interrupted, "{:?}", report.summary);
    assert!(
        report.summary.customers.not_done > 0,
        "{:?}",
        report.summary
    );
}

fn slow_sim() -> Sim {
    Sim::start(Scenario {
        latency: Duration::from_millis(15),
        jitter_sigma: 0.5,
        ..scenario()
    })
}

/// The plain content of an output, decompressing by extension.
fn content(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&bytes[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
    } else {
        out = bytes;
    }
    out
}

/// Customers committed according to the journal of `out`.
fn committed(wd: &Workdir, out: &str) -> usize {
    let partial = wd.path(&format!("{out}.partial"));
    let failed_partial = wd.path(&format!("{out}.failed.csv.partial"));
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    journal::load(
        &wd.path(&format!("{out}.journal")),
        len(&partial),
        len(&failed_partial),
        len(&wd.path(&format!("{out}.staged"))),
    )
    .unwrap()
    .map_or(0, |f| f.checkpoint.next as usize)
}

fn kill_and_resume(out: &str, reference: &str, seed: u64) {
    kill_and_resume_with(out, reference, seed, &ids(600), &[]);
}

/// Kill the real binary with SIGKILL at random moments, at least five
/// times in a row, resuming each time; the final file equals an
/// uninterrupted run's, byte for byte (decompressed for .gz and .zst), its
/// summary counts (rows, chats, drift) equal that run's, and no customer
/// the journal had committed was fetched again. `extra` args go to every
/// run. Returns the work directory, holding `out`.
pub fn kill_and_resume_with(
    out: &str,
    reference: &str,
    seed: u64,
    list: &[String],
    extra: &[&str],
) -> Workdir {
    let reference_sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", list);
    let mut reference_args = vec![
        "--ids",
        "ids.txt",
        "--out",
        reference,
        "--summary",
        "ref.json",
    ];
    reference_args.extend(extra);
    let o = wd.export(&reference_sim, &reference_args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let sim = slow_sim();
    let mut args = vec![
        "--ids",
        "ids.txt",
        "--out",
        out,
        "--concurrency",
        "2",
        "--resume",
        "--summary",
        "final.json",
    ];
    args.extend(extra);
    let mut rng = SplitMix(seed);
    let mut snapshots: Vec<(usize, HashMap<String, u64>)> = Vec::new();
    let mut kills = 0;
    while kills < 5 {
        let mut child = wd.spawn_export(&sim, &args);
        std::thread::sleep(Duration::from_millis(250 + rng.below(600)));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill: fine, but count no kill
        }
        unsafe_kill(child.id(), "KILL");
        child.wait().unwrap();
        kills += 1;
        assert!(!wd.path(out).exists(), "a killed run left a final output");
        snapshots.push((committed(&wd, out), sim.stats().per_customer()));
    }
    assert!(
        kills >= 5,
        "the run finished before five kills: make it slower"
    );
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    assert!(
        content(&wd.path(out)) == std::fs::read(wd.path(reference)).unwrap(),
        "{out} differs from the uninterrupted {reference}"
    );
    assert!(!wd.path(&format!("{out}.journal")).exists());
    assert!(!wd.path(&format!("{out}.partial")).exists());
    let (then, now) = (
        read_summary(&wd.path("ref.json")),
        read_summary(&wd.path("final.json")),
    );
    for key in ["rows", "chats", "customers", "drift"] {
        assert_eq!(now[key], then[key], "{key}");
    }

    // Committed customers were never fetched again.
    let last = sim.stats().per_customer();
    let mut progress = Vec::new();
    for (next, snap) in &snapshots {
        progress.push(*next);
        for id in &list[..*next] {
            assert_eq!(
                last.get(id),
                snap.get(id),
                "{id} was committed (within the first {next}) but fetched again"
            );
        }
    }
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        *progress.last().unwrap() > 0,
        "no progress was ever committed: {progress:?}"
    );
    wd
}

#[test]
fn kill_9_and_resume_csv() {
    kill_and_resume("k.csv", "ref.csv", 1);
}

#[test]
fn kill_9_and_resume_jsonl() {
    kill_and_resume("k.jsonl", "ref.jsonl", 2);
}

#[test]
fn kill_9_and_resume_gzip() {
    kill_and_resume("k.csv.gz", "ref.csv", 3);
}

#[test]
fn kill_9_and_resume_zstd() {
    kill_and_resume("k.jsonl.zst", "ref.jsonl", 4);
}

/// SIGINT exits 130 and SIGTERM 143, each naming the signal it got and
/// saying how to resume; `--resume` then completes with the output of an
/// uninterrupted run.
#[cfg(unix)]
#[test]
fn signals_stop_gracefully_and_resume_completes() {
    let list = ids(300);
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let sim = slow_sim();
    for (signal, exit) in [("INT", 130), ("TERM", 143)] {
        let out = format!("{signal}.csv");
        let args = [
            "--ids",
            "ids.txt",
            "--out",
            &out,
            "--concurrency",
            "4",
            "--resume",
        ];
        let before = sim.requests();
        let child = wd.spawn_export(&sim, &args);
        // Under way, with a first round answered: something to commit.
        sim.wait_for_requests(before + 12);
        unsafe_kill(child.id(), signal);
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), exit, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("--resume"), "{err}");
        assert!(err.contains(&format!("got SIG{signal}")), "{err}");
        assert_eq!(err.contains("Ctrl-C again"), signal == "INT", "{err}");
        assert!(committed(&wd, &out) > 0);
        let o = wd.export(&sim, &args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stderr(&o).contains("resuming"), "{}", stderr(&o));
        assert_eq!(read_csv(&wd.path(&out)), expected_rows(&list));
    }
}

/// Leave an interrupted run behind (SIGINT), then: without `--resume` the
/// tool refuses (exit 2) saying how far it got and naming both flags; with
/// different settings `--resume` refuses (exit 2) saying what differs;
/// `--restart` discards it and completes.
#[cfg(unix)]
#[test]
fn guards_around_an_interrupted_run() {
    let list = ids(300);
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let sim = slow_sim();
    interrupt_after(
        &wd,
        &sim,
        &["--ids", "ids.txt", "--out", "x.csv", "--concurrency", "2"],
    );
    let before = sim.requests();

    wd.ids("other.txt", &list[..10]);
    // Another service on the same host (another port) is another run.
    let elsewhere = Sim::healthy();
    let elsewhere_url = elsewhere.url();
    // Each refusal: the settings of the run after the interrupted one, and
    // what its message must name. --dry-run gives the same verdicts as
    // the run it previews.
    let refused: [(&str, &[&str], &[&str]); 5] = [
        (
            "ids.txt",
            &[],
            &[
                "interrupted run",
                "of 300 customers",
                "--resume",
                "--restart",
            ],
        ),
        (
            "ids.txt",
            &["--resume", "--columns", "content", "--days", "7"],
            &["columns", "content", "query", "days"],
        ),
        (
            "ids.txt",
            &["--resume", "--columns", "content", "--dry-run"],
            &["columns"],
        ),
        (
            "ids.txt",
            &["--resume", "--base-url", &elsewhere_url],
            &["base URL"],
        ),
        ("other.txt", &["--resume"], &["customer IDs"]),
    ];
    for (ids, extra, needles) in refused {
        let o = wd.export(&sim, &[&["--ids", ids, "--out", "x.csv"], extra].concat());
        assert_eq!(code(&o), 2, "{ids} {extra:?}: {}", stderr(&o));
        for needle in needles {
            let err = stderr(&o);
            assert!(
                err.contains(needle),
                "{ids} {extra:?}: missing {needle:?}: {err}"
            );
        }
    }
    let o = wd.export_to(&sim, "x.csv", &["--resume", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(plan.contains("--resume continues it"), "{plan}");
    assert_eq!(elsewhere.requests(), 0);
    assert_eq!(sim.requests(), before, "a refused run made requests");

    let o = wd.export_to(&sim, "x.csv", &["--restart", "--concurrency", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}

/// A run with a relative window (`--start -1h --end now`) resumed later
/// keeps the interrupted run's window instead of refusing it as a
/// different run: every request of both runs asks for the same times.
#[cfg(unix)]
#[test]
fn resume_keeps_a_relative_window() {
    let list = ids(300);
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let sim = slow_sim();
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "w.csv",
        "--start",
        "-1h",
        "--end",
        "now",
        "--tz",
        "UTC",
        "--concurrency",
        "2",
        "--resume",
    ];
    interrupt_after(&wd, &sim, &args);
    assert!(sim.requests() > 0);
    // Let `now` move on by at least a second (the wire format's unit).
    std::thread::sleep(Duration::from_millis(1100));

    let o = wd.export(&sim, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(plan.contains("keeping its window"), "{plan}");

    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keeping the interrupted run's window"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_csv(&wd.path("w.csv")), expected_rows(&list));
    let windows = sim.stats().windows();
    assert_eq!(windows.len(), 1, "{windows:?}");

    // A changed expression is a different run.
    let mut other = args.to_vec();
    other[3] = "v.csv";
    interrupt_after(&wd, &sim, &other);
    other[5] = "-2h";
    let o = wd.export(&sim, &other);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("query"), "{}", stderr(&o));

    // A fixed bound given differently is a different run too, even when
    // the relative one is the same.
    let mut fixed = args.to_vec();
    fixed[3] = "u.csv";
    fixed[5] = "2026-01-01";
    interrupt_after(&wd, &sim, &fixed);
    fixed[5] = "2026-01-02";
    let o = wd.export(&sim, &fixed);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("2026-01-01"), "{}", stderr(&o));
}

/// A second run on the same output while the first is alive refuses at
/// once (exit 2) instead of interleaving.
#[test]
fn a_concurrent_second_run_is_refused() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(300));
    let sim = slow_sim();
    let mut first = wd.spawn_export(
        &sim,
        &["--ids", "ids.txt", "--out", "x.csv", "--concurrency", "2"],
    );
    // Wait until the first run is under way (it has a journal).
    while !wd.path("x.csv.journal").exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = wd.export_to(&sim, "x.csv", &["--resume"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another yuju-export run"),
        "{}",
        stderr(&o)
    );
    first.kill().unwrap();
    first.wait().unwrap();
}

/// Failed customers stay in the failed file across resumes, once each.
#[cfg(unix)]
#[test]
fn failed_customers_are_listed_once_across_resumes() {
    let mut list = ids(300);
    for i in [5, 100, 200, 290] {
        list[i] = format!("unknown-{i}");
    }
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let sim = slow_sim();
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--concurrency",
        "4",
        "--resume",
    ];
    for delay in [300, 350] {
        let mut child = wd.spawn_export(&sim, &args);
        std::thread::sleep(Duration::from_millis(delay));
        unsafe_kill(child.id(), "KILL");
        child.wait().unwrap();
    }
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let failed: Vec<String> = read_failed(&wd.path("x.csv.failed.csv"))
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        failed,
        ["unknown-5", "unknown-100", "unknown-200", "unknown-290"]
    );
    let good: Vec<String> = list
        .iter()
        .filter(|i| !i.starts_with("unknown"))
        .cloned()
        .collect();
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&good));
}

/// A second Ctrl-C stops at once, without waiting for slow requests in
/// flight; the journal stays consistent and `--resume` completes.
#[cfg(unix)]
#[test]
fn second_ctrl_c_stops_at_once_and_resume_completes() {
    let list = ids(40);
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let sim = Sim::start(Scenario {
        latency: Duration::from_millis(6000),
        ..scenario()
    });
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--concurrency",
        "4",
        "--resume",
    ];
    let child = wd.spawn_export(&sim, &args);
    // Let a first round finish, so something is committed, and a second start.
    sim.wait_for_requests(8);
    unsafe_kill(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(200));
    let second = std::time::Instant::now();
    unsafe_kill(child.id(), "INT");
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert!(
        second.elapsed() < Duration::from_secs(4),
        "the second Ctrl-C did not stop at once"
    );
    // The same platform, now fast (a resume must talk to the same address).
    let addr = sim.sim.addr;
    drop(sim);
    let fast = Sim::start_on(addr, scenario());
    let o = wd.export(&fast, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}

/// A journal left beside a finished output (a crash between the rename of
/// the partial file and the removal of the journal) is stale: the next run
/// starts afresh instead of claiming an interrupted run.
#[test]
fn a_journal_without_its_partial_file_is_stale() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(5);
    wd.ids("ids.txt", &list);
    let o = wd.export_to(&sim, "x.jsonl", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Recreate the situation: a journal from that run, its partial gone.
    let fp = r#"{"journal":"yuju-export journal","version":1,"fingerprint":{"ids":"x","query":"x","columns":"x","format":"jsonl","compression":"none","base_url":"x"},"total":5}"#;
    wd.write("x.jsonl.journal", format!("{fp}\n{{\"next\":0,\"out_bytes\":0,\"failed_bytes\":0,\"ok\":0,\"empty\":0,\"failed\":0,\"chats\":0,\"rows\":0}}\n"));
    let o = wd.export_to(&sim, "x.jsonl", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!wd.path("x.jsonl.journal").exists());
    assert_eq!(read_jsonl(&wd.path("x.jsonl")), expected_rows(&list));
}

/// Ctrl-C while `--ids -` still waits for its input ends the run at once
/// (exit 130) without creating any file.
#[cfg(unix)]
#[test]
fn ctrl_c_while_reading_ids_from_stdin() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let mut cmd = wd.cmd(&sim);
    cmd.args(["export", "--ids", "-", "--out", "x.csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdin = child.stdin.take().unwrap(); // held open: the read blocks
    std::thread::sleep(Duration::from_millis(500));
    unsafe_kill(child.id(), "INT");
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reading the customer IDs"),
        "{}",
        stderr(&out)
    );
    assert!(wd.files().is_empty(), "{:?}", wd.files());
    assert_eq!(sim.requests(), 0);
}

/// SIGTERM, then stdout's reader goes away before the requests in flight
/// are written (Ctrl-C in a pipeline kills both ends): exit 143 with the
/// summary, not a broken-pipe error and exit 4.
#[cfg(unix)]
#[test]
fn signal_then_closed_stdout_is_still_a_signal_stop() {
    use std::io::{BufRead, BufReader};
    let sim = Sim::start(Scenario {
        latency: Duration::from_millis(100),
        ..scenario()
    });
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(500));
    let mut child = wd.spawn_export(
        &sim,
        &["--ids", "ids.txt", "--out", "-", "--summary", "s.json"],
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The header, then the first customer's rows: requests are in flight.
    while !line.starts_with("customer_id,") {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    line.clear();
    stdout.read_line(&mut line).unwrap();
    unsafe_kill(child.id(), "TERM");
    // Close stdout once the signal has been taken (its warning is logged),
    // while requests are still in flight.
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut err = String::new();
    while !err.contains("stopping") {
        if errors.read_line(&mut err).unwrap() == 0 {
            break;
        }
    }
    drop(stdout);
    std::io::Read::read_to_string(&mut errors, &mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["exit_code"], 143);
    assert_eq!(s["status"], "interrupted");
}

/// A second Ctrl-C ends the run even when stdout's reader has stopped
/// reading (the writer is blocked on a full pipe): exit 130 within seconds.
#[cfg(unix)]
#[test]
fn second_ctrl_c_exits_even_with_a_stuck_stdout() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(3000));
    let mut child = wd.spawn_export(&sim, &["--ids", "ids.txt", "--out", "-"]);
    let stdout = child.stdout.take().unwrap(); // never read: the pipe fills
    std::thread::sleep(Duration::from_millis(1500));
    unsafe_kill(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(200));
    unsafe_kill(child.id(), "INT");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("still running 15 s after the second Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdout);
    assert_eq!(status.code(), Some(130));
}

/// A run that ends before any customer is committed (a wrong key: exit 3
/// at the first answer) leaves no partial file and no journal, in every
/// format, so the next run needs no --resume and says nothing of one.
#[test]
fn a_run_that_committed_nothing_leaves_no_journal() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(20));
    for out in ["x.csv", "x.jsonl.gz", "x.parquet"] {
        let mut cmd = wd.cmd(&sim);
        cmd.env("YUJU_API_KEY", "wrong-key")
            .args(["export", "--ids", "ids.txt", "--out", out]);
        let o = cmd.output().unwrap();
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(!stderr(&o).contains("--resume"), "{}", stderr(&o));
        assert_eq!(wd.files(), ["ids.txt"], "{out}: nothing is left behind");
        let o = wd.export(&sim, &["--ids", "ids.txt", "--out", out]);
        assert_eq!(code(&o), 0, "{out}: {}", stderr(&o));
        std::fs::remove_file(wd.path(out)).unwrap();
    }
}
