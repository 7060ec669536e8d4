//! The progress counts the work done, customers answered, not the
//! customers written in input order: a head-of-line customer held back by
//! 429s must not freeze it.

use crate::common::*;

/// The first customer draws six 429s, each retried at the limiter's next
/// slot, while the others are answered. The log ticker (no terminal, every
/// 100 ms) shows them answered while none is written yet, and the written
/// count catches up by the end.
#[test]
fn progress_counts_answered_customers_while_the_written_count_lags() {
    let wd = Workdir::new();
    let mut list = ids(40);
    list.insert(0, "throttled-head".to_string());
    wd.ids("ids.txt", &list);
    let o = wd.export(
        &Sim::healthy(),
        &[
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--progress",
            "never",
            "--progress-interval",
            "100ms",
            "--log-format",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(read_csv(&wd.path("x.csv")), expected_rows(&list));
    let lines: Vec<(u64, u64, u64)> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("progress:"))
        })
        .map(|v| {
            let f = &v;
            let n = |k: &str| f[k].as_u64().unwrap();
            (n("answered"), n("written"), n("total"))
        })
        .collect();
    assert!(!lines.is_empty(), "{}", stderr(&o));
    assert!(lines.iter().all(|l| l.2 == list.len() as u64));
    assert!(
        lines
            .iter()
            .all(|(answered, written, _)| answered >= written),
        "{lines:?}"
    );
    // While the head waited on its 429s, the rest were answered.
    assert!(
        lines
            .iter()
            .any(|&(answered, written, _)| written == 0 && answered >= 10),
        "{lines:?}"
    );
}
