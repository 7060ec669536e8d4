//! Run accounting: live counters shared by the tasks ([`LiveStats`]) and the
//! final [`Summary`], printed as one line and written as JSON by `--summary`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use crate::api::Cause;
use crate::drift::DriftCounts;

/// Counters updated by many tasks at once.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// HTTP requests sent.
    pub requests: AtomicU64,
    /// Retries made, by the cause of the fault that triggered them.
    retries: [AtomicU64; 5],
    /// Customers written (in input order), for progress reports.
    pub done: AtomicU64,
    /// Rows written.
    pub rows: AtomicU64,
    /// Customers failed.
    pub failed: AtomicU64,
}

fn cause_index(cause: Cause) -> usize {
    Cause::ALL
        .iter()
        .position(|c| *c == cause)
        .expect("every cause is listed")
}

impl LiveStats {
    pub fn add_retry(&self, cause: Cause) {
        self.retries[cause_index(cause)].fetch_add(1, Relaxed);
    }

    pub fn retries(&self, cause: Cause) -> u64 {
        self.retries[cause_index(cause)].load(Relaxed)
    }

    pub fn total_retries(&self) -> u64 {
        Cause::ALL.iter().map(|&c| self.retries(c)).sum()
    }
}

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
    pub status: String,
    /// The process exit code.
    pub exit_code: u8,
    /// Why the run stopped early, if it did.
    pub stopped_because: Option<String>,
    pub customers: Customers,
    /// Customers already exported by earlier runs when this one resumed.
    pub resumed_from: u64,
    pub chats: u64,
    pub rows: u64,
    /// HTTP requests sent, first tries and retries.
    pub requests: u64,
    /// Retries made.
    pub retries: u64,
    /// Retries by the cause of the fault: 429, 5xx, timeout, connection, bad_body.
    pub retries_by_cause: BTreeMap<&'static str, u64>,
    /// Failed customers by kind of failure.
    pub failed_by_kind: BTreeMap<String, u64>,
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
    /// Requests per second the limiter settled on (null = never limited).
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
}

impl Summary {
    pub fn retries_by_cause(stats: &LiveStats) -> BTreeMap<&'static str, u64> {
        Cause::ALL
            .iter()
            .map(|&c| (c.name(), stats.retries(c)))
            .collect()
    }
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
        if !self.drift.is_empty() {
            write!(f, "; drift ({})", self.drift.brief())?;
        }
        if self.throttled_secs >= 0.05 {
            write!(f, "; throttled {:.1}s", self.throttled_secs)?;
        }
        if let Some(rate) = self.settled_rate {
            write!(f, "; rate {rate:.1}/s")?;
        }
        write!(f, "; {:.1}s", self.elapsed_secs)
    }
}
