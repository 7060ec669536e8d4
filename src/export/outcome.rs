//! How one customer ended, and why a run stopped: the values the fetch
//! tasks hand to the writer and the end of the run reads.

use crate::api::{Cause, StopReason};
use crate::drift::CustomerDrift;
use crate::output::Encoded;
use crate::shutdown::Signal;

/// How a customer ended.
#[derive(Debug)]
pub enum Outcome {
    /// Rows, already encoded in the output format.
    Rows { bytes: Vec<u8>, encoded: Encoded },
    /// Answered, but no messages in the window.
    Empty {
        chats: u64,
        /// How the answer strayed from the documentation.
        drift: CustomerDrift,
    },
    /// Failed for good; goes to the failed file.
    Failed(Failure),
    /// Not finished because the run is stopping; fetched again next time.
    NotDone,
}

/// A failed customer, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The API's `Msg` or a description of the fault (never a URL).
    pub message: String,
}

/// Kinds of failure, counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A non-2000 `Code` (unknown customer, bad parameter).
    Api,
    /// An HTTP status that is not worth retrying (404, 400, ...).
    Http,
    /// Transient faults outlasted `--retries`; the last one's cause.
    Transient(Cause),
    /// The platform asked to wait longer than `--max-retry-after`.
    RetryAfterTooLong,
    /// The answer passed `--max-response-bytes`.
    TooLarge,
    /// `Code` 2000, but a shape no row can come from (`Data` an object,
    /// `messages` a string); not retried.
    UnexpectedShape,
}

impl FailureKind {
    /// The kind's key in the summary's `failed_by_kind`.
    pub fn name(self) -> String {
        match self {
            FailureKind::Api => "api_code".into(),
            FailureKind::Http => "http_status".into(),
            FailureKind::Transient(c) => format!("transient_{}", c.name()),
            FailureKind::RetryAfterTooLong => "retry_after_too_long".into(),
            FailureKind::TooLarge => "response_too_large".into(),
            FailureKind::UnexpectedShape => "unexpected_shape".into(),
        }
    }
}

/// Why a run stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    Api(StopReason),
    Signal(Signal),
    /// The output could not be written.
    Output,
    /// The reader of stdout went away (a closed pipe): not an error.
    OutputClosed,
}
