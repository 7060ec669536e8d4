//! What an earlier run of the same output left behind, and what this run
//! does with it (resume, discard, or refuse), as `--resume` and
//! `--restart` ask. One verdict, used by the run and by `--dry-run`, so a
//! dry run that passes means the run will start. Reads only; the run acts.

use std::path::Path;

use crate::api::query::Query;
use crate::config::{ExportConfig, ResumeMode};
use crate::error::UsageError;
use crate::output::failed::FailedFile;
use crate::store::input::IdList;
use crate::store::journal::{self, Fingerprint, Found};

/// The verdict on an output's leftovers.
pub enum Pending {
    /// No interrupted run: start afresh.
    Nothing,
    /// Something was left and is set aside (a stale or damaged journal, or
    /// an interrupted run under `--restart`): start afresh. Says what.
    Discarded(String),
    /// Continue the interrupted run, sending `query` (the interrupted
    /// run's, when it kept a relative window).
    Resume { found: Box<Found>, query: Query },
}

/// Judge the leftovers of `out`; an error is the run's exit-2 message.
pub fn examine(config: &ExportConfig, out: &Path, ids: &IdList) -> Result<Pending, UsageError> {
    let journal_path = journal::journal_path(out);
    let partial = crate::store::paths::partial(out);
    if !partial.exists() {
        // Renamed into place (a run completed, then stopped before removing
        // its journal) or deleted: whatever the journal says, nothing to resume.
        return Ok(if journal_path.exists() {
            Pending::Discarded(format!(
                "the stale journal {} (its partial output is gone) is replaced",
                journal_path.display()
            ))
        } else {
            Pending::Nothing
        });
    }
    let out_len = std::fs::metadata(&partial).map_or(0, |m| m.len());
    let failed_len = FailedFile::partial_len(config.files.failed.as_deref());
    let staged_len = std::fs::metadata(crate::store::paths::staged(out)).map_or(0, |m| m.len());
    let found = match journal::load(&journal_path, out_len, failed_len, staged_len) {
        Ok(None) => return Ok(Pending::Nothing),
        Ok(Some(found)) => found,
        // An upgrade (or a downgrade) after an interrupted run: the window
        // starts afresh, whatever --resume says, and the schedule goes on.
        Err(e) if e.downcast_ref::<journal::OtherVersion>().is_some() => {
            tracing::warn!(
                "{e:#}: its window starts afresh (the partial output was never published)"
            );
            return Ok(Pending::Discarded(format!("{e:#}")));
        }
        Err(e) if config.resume == ResumeMode::Restart => {
            return Ok(Pending::Discarded(format!(
                "a damaged journal is discarded: {e:#}"
            )))
        }
        Err(e) => {
            return Err(UsageError::invalid(format!(
                "{e:#}. Pass --restart to discard the interrupted run and start afresh"
            )))
        }
    };
    let done = format!(
        "{} of {} customers exported",
        found.checkpoint.next, found.total
    );
    match config.resume {
        ResumeMode::Refuse => Err(UsageError::invalid(format!(
            "an interrupted run of {} is pending: {done} (in {}). \
             Pass --resume to continue it, or --restart to discard it",
            out.display(),
            partial.display()
        ))),
        ResumeMode::Restart => Ok(Pending::Discarded(format!(
            "the interrupted run of {} ({done}) is discarded",
            out.display()
        ))),
        ResumeMode::Resume => {
            let (query, diffs) = Fingerprint::resume_query(config, ids, &found.fingerprint);
            if !diffs.is_empty() {
                return Err(UsageError::invalid(format!(
                    "cannot resume the interrupted run of {}: it was a different run.\n  {}\n\
                     Run it with its original settings, or pass --restart to discard it",
                    out.display(),
                    diffs.join("\n  ")
                )));
            }
            Ok(Pending::Resume {
                found: Box::new(found),
                query,
            })
        }
    }
}
