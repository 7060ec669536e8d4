//! How one customer ended, and why a run stopped: the values the fetch
//! tasks hand to the writer and the end of the run reads.

use crate::api::{Cause, StopReason};
use crate::record::drift::CustomerDrift;
use crate::record::Encoded;
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
    /// A definitive non-2000 `Code` (4000: unknown customer, bad
    /// parameter; or a code declared with `--definitive-codes`).
    Api,
    /// A `Code` nobody has classified, answered again when retried.
    UnknownCode,
    /// An HTTP status the platform does not answer with (404, 400, a
    /// 3xx, ...), twice.
    Http {
        /// The status the platform answered.
        status: u16,
    },
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
            FailureKind::UnknownCode => "unknown_code".into(),
            FailureKind::Http { .. } => "http_status".into(),
            FailureKind::Transient(c) => format!("transient_{}", c.name()),
            FailureKind::RetryAfterTooLong => "retry_after_too_long".into(),
            FailureKind::TooLarge => "response_too_large".into(),
            FailureKind::UnexpectedShape => "unexpected_shape".into(),
        }
    }

    /// Whether this is the platform's definitive answer about the
    /// customer, one a later run would get again: a definitive `Code`.
    /// Every other failure may pass by the next run, so a run with one
    /// does not move the `--state` watermark.
    pub fn is_definitive(self) -> bool {
        self.class() == FailureClass::Definitive
    }

    /// The class the failed file gives the failure.
    pub fn class(self) -> FailureClass {
        match self {
            FailureKind::Api => FailureClass::Definitive,
            FailureKind::Transient(_) | FailureKind::RetryAfterTooLong => FailureClass::Transient,
            // A code nobody has classified, or a status the platform does
            // not answer with (a wrong path, a gateway), is never proof of
            // no data.
            FailureKind::UnknownCode | FailureKind::Http { .. } => FailureClass::Unknown,
            // An answer too large or of an unusable shape holds data the
            // run could not keep: moving the watermark would lose it.
            FailureKind::TooLarge | FailureKind::UnexpectedShape => FailureClass::Unreadable,
        }
    }
}

/// What a failure means for the data, as the failed file says it. Only a
/// definitive failure lets the `--state` watermark move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The platform's final answer (a definitive `Code`).
    Definitive,
    /// A fault that may pass: a later run may get the data.
    Transient,
    /// A `Code` nobody has classified: there may be data.
    Unknown,
    /// The platform answered, but not in a form the run could keep (over
    /// `--max-response-bytes`, or a shape no row comes from).
    Unreadable,
}

impl FailureClass {
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::Definitive => "definitive",
            FailureClass::Transient => "transient",
            FailureClass::Unknown => "unknown",
            FailureClass::Unreadable => "unreadable",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_definitive_codes_are_definitive() {
        assert!(FailureKind::Api.is_definitive());
        for status in [301, 302, 400, 403, 404, 405, 410, 422] {
            assert!(!FailureKind::Http { status }.is_definitive(), "{status}");
            assert_eq!(
                FailureKind::Http { status }.class(),
                FailureClass::Unknown,
                "{status}"
            );
        }
        assert!(!FailureKind::Transient(Cause::Server).is_definitive());
        assert!(!FailureKind::RetryAfterTooLong.is_definitive());
        assert!(!FailureKind::TooLarge.is_definitive());
        assert!(!FailureKind::UnknownCode.is_definitive());
        assert!(!FailureKind::Transient(Cause::CodeTransient).is_definitive());
        assert_eq!(FailureKind::UnknownCode.class(), FailureClass::Unknown);
        assert_eq!(FailureKind::UnknownCode.name(), "unknown_code");
        assert_eq!(FailureKind::Http { status: 404 }.name(), "http_status");
    }
}
