//! What a run did, for people and for machines: the [`Summary`] printed
//! as one line, written as JSON by `--summary`, and read by the metrics.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::exit::{Status, StoppedBecause};
use crate::api::Cause;
use crate::export::stats::{CodeSeen, RequestStats};
use crate::record::drift::DriftCounts;

/// Customer counts of a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Customers {
    /// Distinct customer IDs in the input.
    pub total: u64,
    /// Exported with at least one row.
    pub ok: u64,
    /// Exported, but had no chats in the window.
    pub empty: u64,
    /// Failed (listed in the failed file).
    pub failed: u64,
    /// Input lines dropped as repeats of an earlier ID.
    pub duplicate: u64,
    /// Not exported because the run stopped early.
    pub not_done: u64,
}

/// What a run did, for people and for machines.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `complete`, `stopped` or `interrupted`.
    pub status: Status,
    /// The process exit code.
    pub exit_code: u8,
    /// Why the run stopped early, if it did.
    pub stopped_because: Option<StoppedBecause>,
    pub customers: Customers,
    /// Customers already exported by earlier runs when this one resumed.
    pub resumed_from: u64,
    pub chats: u64,
    pub rows: u64,
    /// HTTP requests sent, first tries and retries.
    pub requests: u64,
    /// Retries made.
    pub retries: u64,
    /// Retries by the cause of the fault: 429, 5xx, timeout, connection,
    /// bad_body, code_transient, code_throttled, code_unknown.
    pub retries_by_cause: BTreeMap<&'static str, u64>,
    /// Failed customers by kind of failure.
    pub failed_by_kind: BTreeMap<String, u64>,
    /// Every non-2000 `Code` the platform answered this run: the code, the
    /// class the run took it for, how many answers carried it, and its
    /// first `Msg`.
    pub api_codes: Vec<CodeSeen>,
    /// Answers whose code was not listed in `api_codes` (past its bound).
    pub api_codes_unlisted: u64,
    /// `--mask` matches per class (absent without matches).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub masked: BTreeMap<String, u64>,
    /// How the exported answers strayed from the API's documentation:
    /// values of an unexpected type per field, undocumented field names.
    pub drift: DriftCounts,
    /// Wall-clock seconds during which requests waited for the rate limiter.
    pub throttled_secs: f64,
    /// Time dispatching waited because finished customers could not be
    /// written yet (an earlier one was still being fetched) while fewer
    /// than `--concurrency` requests were in flight: the cost of keeping
    /// input order.
    pub reorder_stall_secs: f64,
    /// The platform's limit in requests per second as the limiter last
    /// measured it, under `--rate` (null = no `--rate` and no 429).
    pub settled_rate: Option<f64>,
    pub elapsed_secs: f64,
    /// The output file (null for stdout or when the run did not complete).
    pub output: Option<String>,
    /// The partial output kept by a run that stopped early.
    pub partial_output: Option<String>,
    /// The failed file, when written.
    pub failed_file: Option<String>,
    /// Whether `--resume` can continue this run.
    pub resumable: bool,
    /// The shard exported (`K/N`), if any.
    pub shard: Option<String>,
    /// The `--state` watermark: this run's window, whether it moved and
    /// why not (null without `--state`).
    pub state: Option<crate::store::state::StateReport>,
    /// What the contact list held (`--all-contacts` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_list: Option<crate::config::ListFacts>,
}

impl Summary {
    /// The summary of a run that exported nothing, before its ending's
    /// fields are set.
    pub fn nothing() -> Summary {
        Summary {
            status: Status::Complete,
            exit_code: 0,
            stopped_because: None,
            customers: Customers::default(),
            resumed_from: 0,
            chats: 0,
            rows: 0,
            requests: 0,
            retries: 0,
            retries_by_cause: Cause::ALL.iter().map(|c| (c.name(), 0)).collect(),
            failed_by_kind: BTreeMap::new(),
            api_codes: Vec::new(),
            api_codes_unlisted: 0,
            masked: BTreeMap::new(),
            drift: DriftCounts::default(),
            throttled_secs: 0.0,
            reorder_stall_secs: 0.0,
            settled_rate: None,
            elapsed_secs: 0.0,
            output: None,
            partial_output: None,
            failed_file: None,
            resumable: false,
            shard: None,
            state: None,
            contact_list: None,
        }
    }

    /// Write the summary as pretty JSON to `path`.
    pub fn write(
        &self,
        path: &std::path::Path,
        mode: crate::store::safefs::FileMode,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let json = serde_json::to_vec_pretty(self).expect("the summary serialises");
        crate::store::safefs::write_atomic(path, &json, mode)
            .with_context(|| format!("cannot write the summary {}", path.display()))
    }

    /// Requests the platform answered with HTTP 429.
    pub fn rejected_429(&self) -> u64 {
        self.retries_by_cause
            .get(Cause::RateLimited.name())
            .copied()
            .unwrap_or(0)
    }

    /// Retries by the name of their cause, every cause listed.
    pub fn retries_by_cause(stats: &RequestStats) -> BTreeMap<&'static str, u64> {
        Cause::ALL
            .iter()
            .map(|&c| (c.name(), stats.retries(c)))
            .collect()
    }
}

/// Counts by name, as the one-line summaries say them: `mobile: 2, email: 1`.
pub fn counted(counts: &BTreeMap<String, u64>) -> String {
    let named: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    named.join(", ")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.customers;
        write!(
            f,
            "{}: {} customers ({} ok, {} empty, {} failed, {} duplicate",
            self.status, c.total, c.ok, c.empty, c.failed, c.duplicate
        )?;
        if c.not_done > 0 {
            write!(f, ", {} not done", c.not_done)?;
        }
        write!(
            f,
            "), {} chats, {} rows; {} requests, {} retries",
            self.chats, self.rows, self.requests, self.retries
        )?;
        let causes: Vec<String> = self
            .retries_by_cause
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        if !causes.is_empty() {
            write!(f, " ({})", causes.join(", "))?;
        }
        if !self.api_codes.is_empty() {
            let codes: Vec<String> = self
                .api_codes
                .iter()
                .map(|c| format!("{} {}: {}", c.code, c.class.name(), c.answers))
                .collect();
            write!(f, "; API codes ({})", codes.join(", "))?;
        }
        if !self.masked.is_empty() {
            write!(f, "; masked ({})", counted(&self.masked))?;
        }
        if !self.drift.is_empty() {
            write!(f, "; drift ({})", self.drift.brief())?;
        }
        if self.throttled_secs >= 0.05 {
            write!(f, "; throttled {:.1}s", self.throttled_secs)?;
        }
        let rejected = self.rejected_429();
        if rejected > 0 {
            write!(
                f,
                "; answered 429: {:.1} % of requests",
                100.0 * rejected as f64 / self.requests.max(1) as f64
            )?;
        }
        if let Some(rate) = self.settled_rate {
            write!(f, "; rate {rate:.1}/s")?;
        }
        write!(f, "; {:.1}s", self.elapsed_secs)?;
        if let Some(state) = &self.state {
            write!(f, "; {state}")?;
        }
        if let Some(list) = &self.contact_list {
            write!(f, "; contact list: {} contacts", list.contacts)?;
            if let Some(warning) = &list.warning {
                write!(f, " (warning: {warning})")?;
            }
        }
        Ok(())
    }
}
