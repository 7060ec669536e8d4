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
    let out = wd.export_to(&sim, "x.csv", &[]);
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

/// The ID files of a user's first hour: a one-column file headed
/// `Customer_ID` (the header is never sent), an Excel export with CRLF
/// line ends and rows of nothing but commas, a CSV without the column
/// (its columns named), a UTF-16 file (named, with the fix), and a bad
/// line of a CRLF CSV named at its own line.
#[test]
fn first_hour_id_files_read_as_meant() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = ids(3);
    wd.write("headed.txt", format!("Customer_ID\n{}\n", list.join("\n")));
    let o = wd.export(&sim, &["--ids", "headed.txt", "--out", "a.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sim.stats().requests_for("Customer_ID"), 0);
    assert_eq!(read_csv(&wd.path("a.csv")), expected_rows(&list));

    let excel: String = list
        .iter()
        .map(|id| format!("{id},note\r\n,\r\n"))
        .collect();
    wd.write("excel.csv", format!("CUSTOMER_ID,Note\r\n{excel},,\r\n"));
    let o = wd.export(&sim, &["--ids", "excel.csv", "--out", "b.csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("b.csv")), expected_rows(&list));
    let requests = sim.requests();

    let wd = Workdir::new();
    wd.write("contacts.csv", "id,name\r\n1,访客290\r\n");
    let o = wd.export(&sim, &["--ids", "contacts.csv", "--out", "c.csv"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("no customer_id column"), "{err}");
    assert!(err.contains(r#""id", "name""#), "{err}");

    let mut utf16 = vec![0xff, 0xfe];
    for unit in format!("customer_id\r\n{}\r\n", list[0]).encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    wd.write("unicode.txt", utf16);
    let o = wd.export(&sim, &["--ids", "unicode.txt", "--out", "d.csv"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("unicode.txt") && err.contains("UTF-16"),
        "{err}"
    );
    assert!(err.contains("iconv -f UTF-16 -t UTF-8"), "{err}");

    wd.write(
        "bad.csv",
        "customer_id,n\r\na1,x\r\na2,y\r\na3,z\r\nb c,w\r\n",
    );
    let o = wd.export(&sim, &["--ids", "bad.csv", "--out", "e.csv"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("line 5: "), "{}", stderr(&o));
    assert_eq!(sim.requests(), requests, "no request for refused files");
}

/// A folder that does not exist is named as a folder, in the run and in
/// `--dry-run`, for the output and for every side file.
#[test]
fn a_missing_folder_is_named_as_a_folder() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    for args in [
        &["--out", "nodir/sub/chats.csv"][..],
        &["--out", "x.csv", "--failed", "gone/f.csv"],
        &["--out", "x.csv", "--summary", "gone/s.json"],
        &["--out", "x.csv", "--metrics", "gone/m.prom"],
    ] {
        let folder = std::path::Path::new(args[args.len() - 1])
            .parent()
            .unwrap()
            .display()
            .to_string();
        for dry in [false, true] {
            let mut all = vec!["--ids", "ids.txt"];
            all.extend(args);
            if dry {
                all.push("--dry-run");
            }
            let o = wd.export(&sim, &all);
            assert_usage_error(&sim, &o, &[&format!("the folder {folder} does not exist")]);
            assert!(!stderr(&o).contains(".partial"), "{}", stderr(&o));
        }
    }
}
