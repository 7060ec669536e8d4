//! Unit tests of the validated settings.

use std::path::Path;

use super::key::looks_like_a_path;
use super::*;

fn args(out: &str) -> ExportOptions {
    ExportOptions {
        ids: Some("ids.txt".into()),
        out: Some(out.into()),
        ..ExportOptions::default()
    }
}
fn key_env(name: &str) -> Option<String> {
    (name == "YUJU_API_KEY").then(|| "k3y".to_string())
}

#[test]
fn only_path_like_key_files_are_named() {
    assert!(looks_like_a_path(Path::new("key.txt")));
    assert!(looks_like_a_path(Path::new("/etc/yuju/key")));
    assert!(!looks_like_a_path(Path::new("sk-LIVE-9f8e7d6c5b")));
    assert!(!looks_like_a_path(Path::new(
        "eyJhbGciOi.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )));
}

#[test]
fn defaults_follow_the_contract() {
    let c = ExportConfig::from_options(args("dump.csv"), key_env).unwrap();
    assert_eq!(c.format, Format::Csv);
    assert_eq!(c.concurrency, 8);
    assert_eq!(c.retry.max_retries, 5);
    assert_eq!(c.client.timeout, Duration::from_secs(30));
    assert_eq!(c.query.days, Some(30));
    assert_eq!(c.files.failed, Some(PathBuf::from("dump.csv.failed.csv")));
    assert_eq!(c.base_url.as_str(), "https://chat.jijyun.cn/");
    assert_eq!(c.columns, Column::ALL.to_vec());
}

#[test]
fn format_is_inferred_or_refused() {
    let f = |o: &str| ExportConfig::from_options(args(o), key_env).map(|c| c.format);
    assert_eq!(f("x.JSONL").unwrap(), Format::Jsonl);
    assert_eq!(f("x.ndjson").unwrap(), Format::Jsonl);
    assert_eq!(f("x.jsonl.zst").unwrap(), Format::Jsonl);
    assert_eq!(f("x.csv.gz").unwrap(), Format::Csv);
    let c = ExportConfig::from_options(args("d.csv.gz"), key_env).unwrap();
    assert_eq!(c.compression, Compression::Gzip);
    let c = ExportConfig::from_options(args("d.jsonl.zst"), key_env).unwrap();
    assert_eq!(c.compression, Compression::Zstd);
    assert_eq!(f("-").unwrap(), Format::Csv);
    let err = f("x.txt").unwrap_err().to_string();
    assert!(err.contains("--format"), "{err}");
    assert_eq!(f("x.Parquet").unwrap(), Format::Parquet);
}

/// Parquet needs a file it can finish with a footer, and compresses
/// its own pages: stdout and file-level compression are refused.
#[test]
fn parquet_refuses_stdout_and_file_compression() {
    let f = |o: ExportOptions| ExportConfig::from_options(o, key_env).map(|c| c.format);
    let err = f(args("x.parquet.gz")).unwrap_err().to_string();
    assert!(err.contains("--compress gzip"), "{err}");
    let mut o = args("x.parquet");
    o.compress = Some(Compression::Zstd);
    assert!(f(o).unwrap_err().to_string().contains("--compress zstd"));
    let mut o = args("-");
    o.format = Some(Format::Parquet);
    let err = f(o).unwrap_err().to_string();
    assert!(
        err.contains("regular file") && err.contains("stdout"),
        "{err}"
    );
    let mut o = args("x.parquet");
    o.compress = Some(Compression::None);
    assert_eq!(f(o).unwrap(), Format::Parquet);
}

#[test]
fn missing_key_is_explained() {
    let err = ExportConfig::from_options(args("a.csv"), |_| None).unwrap_err();
    assert!(err.to_string().contains("YUJU_API_KEY"));
}

#[test]
fn key_never_shows_in_debug() {
    let c = ExportConfig::from_options(args("a.csv"), key_env).unwrap();
    assert!(!format!("{c:?}").contains("k3y"));
}

/// `--days` with `--start` or `--end` is refused naming both: only one
/// of them may reach the API.
#[test]
fn days_with_start_or_end_is_refused() {
    for (flag, value) in [("start", "2026-01-01"), ("end", "2026-01-31")] {
        let mut a = args("a.csv");
        a.days = Some(7);
        if flag == "start" {
            a.start = Some(value.into());
        } else {
            a.end = Some(value.into());
        }
        let err = ExportConfig::from_options(a, key_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--days 7") && err.contains(&format!("--{flag}")),
            "{err}"
        );
    }
    let mut a = args("a.csv");
    a.days = Some(7);
    let c = ExportConfig::from_options(a, key_env).unwrap();
    assert_eq!(
        (c.query.days, c.query.start, c.query.end),
        (Some(7), None, None)
    );
}

#[test]
fn window_drops_default_days() {
    let mut a = args("a.csv");
    a.start = Some("2026-01-01".into());
    let c = ExportConfig::from_options(a.clone(), key_env).unwrap();
    assert_eq!(c.query.days, None);
    a.end = Some("2025-12-31".into());
    assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
}

/// With a recorded state the window starts there (--start is only
/// checked), --end defaults to now, and a resume keeps the end.
#[test]
fn a_recorded_state_sets_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    std::fs::write(&state, r#"{"window_end": "2026-03-05T00:00:00+08:00"}"#).unwrap();
    let mut a = args("a.csv");
    a.state = Some(state);
    a.tz = Some("UTC".into());
    a.start = Some("2026-01-01".into());
    let c = ExportConfig::from_options(a.clone(), key_env).unwrap();
    let q = c.query.body("");
    assert_eq!(q.start_time, "2026-03-04 16:00:00");
    assert!(!q.end_time.is_empty() && q.days.is_empty());
    assert_eq!(c.relative_bounds, (false, true));
    a.start = Some("2026-13-01".into());
    assert!(ExportConfig::from_options(a, key_env).is_err());
}

#[test]
fn cross_checks_reject_bad_values() {
    let mut a = args("a.csv");
    a.concurrency = Some(0);
    assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
    let mut a = args("a.csv");
    a.columns = Some("seq,nope".into());
    assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
    let mut a = args("a.csv");
    a.base_url = Some("ftp://x".into());
    assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
    let mut a = args("a.csv");
    a.failed = Some("a.csv".into());
    assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
}

/// Every declared range is enforced at its bounds, naming the flag.
#[test]
fn each_declared_limit_is_enforced_at_its_bounds() {
    for limit in super::LIMITS {
        let mut cases = vec![(limit.min, true), (limit.max, true), (limit.max + 1, false)];
        if limit.min > 0 {
            cases.push((limit.min - 1, false));
        }
        for (value, ok) in cases {
            let key = limit.field.replace('_', "-");
            let mut o: ExportOptions = toml::from_str(&format!("{key} = {value}")).unwrap();
            o.ids = Some("ids.txt".into());
            o.out = Some("dump.parquet".into());
            let got = ExportConfig::from_options(o, key_env);
            assert_eq!(got.is_ok(), ok, "{key} = {value}: {:?}", got.err());
            if let Err(e) = got {
                assert!(e.to_string().contains(&limit.flag()), "{e}");
            }
        }
    }
}
