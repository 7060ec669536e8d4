//! The API key appears nowhere: not in stdout, stderr (at -vv, with faults
//! and failures), the output, the failed file or the summary.

use std::time::Duration;

use crate::common::*;
use yuju_export::simulator::{Fault, Scenario};

/// A run at `-vv` with every kind of fault, business failures and retries
/// exhausted, in text and JSON logs: the key is in no byte written.
#[test]
fn key_never_appears_anywhere() {
    let sim = Sim::start(Scenario {
        fault_rate: 0.5,
        faults: Fault::ALL.to_vec(),
        hang: Duration::from_secs(5),
        ..scenario()
    });
    let wd = Workdir::new();
    let mut list = ids(40);
    list.push("unknown-x".into());
    wd.ids("ids.txt", &list);
    for (out, fmt) in [("x.csv", "text"), ("y.jsonl", "json")] {
        let o = wd.export(
            &sim,
            &[
                "--ids",
                "ids.txt",
                "--out",
                out,
                "-vv",
                "--log-format",
                fmt,
                "--retries",
                "1",
                "--retry-base",
                "10ms",
                "--timeout",
                "300ms",
                "--summary",
                "s.json",
                "--progress",
                "always",
            ],
        );
        assert!([0, 1].contains(&code(&o)), "{}", stderr(&o));
        let all = [o.stdout.clone(), o.stderr.clone()].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(!text.contains(KEY), "key leaked on stdout/stderr");
        assert!(!text.contains("apiKey"), "a URL leaked on stdout/stderr");
        assert!(text.contains("retrying"), "-vv should log retries:\n{text}");
    }
    for name in wd.files() {
        let bytes = std::fs::read(wd.path(&name)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(KEY), "key leaked into {name}");
    }
    // A wrong key is not echoed either.
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_API_KEY", "wrong-secret-123")
        .args(["export", "--ids", "ids.txt", "--out", "z.csv", "-vv"]);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 3);
    let all = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    assert!(!all.contains("wrong-secret-123"));
}

/// A key pasted where it does not belong (a `--base-url` with its query, a
/// malformed line of the config file) is not echoed back by the error.
#[test]
fn usage_errors_do_not_echo_a_pasted_key() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    let pasted = format!("{}/v1/openapi/chat/record?apiKey={KEY}", sim.url());
    let out = wd.export_to(&sim, "x.csv", &["--base-url", &pasted]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--base-url"), "{err}");
    assert!(!err.contains(KEY), "the key was echoed: {err}");
    let with_password = sim.url().replace("http://", &format!("http://user:{KEY}@"));
    let out = wd.export_to(&sim, "x.csv", &["--base-url", &with_password]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains(KEY),
        "the password was echoed: {}",
        stderr(&out)
    );

    // `api_key` is not a config key, and the line is not valid TOML either.
    wd.write("bad.toml", format!("concurrency = 4\napi_key = {KEY}\n"));
    let out = wd.export_to(&sim, "x.csv", &["--config", "bad.toml"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.toml") && err.contains("line 2"), "{err}");
    assert!(!err.contains(KEY), "the key was echoed: {err}");

    // The key given where a value of another type belongs, and where the
    // key file's path belongs (on the command line and in the file).
    for toml in [
        format!("concurrency = \"{KEY}\"\n"),
        format!("api-key-file = \"{KEY}\"\n"),
        format!("format = \"{KEY}\"\n"),
        format!("timeout = \"{KEY}\"\n"),
    ] {
        wd.write("bad.toml", toml);
        let mut cmd = wd.cmd(&sim);
        cmd.env_remove("YUJU_API_KEY").args([
            "export", "--ids", "ids.txt", "--out", "x.csv", "--config", "bad.toml",
        ]);
        let out = cmd.output().unwrap();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            !stderr(&out).contains(KEY),
            "the key was echoed: {}",
            stderr(&out)
        );
    }
    let out = wd.export_to(&sim, "x.csv", &["--api-key-file", KEY]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--api-key-file"), "{err}");
    assert!(!err.contains(KEY), "the key was echoed: {err}");
    assert_eq!(sim.requests(), 0);
}
