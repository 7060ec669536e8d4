//! How a run ended: its typed [`Status`], its exit code (one function,
//! [`exit_for`], decides both), and the [`Summary`] printed as one line,
//! written as JSON by `--summary`, and explained to the operator.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::outcome::StopCause;
use super::stats::{CodeSeen, RequestStats};
use crate::api::{Cause, StopReason};
use crate::error::Exit;
use crate::record::drift::DriftCounts;
use crate::shutdown::Signal;

/// How a run ended, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every customer was exported or listed as failed.
    Complete,
    /// Stopped early by the API, the output, or an internal error.
    Stopped,
    /// Stopped early by a signal.
    Interrupted,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Complete => "complete",
            Status::Stopped => "stopped",
            Status::Interrupted => "interrupted",
        })
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedBecause {
    BadKey,
    QuotaExhausted,
    PlatformDown,
    /// The platform's TLS certificate was refused.
    Certificate,
    /// Customer after customer got the same 3xx, 403 or 404.
    Misdirected,
    Interrupt,
    Terminate,
    /// stdout's reader went away.
    OutputClosed,
    /// The output could not be written (exit 4).
    OutputError,
    /// The run ended early with no recorded cause (a bug; exit 4).
    Internal,
    /// The export is complete, but the `--state` file could not be
    /// written (exit 4): the next run exports the window again.
    StateError,
}

/// How the run got to its end, as the end of the run sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// Every customer was committed and the files are in place.
    pub complete: bool,
    /// Customers in the failed file.
    pub failed: u64,
    /// The first cause of a stop, if any.
    pub stop: Option<StopCause>,
    /// Writing or committing the output failed.
    pub output_error: bool,
    /// The output is committed but the `--state` file could not be written.
    pub state_error: bool,
    /// The metrics or the summary could not be written.
    pub report_error: bool,
    /// No customer had a chat while the last window had many: the
    /// watermark is held, and the run exits 1 so it is looked at.
    pub empty_night: bool,
}

impl Ending {
    /// A run that stopped for `cause` before it committed anything more.
    pub fn stopped(cause: StopCause) -> Ending {
        Ending {
            complete: false,
            failed: 0,
            stop: Some(cause),
            output_error: false,
            state_error: false,
            report_error: false,
            empty_night: false,
        }
    }
}

/// The exit code, status and stop reason of a run that ended so: the one
/// place the three are decided, so they always agree. A report that could
/// not be written makes any run exit 4 (the status still says how far the
/// export got).
pub fn exit_for(end: Ending) -> (Exit, Status, Option<StoppedBecause>) {
    let (exit, status, why) = exit_of_run(end);
    if end.report_error {
        return (
            Exit::OutputError,
            status,
            why.or(Some(StoppedBecause::OutputError)),
        );
    }
    (exit, status, why)
}

/// [`exit_for`], the reports aside.
fn exit_of_run(end: Ending) -> (Exit, Status, Option<StoppedBecause>) {
    use StoppedBecause as Why;
    if end.output_error {
        return (Exit::OutputError, Status::Stopped, Some(Why::OutputError));
    }
    if end.complete && end.state_error {
        return (Exit::OutputError, Status::Complete, Some(Why::StateError));
    }
    if end.complete {
        let exit = if end.failed > 0 || end.empty_night {
            Exit::SomeFailed
        } else {
            Exit::Success
        };
        return (exit, Status::Complete, None);
    }
    match end.stop {
        Some(StopCause::Api(reason)) => (
            Exit::StoppedByApi,
            Status::Stopped,
            Some(match reason {
                StopReason::BadKey => Why::BadKey,
                StopReason::QuotaExhausted => Why::QuotaExhausted,
                StopReason::PlatformDown => Why::PlatformDown,
                StopReason::Certificate => Why::Certificate,
                StopReason::Misdirected { .. } => Why::Misdirected,
            }),
        ),
        Some(StopCause::Signal(signal)) => (
            Exit::from(signal),
            Status::Interrupted,
            Some(match signal {
                Signal::Interrupt => Why::Interrupt,
                Signal::Terminate => Why::Terminate,
            }),
        ),
        Some(StopCause::OutputClosed) => (Exit::Success, Status::Stopped, Some(Why::OutputClosed)),
        Some(StopCause::Output) => (Exit::OutputError, Status::Stopped, Some(Why::OutputError)),
        None => (Exit::OutputError, Status::Stopped, Some(Why::Internal)),
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
}

impl Summary {
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
        Ok(())
    }
}

