//! The end of a `contacts` run: its summary (one line, and JSON for
//! `--summary`) and its metrics (`--metrics`, metric names of their own,
//! so an export's file is never mixed up with it).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::exit::Status;
use super::metrics::Metrics;
use super::summary::counted;
use crate::export::stats::CodeSeen;
use crate::store::safefs::FileMode;

/// What a `contacts` run did.
#[derive(Debug, Clone, Serialize)]
pub struct ContactsSummary {
    /// `complete`, `stopped` or `interrupted`.
    pub status: Status,
    pub exit_code: u8,
    /// Why there is no list, when there is none.
    pub error: Option<String>,
    /// Contacts written (one row each).
    pub contacts: u64,
    /// The columns written.
    pub columns: Vec<&'static str>,
    /// The list's filters, as given.
    pub filters: Vec<String>,
    /// HTTP requests sent, first tries and retries.
    pub requests: u64,
    pub retries: u64,
    pub retries_by_cause: BTreeMap<&'static str, u64>,
    /// Every `Code` but success the platform answered.
    pub api_codes: Vec<CodeSeen>,
    /// `--mask` matches per class (absent without matches).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub masked: BTreeMap<String, u64>,
    pub elapsed_secs: f64,
    /// The output file (null for stdout or when nothing was written).
    pub output: Option<String>,
}

impl ContactsSummary {
    /// Write the summary as pretty JSON to `path`.
    pub fn write(&self, path: &std::path::Path, mode: FileMode) -> anyhow::Result<()> {
        use anyhow::Context;
        let json = serde_json::to_vec_pretty(self).expect("the summary serialises");
        crate::store::safefs::write_atomic(path, &json, mode)
            .with_context(|| format!("cannot write the summary {}", path.display()))
    }

    /// Replace the metrics file at `path` with this run's.
    pub fn write_metrics(
        &self,
        path: &std::path::Path,
        ended: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let mut out = Metrics::new(None);
        let ended = ended.timestamp_millis() as f64 / 1000.0;
        out.gauge(
            "yuju_export_contacts_last_run_timestamp_seconds",
            "When the last contacts run ended (Unix time).",
            Some(ended),
        );
        out.gauge(
            "yuju_export_contacts_last_run_exit_code",
            "Exit code of the last contacts run.",
            Some(self.exit_code as f64),
        );
        out.gauge(
            "yuju_export_contacts_listed",
            "Contacts the last contacts run wrote (absent when it wrote none).",
            (self.status == Status::Complete).then_some(self.contacts as f64),
        );
        out.gauge(
            "yuju_export_contacts_last_run_requests",
            "HTTP requests the last contacts run sent.",
            Some(self.requests as f64),
        );
        crate::store::safefs::write_atomic(path, out.text.as_bytes(), FileMode::METRICS)
            .with_context(|| format!("cannot write the metrics file {}", path.display()))
    }
}

impl fmt::Display for ContactsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} contacts ({}); {} requests, {} retries",
            self.status,
            self.contacts,
            self.columns.join(","),
            self.requests,
            self.retries
        )?;
        if !self.masked.is_empty() {
            write!(f, "; masked ({})", counted(&self.masked))?;
        }
        write!(f, "; {:.1}s", self.elapsed_secs)
    }
}
