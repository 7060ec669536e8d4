//! `--metrics`: the run's figures for alerting, in the Prometheus
//! node_exporter textfile-collector format.
//!
//! Written at the end of every run that got to making requests (as the
//! summary is), through a temporary file in the same directory renamed
//! over the old one, so the collector never reads half a file. Every
//! metric has its HELP and TYPE lines; samples carry no timestamp (the
//! collector stamps them); with `--shard` every sample has
//! `shard="KofN"`. `yuju_export_last_success_timestamp_seconds` is carried
//! over from the file being replaced when this run did not complete, so
//! "no successful run in 26 hours" can be alerted on.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::config::shard::Shard;
use crate::export::end::exit::Status;
use crate::export::end::summary::Summary;
use crate::store::safefs::FileMode;

const LAST_SUCCESS: &str = "yuju_export_last_success_timestamp_seconds";

/// Most bytes of the old file read for its last success.
const MAX_OLD_BYTES: u64 = 1 << 20;

/// What one run's metrics are made of.
pub struct RunMetrics<'a> {
    pub summary: &'a Summary,
    pub shard: Option<Shard>,
    /// When the run ended.
    pub ended: DateTime<Utc>,
}

/// Replace the metrics file at `path` with this run's.
pub fn write(path: &Path, run: &RunMetrics, mode: FileMode) -> anyhow::Result<()> {
    // Only a regular file of ours is read back (a FIFO would block); the
    // write below refuses anything else, naming it.
    let regular = matches!(
        crate::store::safefs::occupant(path),
        Ok(crate::store::safefs::Occupant::Regular)
    );
    let old = regular
        .then(|| std::fs::File::open(path).ok())
        .flatten()
        .and_then(|f| {
            let mut text = String::new();
            f.take(MAX_OLD_BYTES).read_to_string(&mut text).ok()?;
            Some(text)
        });
    let text = render(run, old.as_deref());
    crate::store::safefs::write_atomic(path, text.as_bytes(), mode)
        .with_context(|| format!("cannot write the metrics file {}", path.display()))
}

