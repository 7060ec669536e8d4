//! The end of a run's files: when every customer is done, the failed file
//! and the output are renamed into place and the journal removed; when the
//! run stopped early, what was written is kept as the partial files the
//! journal describes, for `--resume`.

use std::path::PathBuf;

use crate::export::writer::Written;
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
    } else if written.done() == 0 && error.is_none() && !written.reader_gone {
        discard(written, out)
    } else {
        keep(written, error, out)
    }
}

/// The run stopped before any customer was committed (a bad key, a wrong
/// address, a signal at the start): nothing is worth resuming, so the
/// partial files and the journal go, and the next run needs no --resume.
fn discard(written: Written, out: &Target) -> Committed {
    let files = written.files;
    let mut error = None;
    if let Err(e) = files.sink.discard() {
        error.get_or_insert(e);
    }
    if let Err(e) = files.failed.discard() {
        error.get_or_insert(e);
    }
    remove_journal(files.journal, out);
    if let Some(e) = &error {
        tracing::warn!("{e:#}");
    }
    Committed::default()
}

/// Remove the journal, and the contact list kept beside it: nothing is
/// left to resume.
fn remove_journal(journal: Option<crate::store::journal::Journal>, out: &Target) {
    if let Some(journal) = journal {
        if let Err(e) = journal.remove() {
            tracing::warn!("{e:#} (the next run discards it as stale)");
        }
    }
    if let Some(out) = out.file() {
        let kept = crate::store::paths::contact_list(out);
        if let Err(e) = crate::store::safefs::remove_if_present(&kept) {
            tracing::warn!("{e:#}");
        }
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
            remove_journal(files.journal, out);
            Committed {
                complete: true,
                output: match out {
                    Target::File(p) | Target::Special(p) => Some(p.clone()),
                    Target::Stdout => None,
                },
                failed_file: failed,
                ..Committed::default()
            }
        }
        // stdout's reader went away as the run ended.
        Err(e) if written.reader_gone || crate::export::is_broken_pipe(&e) => Committed {
            failed_file: failed,
            ..Committed::default()
        },
        Err(e) => {
            // Put the failed file back as the partial one the journal
            // describes, so that --resume still fits.
            if let Some(path) = &failed {
                let _ = std::fs::rename(path, crate::store::paths::partial(path));
            }
            let partial_output = out
                .file()
                .map(crate::store::paths::partial)
                .filter(|p| p.exists());
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
fn keep(written: Written, mut error: Option<anyhow::Error>, out: &Target) -> Committed {
    let files = written.files;
    let kept = if written.reader_gone {
        Ok(None)
    } else {
        files.sink.keep_partial()
    };
    let partial_output = match kept {
        Ok(p) => p,
        // stdout's reader went away (`| head`) while the run stopped.
        Err(e) if crate::export::is_broken_pipe(&e) => None,
        Err(e) => {
            error.get_or_insert(e);
            // The journal still describes what is in it: --resume goes on.
            out.file()
                .map(crate::store::paths::partial)
                .filter(|p| p.exists())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::writer::Files;
    use crate::output::failed::FailedFile;
    use crate::output::sink::Sink;
    use crate::output::Compression;
    use crate::store::journal::{Checkpoint, Fingerprint, Journal};

    fn fingerprint() -> Fingerprint {
        Fingerprint {
            ids: "2 IDs".into(),
            query: String::new(),
            columns: String::new(),
            format: "csv".into(),
            compression: "none".into(),
            base_url: String::new(),
            mask: String::new(),
            relative_window: String::new(),
            start_time: String::new(),
            end_time: String::new(),
        }
    }

    /// Open the files of `out` and write a row and, maybe, a failure.
    fn files(out: &std::path::Path, fail: bool) -> Files {
        let mut sink = Sink::create(
            &Target::File(out.to_path_buf()),
            Compression::None,
            Default::default(),
        )
        .unwrap();
        sink.write(b"row\n").unwrap();
        let mut failed = FailedFile::new(
            Some(crate::store::paths::default_failed(out)),
            Default::default(),
        );
        if fail {
            failed.add("c1", "gone", "transient").unwrap();
        }
        let journal = Journal::create(
            &crate::store::paths::journal(out),
            &fingerprint(),
            2,
            &Checkpoint::default(),
            Default::default(),
        )
        .unwrap();
        Files {
            sink,
            failed,
            journal: Some(journal),
            marks: None,
        }
    }

    /// A run with every customer done puts the output and the failed file
    /// in place and removes the journal and the partial files.
    #[test]
    fn a_complete_run_puts_its_files_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let written = Written::for_test(files(&out, true), 2);
        let c = commit(written, 2, &Target::File(out.clone()));
        assert!(c.complete && c.error.is_none());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "row\n");
        let failed = crate::store::paths::default_failed(&out);
        assert_eq!(c.failed_file.as_ref(), Some(&failed));
        assert!(std::fs::read_to_string(&failed)
            .unwrap()
            .contains("c1,gone"));
        for gone in [
            crate::store::paths::partial(&out),
            crate::store::paths::journal(&out),
        ] {
            assert!(!gone.exists(), "{}", gone.display());
        }
    }

    /// A run that stopped early keeps the partial output, the partial
    /// failed file and the journal, for --resume.
    #[test]
    fn a_stopped_run_keeps_what_resume_needs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let written = Written::for_test(files(&out, true), 1);
        let c = commit(written, 2, &Target::File(out.clone()));
        assert!(!c.complete && c.error.is_none());
        assert_eq!(c.partial_output, Some(crate::store::paths::partial(&out)));
        assert!(!out.exists());
        let failed = crate::store::paths::default_failed(&out);
        assert!(crate::store::paths::partial(&failed).exists() && !failed.exists());
        assert!(crate::store::paths::journal(&out).exists());
    }

    /// A run that stopped before committing any customer leaves nothing
    /// to resume: no partial files, no journal.
    #[test]
    fn a_run_stopped_before_any_customer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let c = commit(
            Written::for_test(files(&out, true), 0),
            2,
            &Target::File(out.clone()),
        );
        assert!(!c.complete && c.error.is_none() && c.partial_output.is_none());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(names.is_empty(), "{names:?}");
    }

    /// A complete run without failures leaves no failed file behind, not
    /// even a stale one from an earlier run.
    #[test]
    fn a_clean_run_removes_a_stale_failed_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let failed = crate::store::paths::default_failed(&out);
        std::fs::write(&failed, "customer_id,error\nold,x\n").unwrap();
        let c = commit(
            Written::for_test(files(&out, false), 2),
            2,
            &Target::File(out),
        );
        assert!(c.complete && c.failed_file.is_none());
        assert!(!failed.exists());
    }
}