/// Who reads what to do next: an operator of `export` (flags), or of a
/// data pipeline (config keys, and no failed file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Cli,
    Pipeline,
}

/// Print the summary line and what to do next.
pub fn explain(s: &Summary, exit: Exit, audience: Audience) {
    explain_run(s, exit, audience);
    explain_codes(s, audience);
    if let Some(why) = s.state.as_ref().and_then(|st| st.empty_night.as_deref()) {
        let accept = match audience {
            Audience::Cli => "--accept-empty",
            Audience::Pipeline => "accept_empty: true",
        };
        tracing::warn!(
            "{why}. The watermark is held and the next run exports this window again; if the \
             window really had no chat, run again with {accept}"
        );
    }
    if let Some(state) = s.state.as_ref().filter(|st| !st.moved) {
        tracing::warn!(
            "{state}: the next run with --state {} exports this window again",
            state.file
        );
    }
}

/// Name the codes the run had to judge by itself, and how to declare
/// them: a warning for a code nobody has classified (its customers failed
/// and hold the watermark), a note for one taken for a passing fault.
fn explain_codes(s: &Summary, audience: Audience) {
    use crate::api::CodeClass;
    let (definitive, transient) = match audience {
        Audience::Cli => ("--definitive-codes ", "--transient-codes "),
        Audience::Pipeline => ("definitive_codes: ", "transient_codes: "),
    };
    for c in &s.api_codes {
        let declare = format!(
            "If you know what it means, declare it: {definitive}{code} (final: not \
             retried, the watermark moves) or {transient}{code} (retried)",
            code = c.code
        );
        match c.class {
            CodeClass::Unknown => tracing::warn!(
                "the API answered Code {} {} time(s) ({}), a code nobody has classified: \
                 retried once, then its customers failed and hold the --state watermark. \
                 {declare}",
                c.code,
                c.answers,
                c.example
            ),
            CodeClass::Transient | CodeClass::Throttled => tracing::info!(
                "the API answered Code {} {} time(s) ({}), taken as {} and retried. {declare}",
                c.code,
                c.answers,
                c.example,
                c.class.name()
            ),
            CodeClass::Definitive => {}
        }
    }
}