/// The last success recorded in an earlier file, if any.
fn last_success(old: &str) -> Option<f64> {
    old.lines()
        .filter(|l| {
            l.strip_prefix(LAST_SUCCESS)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .find(|v| v.is_finite())
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The file's text.
fn render(run: &RunMetrics, old: Option<&str>) -> String {
    let s = run.summary;
    let shard = run
        .shard
        .map(|k| format!("shard=\"{}of{}\"", k.index, k.count));
    let mut out = Metrics {
        text: String::new(),
        shard,
    };
    let ended = seconds(run.ended);
    let complete = s.status == Status::Complete && s.exit_code <= 1;
    out.gauge(
        "yuju_export_last_run_timestamp_seconds",
        "When the last run ended (Unix time).",
        Some(ended),
    );
    let success = if complete {
        Some(ended)
    } else {
        old.and_then(last_success)
    };
    out.gauge(
        LAST_SUCCESS,
        "When the last complete run (exit 0 or 1) ended (Unix time).",
        success,
    );
    out.gauge(
        "yuju_export_last_run_exit_code",
        "Exit code of the last run.",
        Some(s.exit_code as f64),
    );
    out.gauge(
        "yuju_export_last_run_duration_seconds",
        "How long the last run took.",
        Some(s.elapsed_secs),
    );
    out.gauge(
        "yuju_export_last_run_rows",
        "Rows the last run wrote (over its resumes).",
        Some(s.rows as f64),
    );
    counts(&mut out, s);
    if let Some(list) = &s.contact_list {
        out.gauge(
            "yuju_export_contacts",
            "Contacts the last run's contact list held (--all-contacts).",
            Some(list.contacts as f64),
        );
    }
    if let Some(state) = &s.state {
        let at = state.watermark_at.map(seconds);
        out.gauge(
            "yuju_export_window_end_timestamp_seconds",
            "End of the last completed window, where the next one starts (Unix time).",
            at,
        );
        out.gauge(
            "yuju_export_watermark_timestamp_seconds",
            "The --state watermark: the end of the last completed window (Unix time); \
             time() minus it is how far the exports lag behind.",
            at,
        );
    }
    out.text
}

/// The run's counts: customers, requests, retries, failures, codes.
fn counts(out: &mut Metrics, s: &Summary) {
    let c = &s.customers;
    let by_status: Vec<(String, f64)> = [
        ("ok", c.ok),
        ("empty", c.empty),
        ("failed", c.failed),
        ("not_done", c.not_done),
    ]
    .iter()
    .map(|(k, n)| (format!("status=\"{k}\""), *n as f64))
    .collect();
    out.labelled(
        "yuju_export_last_run_customers",
        "Customers of the last run by how they ended.",
        &by_status,
    );
    out.gauge(
        "yuju_export_last_run_requests",
        "HTTP requests the last run sent, retries included.",
        Some(s.requests as f64),
    );
    let retries: Vec<(String, f64)> = s
        .retries_by_cause
        .iter()
        .map(|(cause, n)| (format!("cause=\"{cause}\""), *n as f64))
        .collect();
    out.labelled(
        "yuju_export_last_run_retries",
        "Retries the last run made, by the fault that caused them.",
        &retries,
    );
    let failed: Vec<(String, f64)> = s
        .failed_by_kind
        .iter()
        .map(|(kind, n)| (format!("kind=\"{}\"", label_value(kind)), *n as f64))
        .collect();
    out.labelled(
        "yuju_export_last_run_failed_customers",
        "Customers the last run failed (over its resumes), by kind of failure.",
        &failed,
    );
    let codes: Vec<(String, f64)> = s
        .api_codes
        .iter()
        .map(|c| {
            let label = format!(
                "code=\"{}\",class=\"{}\"",
                label_value(&c.code),
                c.class.name()
            );
            (label, c.answers as f64)
        })
        .collect();
    out.labelled(
        "yuju_export_last_run_api_code_answers",
        "Answers of the last run with a Code other than 2000, by code and by the class it was taken for.",
        &codes,
    );
    let masked: Vec<(String, f64)> = s
        .masked
        .iter()
        .map(|(class, n)| (format!("class=\"{}\"", label_value(class)), *n as f64))
        .collect();
    out.labelled(
        "yuju_export_last_run_masked",
        "Matches --mask rewrote in the last run (over its resumes), by class.",
        &masked,
    );
}

/// A label value escaped as the text format wants (`\\`, `\"`, `\n`).
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

pub(super) struct Metrics {
    pub(super) text: String,
    shard: Option<String>,
}

impl Metrics {
    /// An empty file's text, every sample labelled with `shard`.
    pub(super) fn new(shard: Option<String>) -> Metrics {
        Metrics {
            text: String::new(),
            shard,
        }
    }

    /// A metric of one sample (none when `value` is unknown).
    pub(super) fn gauge(&mut self, name: &str, help: &str, value: Option<f64>) {
        self.head(name, help);
        if let Some(value) = value {
            self.sample(name, None, value);
        }
    }

    /// A metric of one sample per label (left out when it has none).
    fn labelled(&mut self, name: &str, help: &str, samples: &[(String, f64)]) {
        if samples.is_empty() {
            return;
        }
        self.head(name, help);
        for (label, value) in samples {
            self.sample(name, Some(label), *value);
        }
    }

    fn head(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, label: Option<&str>, value: f64) {
        let labels: Vec<&str> = self.shard.as_deref().into_iter().chain(label).collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let _ = writeln!(self.text, "{name}{labels} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("\"E\\1\"\nx"), r#"\"E\\1\"\nx"#);
        assert_eq!(label_value("5000"), "5000");
    }

    #[test]
    fn the_last_success_is_found_with_or_without_labels() {
        let old = "# HELP yuju_export_last_success_timestamp_seconds x\n\
                   # TYPE yuju_export_last_success_timestamp_seconds gauge\n\
                   yuju_export_last_success_timestamp_seconds{shard=\"1of4\"} 1764100000.5\n";
        assert_eq!(last_success(old), Some(1764100000.5));
        assert_eq!(
            last_success("yuju_export_last_success_timestamp_seconds 17\n"),
            Some(17.0)
        );
        assert_eq!(
            last_success("yuju_export_last_success_timestamp_seconds_x 17\n"),
            None
        );
        assert_eq!(last_success("garbage"), None);
    }
}
