//! `yuju-export doctor` against the simulator in its documented mode, and
//! in modes that break each assumption the tool rests on.

use yuju_export::simulator::{Calendar, DataProfile, Scenario};

use crate::common::*;

/// Chats dated from 20 days ago to tomorrow (the simulator's clock stands
/// at tomorrow for `days`): every chat is in the last 30 days.
fn recent() -> Calendar {
    let day = |d: i64| {
        (chrono::Utc::now() + chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string()
    };
    Calendar {
        from: chrono::NaiveDate::parse_from_str(&day(-20), "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
        to: chrono::NaiveDate::parse_from_str(&day(1), "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    }
}

fn platform(change: impl FnOnce(Scenario) -> Scenario) -> Sim {
    // One chat per customer: the first contact tried has one.
    Sim::start(change(Scenario {
        calendar: Some(recent()),
        data: DataProfile::Fixed {
            messages: 3,
            bytes: 40,
        },
        ..scenario()
    }))
}

/// Run `doctor --json`: its exit code and report.
fn doctor(sim: &Sim) -> (i32, serde_json::Value, String) {
    let wd = Workdir::new();
    let o = wd.cmd(sim).args(["doctor", "--json"]).output().unwrap();
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr(&o)));
    (code(&o), report, text)
}

/// The verdict and words of the finding on `check`.
fn finding(report: &serde_json::Value, check: &str) -> (String, String) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding: {report:#}"));
    (
        f["verdict"].as_str().unwrap().into(),
        f["found"].as_str().unwrap().into(),
    )
}

#[test]
fn a_documented_platform_passes_with_few_requests_and_no_personal_data() {
    let sim = platform(|s| s);
    let (exit, report, text) = doctor(&sim);
    assert_eq!(exit, 0, "{report:#}");
    for check in ["key", "contact list", "record shape", "window"] {
        assert_eq!(finding(&report, check).0, "ok", "{check}: {report:#}");
    }
    assert!(
        finding(&report, "window").1.starts_with("honoured"),
        "{report:#}"
    );
    assert!(sim.requests() <= 10, "{} requests", sim.requests());
    assert_eq!(report["requests"].as_u64(), Some(sim.requests()));
    assert_eq!(report["api_codes"]["contacts 0"], 1);
    assert!(!text.contains(KEY), "the key is in the report");
    for personal in [
        "访客",
        "138000",
        "@example.com",
        "db9c559891948d2378bc927ded35455d",
    ] {
        assert!(!text.contains(personal), "{personal} is in the report");
    }
    let wd = Workdir::new();
    let o = wd.cmd(&sim).arg("doctor").output().unwrap();
    assert_eq!(code(&o), 0);
    let said = String::from_utf8(o.stdout).unwrap();
    assert!(
        said.contains("everything matches the tool's assumptions"),
        "{said}"
    );
}

#[test]
fn a_platform_that_ignores_the_window_is_said_loudly() {
    let sim = platform(|s| Scenario {
        ignore_window: true,
        ..s
    });
    let (exit, report, _) = doctor(&sim);
    assert_eq!(exit, 1, "{report:#}");
    let (verdict, found) = finding(&report, "window");
    assert_eq!(verdict, "differs");
    assert!(found.contains("IGNORES start_time AND end_time"), "{found}");
}

#[test]
fn undocumented_message_fields_are_named() {
    let sim = platform(|s| Scenario {
        undocumented_fields: true,
        ..s
    });
    let (exit, report, _) = doctor(&sim);
    assert_eq!(exit, 1, "{report:#}");
    let (verdict, found) = finding(&report, "record shape");
    assert_eq!(verdict, "differs");
    assert!(
        found.contains("messages.time") && found.contains("messages.id"),
        "{found}"
    );
    assert_eq!(finding(&report, "window").0, "ok");
}

#[test]
fn code_0_on_the_record_endpoint_differs() {
    let sim = platform(|s| Scenario {
        record_code: 0,
        ..s
    });
    let (exit, report, _) = doctor(&sim);
    assert_eq!(exit, 1, "{report:#}");
    let (verdict, found) = finding(&report, "record endpoint");
    assert_eq!(verdict, "differs");
    assert!(found.contains("Code 0"), "{found}");
}

#[test]
fn a_missing_key_check_is_proved_by_the_record_endpoint() {
    let sim = platform(|s| Scenario {
        no_check: true,
        ..s
    });
    let (exit, report, _) = doctor(&sim);
    assert_eq!(exit, 1, "{report:#}");
    let (verdict, found) = finding(&report, "key");
    assert_eq!(verdict, "differs");
    assert!(found.contains("proved by the record endpoint"), "{found}");
    assert_eq!(finding(&report, "window").0, "ok");
}

#[test]
fn a_refused_key_is_exit_3_and_other_settings_are_refused() {
    let sim = platform(|s| Scenario {
        api_key: "another".into(),
        ..s
    });
    let (exit, report, _) = doctor(&sim);
    assert_eq!(exit, 3, "{report:#}");
    assert_eq!(finding(&report, "key").0, "differs");
    let wd = Workdir::new();
    let o = wd
        .cmd(&sim)
        .args(["doctor", "--out", "x.csv", "--days", "3"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--out, --days") || stderr(&o).contains("--days, --out"),
        "{}",
        stderr(&o)
    );
}
