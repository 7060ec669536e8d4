//! Bad input and bad settings: exit 2 before any request, with a message
//! naming the file, line and reason.

use crate::common::*;

fn assert_usage_error(sim: &Sim, out: &std::process::Output, needles: &[&str]) {
    assert_eq!(code(out), 2, "{}", stderr(out));
    let err = stderr(out);
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    assert_eq!(sim.requests(), 0, "a request was made despite bad input");
}

/// Each kind of invalid ID line is named with its file, line and reason,
/// and nothing is fetched.
#[test]
fn invalid_ids_exit_2_naming_file_line_and_reason() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let long = "a".repeat(300);
    wd.write(
        "ids.txt",
        format!("good1\nhas space\n{long}\nquo\"te\nco,mma\nctl\u{1}x\ngood2\n"),
    );
    let out = wd.export(&sim, &["--ids", "ids.txt", "--out", "x.csv"]);
    assert_usage_error(
        &sim,
        &out,
        &[
            "ids.txt",
            "line 2",
            "whitespace",
            "line 3",
            "300 bytes",
            "line 4",
            "quote",
            "line 5",
            "comma",
            "line 6",
            "control",
        ],
    );
    assert!(!wd.path("x.csv").exists() && !wd.path("x.csv.partial").exists());
}

/// A missing --ids file is worded like every other usage error: one
/// `yuju-export: error:` line naming the file, not a timestamped log line.
#[test]
fn a_missing_ids_file_reads_like_a_usage_error() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let out = wd.export(&sim, &["--ids", "nowhere.txt", "--out", "x.csv"]);
    assert_usage_error(&sim, &out, &["nowhere.txt"]);
    let err = stderr(&out);
    assert!(err.starts_with("yuju-export: error: "), "{err}");
    assert!(!err.contains("ERROR"), "{err}");
}

/// `--ids /dev/zero` (one endless line) is refused at once with exit 2 and
/// a message, without reading it all into memory.
#[cfg(unix)]
#[test]
fn an_endless_input_is_refused() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let out = wd.export(&sim, &["--ids", "/dev/zero", "--out", "x.csv"]);
    assert_usage_error(&sim, &out, &["/dev/zero", "line 1 is longer than 64 KiB"]);
}

/// Bad settings each exit 2 with a message that names the problem, and
/// nothing is fetched.
#[test]
fn bad_settings_exit_2_without_requests() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(3));
    wd.write("bad.toml", "concurency = 3\n");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--ids", "missing.txt", "--out", "x.csv"],
            &["missing.txt"],
        ),
        (&["--ids", "ids.txt", "--out", "x.txt"], &["--format"]),
        (
            &["--ids", "ids.txt", "--out", "no/such/dir/x.csv"],
            &["no/such/dir/x.csv"],
        ),
        (
            &["--ids", "ids.txt", "--out", "x.csv", "--concurrency", "0"],
            &["--concurrency"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--concurrency",
                "2000",
            ],
            &["--concurrency"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--columns",
                "seq,bogus",
            ],
            &["bogus"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--start",
                "yesterday-ish",
            ],
            &["--start"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--start",
                "2026-02-01",
                "--end",
                "2026-01-01",
            ],
            &["after --end"],
        ),
        (
            &["--ids", "ids.txt", "--out", "x.csv", "--timeout", "soon"],
            &["--timeout"],
        ),
        (
            &["--ids", "ids.txt", "--out", "x.csv", "--config", "bad.toml"],
            &["bad.toml", "concurency"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--api-key-file",
                "nokey.txt",
            ],
            &["nokey.txt"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--base-url",
                "ftp://example.com",
            ],
            &["--base-url"],
        ),
        (
            &[
                "--ids",
                "ids.txt",
                "--out",
                "x.csv",
                "--summary",
                "no-such-dir/s.json",
            ],
            &["summary", "no-such-dir"],
        ),
        (
            &["--ids", "ids.txt", "--out", "x.csv", "--rate", "1e-19"],
            &["--rate", "one a minute"],
        ),
        (&["--out", "x.csv"], &["--ids"]),
        (&["--bogus-flag"], &["--bogus-flag"]),
    ];
    for (args, needles) in cases {
        let out = wd.export(&sim, args);
        assert_usage_error(&sim, &out, needles);
    }
    // No key at all.
    let mut cmd = wd.cmd(&sim);
    cmd.env_remove("YUJU_API_KEY")
        .args(["export", "--ids", "ids.txt", "--out", "x.csv"]);
    let out = cmd.output().unwrap();
    assert_usage_error(&sim, &out, &["YUJU_API_KEY", "--api-key-file"]);
}

/// The key can come from a file (first line, trimmed).
#[test]
fn api_key_file_is_read() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    wd.write("key.txt", format!("  {KEY}  \nsecond line ignored\n"));
    let mut cmd = wd.cmd(&sim);
    cmd.env_remove("YUJU_API_KEY").args([
        "export",
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--api-key-file",
        "key.txt",
    ]);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// IDs come from stdin with `--ids -`; a BOM, CRLF, comments and blank
/// lines are accepted.
#[test]
fn ids_from_stdin_with_bom_crlf_and_comments() {
    use std::io::Write;
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(4);
    let mut cmd = wd.cmd(&sim);
    cmd.args(["export", "--ids", "-", "--out", "x.csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let text = format!(
        "\u{feff}# customers\r\n{}\r\n\r\n  {}  \r\n{}\n{}",
        list[0], list[1], list[2], list[3]
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
}
