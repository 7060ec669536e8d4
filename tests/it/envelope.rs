//! Faults told inside a 200 answer's envelope: every non-2000 `Code` is
//! judged by its class (definitive, transient, throttled, unknown), and
//! only the platform's definitive answers let the `--state` watermark
//! move. The simulator's `code-…` customers answer each case
//! (`yuju_export::simulator::envelope`).

use std::process::Output;

use crate::common::*;
use yuju_export::simulator::envelope::{FAULTY_FIRST, ODD_CODE, ODD_FIRST, UNKNOWN_CODE};

const STATE: &str = "state.json";

/// A run with `--state` over a fixed window (the simulator ignores the
/// window without a calendar, so every run exports all of each customer's
/// chats), backoff steps short enough for a test.
fn run(wd: &Workdir, sim: &Sim, end: &str, extra: &[&str]) -> Output {
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "x.csv",
        "--state",
        STATE,
        "--start",
        "2026-03-01",
        "--end",
        end,
        "--tz",
        "UTC",
        "--summary",
        "s.json",
        "--retry-base",
        "10ms",
        "--retry-cap",
        "40ms",
    ];
    wd.export(sim, &[&args[..], extra].concat())
}

/// Where the watermark stands after the last run.
fn watermark(wd: &Workdir) -> (bool, String) {
    let s = read_summary(&wd.path("s.json"));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.path(STATE)).unwrap()).unwrap();
    (
        s["state"]["moved"].as_bool().unwrap(),
        state["window_end"].as_str().unwrap().to_string(),
    )
}

/// The summary's entry for one code: (class, answers).
fn code_entry(s: &serde_json::Value, code: &str) -> Option<(String, u64)> {
    s["api_codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .map(|c| {
            (
                c["class"].as_str().unwrap().to_string(),
                c["answers"].as_u64().unwrap(),
            )
        })
}

