//! Exit codes and the errors a user sees.
//!
//! Every way the process can end maps to one [`Exit`]: a run that reports
//! gets it from the export's ending (`export::end::exit::exit_for`), and so
//! does a [`RunError`] (`RunError::exit`, beside it); `main` turns it into
//! the process's exit code.

use std::path::PathBuf;

/// The documented exit codes (see the README's "Exit codes" section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Every customer was exported.
    Success,
    /// The run finished, but some customers failed (they are in the failed file).
    SomeFailed,
    /// Usage, configuration or input error: nothing was fetched.
    Usage,
    /// Stopped by the API: bad key (401), exhausted quota (402), or the
    /// platform looks down.
    StoppedByApi,
    /// The output could not be written part-way through the run.
    OutputError,
    /// Interrupted by SIGINT (Ctrl-C).
    Interrupted,
    /// Terminated by SIGTERM.
    Terminated,
}

impl Exit {
    /// Every exit code, in numeric order.
    pub const ALL: [Exit; 7] = [
        Exit::Success,
        Exit::SomeFailed,
        Exit::Usage,
        Exit::StoppedByApi,
        Exit::OutputError,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    /// What the code means, in one line: the help's and the man page's
    /// EXIT STATUS.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "every customer exported",
            Exit::SomeFailed => {
                "the run finished, but some customers failed (listed in the failed file)"
            }
            Exit::Usage => "usage, configuration or input error; nothing was fetched",
            Exit::StoppedByApi => {
                "stopped by the API (bad key, quota, platform down, certificate, wrong \
                 --base-url); --resume continues"
            }
            Exit::OutputError => {
                "the output, the state file, the summary or the metrics could not be written"
            }
            Exit::Interrupted => "interrupted by Ctrl-C (SIGINT); --resume continues",
            Exit::Terminated => "terminated by SIGTERM; --resume continues",
        }
    }

    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::SomeFailed => 1,
            Exit::Usage => 2,
            Exit::StoppedByApi => 3,
            Exit::OutputError => 4,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }
}

/// An error found before any request is made: bad flags, a bad config file,
/// bad input. Always exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {count} invalid customer ID line(s){more}:\n{lines}")]
    BadIds {
        path: String,
        count: usize,
        more: String,
        lines: String,
    },
}

impl UsageError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        UsageError::Invalid(msg.into())
    }
}

/// How a run that started (made requests) can end in error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Detected before any request: exit 2.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// A signal came before any request (while reading `--ids -`): exit
    /// 130 or 143.
    #[error("interrupted ({0:?}) while reading the customer IDs: no chat was fetched and nothing was written")]
    Interrupted(crate::shutdown::Signal),
    /// The contact list (`--all-contacts`) stopped the run before any
    /// chat was asked for: refused, failed, empty or short. Exit 3.
    #[error("{0}")]
    ContactList(String),
    /// After a second signal the output still took no data: the run ends
    /// without its summary (what the journal committed is kept).
    #[error(
        "the output still takes no data after the second signal ({0:?}): exiting without \
         the summary (committed work is kept)"
    )]
    Abandoned(crate::shutdown::Signal),
}

impl From<crate::shutdown::Signal> for Exit {
    fn from(signal: crate::shutdown::Signal) -> Exit {
        match signal {
            crate::shutdown::Signal::Interrupt => Exit::Interrupted,
            crate::shutdown::Signal::Terminate => Exit::Terminated,
        }
    }
}