fn explain_run(s: &Summary, exit: Exit, audience: Audience) {
    if s.stopped_because == Some(StoppedBecause::StateError) {
        tracing::warn!("{s}");
        tracing::error!(
            "the export is complete{}, but the state file was not written (see above)",
            s.output
                .as_deref()
                .map(|o| format!(" in {o}"))
                .unwrap_or_default()
        );
        return;
    }
    match exit {
        Exit::Success => tracing::info!("{s}"),
        Exit::SomeFailed if s.customers.failed == 0 => tracing::warn!("{s}"),
        Exit::SomeFailed => {
            tracing::warn!("{s}");
            if let Some(f) = &s.failed_file {
                tracing::warn!(
                    "{} customer(s) failed; they are listed in {f} (pass it as --ids to retry them)",
                    s.customers.failed
                );
            } else if audience == Audience::Pipeline {
                tracing::warn!(
                    "{} customer(s) failed (each is logged above)",
                    s.customers.failed
                );
            } else {
                tracing::warn!(
                    "{} customer(s) failed (no failed file: pass --failed PATH)",
                    s.customers.failed
                );
            }
        }
        _ => {
            tracing::warn!("{s}");
            let kept = s
                .partial_output
                .as_deref()
                .map(|p| format!("; the rows fetched so far are kept in {p}"))
                .unwrap_or_default();
            let next = if s.resumable {
                "Run the same command with --resume to continue where it stopped"
            } else {
                "Run the same command again to export them all"
            };
            tracing::warn!(
                "the run did not finish: {} of {} customers exported{kept}. {next}",
                s.customers.total - s.customers.not_done,
                s.customers.total
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(complete: bool, failed: u64, stop: Option<StopCause>, output_error: bool) -> Ending {
        Ending {
            complete,
            failed,
            stop,
            output_error,
            state_error: false,
            report_error: false,
            empty_night: false,
        }
    }

    #[test]
    fn a_night_empty_everywhere_is_exit_1_of_a_complete_run() {
        let e = Ending {
            empty_night: true,
            ..end(true, 0, None, false)
        };
        assert_eq!(exit_for(e), (Exit::SomeFailed, Status::Complete, None));
    }

    #[test]
    fn a_state_file_not_written_is_exit_4_of_a_complete_run() {
        let e = Ending {
            state_error: true,
            ..end(true, 0, None, false)
        };
        assert_eq!(
            exit_for(e),
            (
                Exit::OutputError,
                Status::Complete,
                Some(StoppedBecause::StateError)
            )
        );
    }

    #[test]
    fn a_complete_run_exits_by_its_failures() {
        assert_eq!(
            exit_for(end(true, 0, None, false)),
            (Exit::Success, Status::Complete, None)
        );
        assert_eq!(
            exit_for(end(true, 3, None, false)).0,
            Exit::SomeFailed,
            "failures that did not stop the run are exit 1"
        );
        // A complete run may still have been asked to stop at its very end.
        let signal = Some(StopCause::Signal(Signal::Interrupt));
        assert_eq!(exit_for(end(true, 0, signal, false)).1, Status::Complete);
    }

    #[test]
    fn a_stopped_run_exits_by_its_first_cause() {
        let api = Some(StopCause::Api(StopReason::QuotaExhausted));
        assert_eq!(
            exit_for(end(false, 0, api, false)),
            (
                Exit::StoppedByApi,
                Status::Stopped,
                Some(StoppedBecause::QuotaExhausted)
            )
        );
        let term = Some(StopCause::Signal(Signal::Terminate));
        assert_eq!(
            exit_for(end(false, 0, term, false)),
            (
                Exit::Terminated,
                Status::Interrupted,
                Some(StoppedBecause::Terminate)
            )
        );
        assert_eq!(
            exit_for(end(false, 0, Some(StopCause::OutputClosed), false)).0,
            Exit::Success,
            "a reader that went away is not an error"
        );
        assert_eq!(
            exit_for(end(false, 0, None, false)).2,
            Some(StoppedBecause::Internal)
        );
    }

    #[test]
    fn an_output_error_wins_over_every_other_cause() {
        for stop in [
            None,
            Some(StopCause::Api(StopReason::BadKey)),
            Some(StopCause::Signal(Signal::Interrupt)),
        ] {
            assert_eq!(
                exit_for(end(false, 5, stop, true)),
                (
                    Exit::OutputError,
                    Status::Stopped,
                    Some(StoppedBecause::OutputError)
                )
            );
        }
    }

    #[test]
    fn status_and_reason_serialise_as_documented() {
        assert_eq!(
            serde_json::to_value(Status::Interrupted).unwrap(),
            "interrupted"
        );
        assert_eq!(
            serde_json::to_value(StoppedBecause::QuotaExhausted).unwrap(),
            "quota_exhausted"
        );
        assert_eq!(
            serde_json::to_value(StoppedBecause::OutputClosed).unwrap(),
            "output_closed"
        );
    }
}