/// A first night of healthy customers, so that later nights show whether
/// they moved the watermark past 2026-03-02.
fn first_night(wd: &Workdir) {
    wd.ids("ids.txt", &ids(3));
    let o = run(wd, &Sim::healthy(), "2026-03-02", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(watermark(wd), (true, "2026-03-02T00:00:00Z".into()));
}

/// The three answers a new user's platform might send (busy, a throttle
/// and an internal error, each in a 200's envelope and each passing on a
/// later request) are retried under their own causes: every customer is
/// exported, the run exits 0 and the watermark moves. The summary lists
/// each code with its class and count, and the metrics carry them.
#[test]
fn busy_throttled_and_internal_error_codes_are_retried_and_exported() {
    let wd = Workdir::new();
    let mut list = ids(6);
    list.insert(1, "code-busy-a".into());
    list.insert(3, "code-throttled-a".into());
    list.insert(5, "code-500-a".into());
    wd.ids("ids.txt", &list);
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-02", &["--metrics", "m.prom"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    assert!(!wd.path("x.csv.failed.csv").exists());
    assert_eq!(watermark(&wd), (true, "2026-03-02T00:00:00Z".into()));

    let s = read_summary(&wd.path("s.json"));
    let retries = &s["retries_by_cause"];
    assert_eq!(retries["code_transient"], 2 * FAULTY_FIRST, "{s}");
    assert_eq!(retries["code_throttled"], FAULTY_FIRST, "{s}");
    assert_eq!(retries["code_unknown"], 0, "{s}");
    assert_eq!(retries["5xx"], 0, "{s}");
    let per = sim.stats().per_customer();
    for id in ["code-busy-a", "code-throttled-a", "code-500-a"] {
        assert_eq!(per[id], FAULTY_FIRST + 1, "{id}");
    }
    assert_eq!(
        code_entry(&s, "5000"),
        Some(("transient".into(), FAULTY_FIRST))
    );
    assert_eq!(
        code_entry(&s, "4290"),
        Some(("throttled".into(), FAULTY_FIRST))
    );
    assert_eq!(
        code_entry(&s, "500"),
        Some(("transient".into(), FAULTY_FIRST))
    );

    let metrics = std::fs::read_to_string(wd.path("m.prom")).unwrap();
    assert!(
        metrics.contains(&format!(
            "yuju_export_last_run_retries{{cause=\"code_throttled\"}} {FAULTY_FIRST}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "yuju_export_last_run_api_code_answers{{code=\"5000\",class=\"transient\"}} {FAULTY_FIRST}"
        )),
        "{metrics}"
    );
}

/// A throttle told in the envelope reaches the rate limiter as a 429
/// would: a run that meets one reports the limit it measured (a run that
/// never met a throttle has none), just as a run that meets HTTP 429s.
#[test]
fn a_throttle_in_the_envelope_slows_the_limiter_as_a_429_would() {
    let settled = |special: &str| {
        let wd = Workdir::new();
        let mut list = ids(20);
        if !special.is_empty() {
            list.insert(2, special.to_string());
        }
        wd.ids("ids.txt", &list);
        let o = run(&wd, &Sim::healthy(), "2026-03-02", &[]);
        assert_eq!(code(&o), 0, "{special}: {}", stderr(&o));
        assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
        read_summary(&wd.path("s.json"))["settled_rate"].clone()
    };
    assert!(settled("").is_null(), "no throttle, no measured limit");
    assert!(settled("throttled-a").is_f64(), "an HTTP 429 cuts the pace");
    let rate = settled("code-throttled-a");
    assert!(rate.is_f64(), "so does Code 4290 Too Many Requests: {rate}");
}

/// A customer whose answers stay busy fails after `--retries` as a
/// transient failure: exit 1, the failed file says `transient`, and the
/// watermark stays where it was, so the next night exports the window
/// again.
#[test]
fn busy_forever_fails_and_holds_the_watermark() {
    let wd = Workdir::new();
    first_night(&wd);
    let mut list = ids(3);
    list.push("code-busy-forever-a".into());
    wd.ids("ids.txt", &list);
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-03", &["--retries", "2"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(watermark(&wd), (false, "2026-03-02T00:00:00Z".into()));
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["state"]["kept_because"], "transient_failures", "{s}");
    assert_eq!(s["failed_by_kind"]["transient_code_transient"], 1, "{s}");
    assert_eq!(sim.stats().per_customer()["code-busy-forever-a"], 3);
    let failed = read_failed_classes(&wd.path("x.csv.failed.csv"));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "code-busy-forever-a");
    assert_eq!(failed[0].2, "transient");
    assert!(
        failed[0].1.starts_with("API Code 5000: 系统繁忙"),
        "{failed:?}"
    );
    assert!(
        failed[0].1.contains("gave up after 3 attempts"),
        "{failed:?}"
    );
}

/// A code nobody has classified is retried once, then fails its customer
/// as `unknown_code`: exit 1, the watermark held, and a warning that names
/// the code and the flags that declare it.
#[test]
fn an_unknown_code_is_retried_once_then_holds_the_watermark() {
    let wd = Workdir::new();
    first_night(&wd);
    let mut list = ids(3);
    list.insert(1, "code-unknown-a".into());
    wd.ids("ids.txt", &list);
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-03", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(watermark(&wd), (false, "2026-03-02T00:00:00Z".into()));
    assert_eq!(sim.stats().per_customer()["code-unknown-a"], 2);
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["failed_by_kind"]["unknown_code"], 1, "{s}");
    assert_eq!(s["retries_by_cause"]["code_unknown"], 1, "{s}");
    let code_text = UNKNOWN_CODE.to_string();
    assert_eq!(code_entry(&s, &code_text), Some(("unknown".into(), 2)));
    let failed = read_failed_classes(&wd.path("x.csv.failed.csv"));
    assert_eq!(
        failed
            .iter()
            .map(|f| (f.0.as_str(), f.2.as_str()))
            .collect::<Vec<_>>(),
        [("code-unknown-a", "unknown")]
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("--definitive-codes {UNKNOWN_CODE}"))
            && err.contains(&format!("--transient-codes {UNKNOWN_CODE}")),
        "{err}"
    );
    // The other customers are exported.
    let rest: Vec<String> = list.into_iter().filter(|i| i.len() == 32).collect();
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&rest));
}

