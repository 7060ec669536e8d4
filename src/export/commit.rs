//! The end of a run's files: when every customer is done, the failed file
//! and the output are renamed into place and the journal removed; when the
//! run stopped early, what was written is kept as the partial files the
//! journal describes, for `--resume`.

use std::path::PathBuf;

use super::writer::Written;
use crate::output::Target;

/// What the commit left on disk.
#[derive(Debug, Default)]
pub struct Committed {
    /// Every customer done and the files in place.
    pub complete: bool,
    /// The output file, when complete (none for stdout).
    pub output: Option<PathBuf>,
    /// The partial output kept by a run that stopped early.
    pub partial_output: Option<PathBuf>,
    /// The failed file, when written.
    pub failed_file: Option<PathBuf>,
    /// What made writing or committing fail, if anything did.
    pub error: Option<anyhow::Error>,
}

/// Commit or keep the files of a run of `total` customers.
pub fn commit(mut written: Written, total: usize, out: &Target) -> Committed {
    let error = written.error.take();
    if written.done() == total && error.is_none() {
        complete(written, out)
    } else {
        keep(written, error)
    }
}

/// Put the files in place. The failed file first: once the output is in
/// place the run looks done, so nothing that can still fail may come after
/// it but the journal's removal (a stale journal is recognised and
/// discarded).
fn complete(written: Written, out: &Target) -> Committed {
    let files = written.files;
    let failed = match files.failed.commit() {
        Ok(failed) => failed,
        Err(e) => return Committed::failed(e),
    };
    match files.sink.commit() {
        Ok(()) => {
            if let Some(journal) = files.journal {
                if let Err(e) = journal.remove() {
                    tracing::warn!("{e:#} (the next run discards it as stale)");
                }
            }
            Committed {
                complete: true,
                output: match out {
                    Target::File(p) => Some(p.clone()),
                    Target::Stdout => None,
                },
                failed_file: failed,
                ..Committed::default()
            }
        }
        // stdout's reader went away as the run ended.
        Err(e) if written.reader_gone || super::is_broken_pipe(&e) => Committed {
            failed_file: failed,
            ..Committed::default()
        },
        Err(e) => {
            // Put the failed file back as the partial one the journal
            // describes, so that --resume still fits.
            if let Some(path) = &failed {
                let _ = std::fs::rename(path, crate::paths::partial(path));
            }
            let partial_output = match out {
                Target::File(p) => Some(crate::paths::partial(p)).filter(|p| p.exists()),
                Target::Stdout => None,
            };
            Committed {
                partial_output,
                error: Some(e),
                ..Committed::default()
            }
        }
    }
}

/// Keep what can be kept, even after an output error: the summary still
/// tells monitoring how far the run got.
fn keep(written: Written, mut error: Option<anyhow::Error>) -> Committed {
    let files = written.files;
    let kept = if written.reader_gone {
        Ok(None)
    } else {
        files.sink.keep_partial()
    };
    let partial_output = match kept {
        Ok(p) => p,
        // stdout's reader went away (`| head`) while the run stopped.
        Err(e) if super::is_broken_pipe(&e) => None,
        Err(e) => {
            error.get_or_insert(e);
            None
        }
    };
    if let Err(e) = files.failed.keep_partial() {
        error.get_or_insert(e);
    }
    Committed {
        partial_output,
        error,
        ..Committed::default()
    }
}

impl Committed {
    fn failed(e: anyhow::Error) -> Committed {
        Committed {
            error: Some(e),
            ..Committed::default()
        }
    }
}
