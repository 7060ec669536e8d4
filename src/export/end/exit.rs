//! How a run ended: its typed [`Status`], why it stopped early
//! ([`StoppedBecause`]) and its exit code, all three decided by one
//! function, [`exit_for`], from what the end of the run gathered
//! ([`Ending`]).

use std::fmt;

use serde::Serialize;

use crate::api::StopReason;
use crate::error::Exit;
use crate::export::outcome::StopCause;
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