/// Code 4000, the documented "unknown customer or bad parameter", is the
/// platform's final answer: one request, exit 1, class `definitive`, and
/// the watermark moves.
#[test]
fn code_4000_fails_at_once_and_moves_the_watermark() {
    let wd = Workdir::new();
    first_night(&wd);
    let mut list = ids(3);
    list.push("unknown-a".into());
    wd.ids("ids.txt", &list);
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-03", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(watermark(&wd), (true, "2026-03-03T00:00:00Z".into()));
    assert_eq!(sim.stats().per_customer()["unknown-a"], 1);
    let failed = read_failed_classes(&wd.path("x.csv.failed.csv"));
    assert_eq!(
        failed,
        [(
            "unknown-a".to_string(),
            "API Code 4000: 客户不存在".to_string(),
            "definitive".to_string()
        )]
    );
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(code_entry(&s, "4000"), Some(("definitive".into(), 1)));
}

/// An operator who learns the platform's codes declares them. A code
/// declared definitive (here in the config file) is not retried and lets
/// the watermark move; a code declared transient is retried like a 5xx,
/// past the single retry an unknown code gets, until it passes.
#[test]
fn declared_codes_win_over_the_rules() {
    let wd = Workdir::new();
    first_night(&wd);
    let mut list = ids(2);
    list.push("code-unknown-a".into());
    wd.ids("ids.txt", &list);
    wd.write(
        "codes.toml",
        format!("definitive-codes = [{UNKNOWN_CODE}, 4005]\n"),
    );
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-03", &["--config", "codes.toml"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(watermark(&wd), (true, "2026-03-03T00:00:00Z".into()));
    assert_eq!(sim.stats().per_customer()["code-unknown-a"], 1);
    let failed = read_failed_classes(&wd.path("x.csv.failed.csv"));
    assert_eq!(failed[0].2, "definitive", "{failed:?}");
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["failed_by_kind"]["api_code"], 1, "{s}");

    // Undeclared, code-odd's code fails it after one retry...
    let mut list = ids(2);
    list.push("code-odd-a".into());
    wd.ids("ids.txt", &list);
    let sim = Sim::healthy();
    let o = run(&wd, &sim, "2026-03-04", &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(sim.stats().per_customer()["code-odd-a"], 2);
    assert_eq!(watermark(&wd), (false, "2026-03-03T00:00:00Z".into()));

    // ...declared transient, it is retried until it passes.
    let sim = Sim::healthy();
    let odd = ODD_CODE.to_string();
    let o = run(&wd, &sim, "2026-03-04", &["--transient-codes", &odd]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sim.stats().per_customer()["code-odd-a"], ODD_FIRST + 1);
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["retries_by_cause"]["code_transient"], ODD_FIRST, "{s}");
    assert_eq!(code_entry(&s, &odd), Some(("transient".into(), ODD_FIRST)));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    assert_eq!(watermark(&wd), (true, "2026-03-04T00:00:00Z".into()));
}

/// A code declared both ways, or the success code, is a usage error (exit
/// 2) that names it; nothing is requested.
#[test]
fn contradicting_declarations_are_refused() {
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(2));
    let sim = Sim::healthy();
    for (args, says) in [
        (
            &["--definitive-codes", "4004,7", "--transient-codes", "7"][..],
            "code 7",
        ),
        (&["--transient-codes", "2000"][..], "2000"),
        (&["--definitive-codes", "x1"][..], "x1"),
    ] {
        let o = wd.export(
            &sim,
            &[&["--ids", "ids.txt", "--out", "x.csv"], args].concat(),
        );
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(sim.requests(), 0);
}
