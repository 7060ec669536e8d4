//! Opening a run's files before any request, so a bad path fails at once:
//! a fresh output with its header, or the interrupted one resumed from its
//! journal, as `--resume`, `--restart` and what is on disk say (see
//! [`super::pending`]).

use std::path::Path;
use std::sync::Arc;

use super::pending::{self, Pending};
use super::writer::Files;
use crate::api::query::Query;
use crate::config::{ExportConfig, ResumeMode};
use crate::error::UsageError;
use crate::output::failed::FailedFile;
use crate::output::parquet::Layout;
use crate::output::sink::Sink;
use crate::output::Format;
use crate::record::RowEncoder;
use crate::store::input::IdList;
use crate::store::journal::{self, Checkpoint, Fingerprint, Journal};
use crate::store::lock::OutputLock;

/// A run's open files.
pub struct Opened {
    pub files: Files,
    /// Where the run starts: the journal's last checkpoint, or a fresh one.
    pub start: Checkpoint,
    /// The query to send: the interrupted run's, when a resume keeps its
    /// relative window.
    pub query: Query,
    /// Held for the whole run: the output's, the failed file's and the
    /// summary's locks.
    pub locks: Vec<OutputLock>,
}

impl Opened {
    /// A file output's files, starting at `start` (its locks are added by
    /// [`open`]).
    fn file(
        sink: Sink,
        failed: FailedFile,
        journal: Journal,
        start: Checkpoint,
        query: Query,
    ) -> Opened {
        Opened {
            files: Files {
                sink,
                failed,
                journal: Some(journal),
                marks: None,
            },
            start,
            query,
            locks: Vec::new(),
        }
    }
}

/// Open the output, the failed file and the journal of `config`.
pub fn open(
    config: &ExportConfig,
    hooks: Option<&super::PipelineHooks>,
    ids: &IdList,
    encoder: &dyn RowEncoder,
) -> Result<Opened, UsageError> {
    let locks = lock_all(config)?;
    check_state_unchanged(config)?;
    let mut opened = match (config.files.out.file(), hooks) {
        (_, Some(pipeline)) => Opened {
            files: Files {
                sink: Sink::stream(
                    Box::new(WholeLines::default()),
                    crate::output::Compression::None,
                    "stdout",
                ),
                failed: FailedFile::new(None, config.file_mode),
                journal: None,
                marks: Some(pipeline.marks.clone()),
            },
            start: pipeline.start.clone(),
            query: config.query.clone(),
            locks: Vec::new(),
        },
        (None, None) => {
            let (sink, failed) = fresh(config, encoder)?;
            Opened {
                files: Files {
                    sink,
                    failed,
                    journal: None,
                    marks: None,
                },
                start: Checkpoint::default(),
                query: config.query.clone(),
                locks: Vec::new(),
            }
        }
        (Some(out), None) => file_output(config, out, ids, encoder)?,
    };
    opened.locks = locks;
    Ok(opened)
}

/// Lock every file the run writes that another run could be given too
/// (see [`crate::config::FilePlan::locked`]).
fn lock_all(config: &ExportConfig) -> Result<Vec<OutputLock>, UsageError> {
    config
        .files
        .locked()
        .into_iter()
        .map(|path| OutputLock::acquire(path, config.file_mode))
        .collect()
}

/// The state file was read before its lock was taken: a run that ended in
/// between may have moved it, and this run's window would then be stale.
fn check_state_unchanged(config: &ExportConfig) -> Result<(), UsageError> {
    let Some(state) = &config.state else {
        return Ok(());
    };
    if crate::store::state::load(&state.path)? != state.recorded {
        return Err(UsageError::invalid(format!(
            "the state file {} changed while this run started (another run ended): run \
             again",
            state.path.display()
        )));
    }
    Ok(())
}

/// stdout for a data pipeline: what is written is held until the writer
/// flushes (after each state message) or [`WholeLines::BATCH`] bytes wait,
/// then written whole under stdout's lock. The writer writes whole
/// customers and whole state lines, so no log message another thread
/// prints there can land inside a record, and a state always follows the
/// records it covers.
#[derive(Default)]
struct WholeLines {
    buf: Vec<u8>,
}

impl WholeLines {
    /// Bytes held before they are written without a flush.
    const BATCH: usize = 256 * 1024;

    fn write_out(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        if !self.buf.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(&self.buf)?;
            out.flush()?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl std::io::Write for WholeLines {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > Self::BATCH {
            self.write_out()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_out()
    }
}

impl Drop for WholeLines {
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

/// Start a fresh output (with its header) and failed file.
fn fresh(
    config: &ExportConfig,
    encoder: &dyn RowEncoder,
) -> Result<(Sink, FailedFile), UsageError> {
    let sink = fresh_sink(config, encoder)?;
    let failed = FailedFile::new(config.files.failed.clone(), config.file_mode);
    Ok((sink, failed))
}

/// Start `config`'s output afresh (`<out>.partial` for a file, or the
/// stream) and write `encoder`'s header: `export`'s, and the `contacts`
/// command's.
pub(crate) fn fresh_sink(
    config: &ExportConfig,
    encoder: &dyn RowEncoder,
) -> Result<Sink, UsageError> {
    let mut sink = match (config.format, config.files.out.file()) {
        (Format::Parquet, Some(out)) => Sink::create_parquet(
            out,
            Arc::new(Layout::new(&config.columns, config.parquet_row_group_rows)),
            config.file_mode,
        ),
        _ => Sink::create(&config.files.out, config.compression, config.file_mode),
    }
    .map_err(|e| UsageError::invalid(format!("{e:#}")))?;
    let mut header = Vec::new();
    encoder.header(&mut header);
    sink.write(&header)
        .map_err(|e| UsageError::invalid(format!("cannot write the output: {e}")))?;
    Ok(sink)
}

/// Open a file output: fresh, or resumed from its journal.
fn file_output(
    config: &ExportConfig,
    out: &Path,
    ids: &IdList,
    encoder: &dyn RowEncoder,
) -> Result<Opened, UsageError> {
    match pending::examine(config, out, ids)? {
        Pending::Resume { found, query } => return resumed(config, out, &found, query),
        Pending::Discarded(what) => tracing::info!("{what}: starting afresh"),
        Pending::Nothing if config.resume == ResumeMode::Resume => {
            tracing::info!("nothing to resume for {}: starting afresh", out.display());
        }
        Pending::Nothing => {}
    }
    let usage = |e: anyhow::Error| UsageError::invalid(format!("{e:#}"));
    let journal_path = journal::journal_path(out);
    let (mut sink, failed) = fresh(config, encoder)?;
    let first = Checkpoint {
        out_bytes: sink
            .checkpoint()
            .map_err(|e| UsageError::invalid(format!("cannot write the output: {e}")))?,
        ..Checkpoint::default()
    };
    if config.files.ids == crate::store::input::Source::Contacts {
        super::contact_list::keep_list(out, ids, config.file_mode).map_err(usage)?;
    }
    let fingerprint = Fingerprint::of(config, ids);
    let journal = Journal::create(
        &journal_path,
        &fingerprint,
        ids.len() as u64,
        &first,
        config.file_mode,
    )
    .map_err(usage)?;
    Ok(Opened::file(
        sink,
        failed,
        journal,
        first,
        config.query.clone(),
    ))
}

/// Reopen the interrupted run of `out` that `found` describes, with the
/// `query` it keeps.
fn resumed(
    config: &ExportConfig,
    out: &Path,
    found: &journal::Found,
    query: Query,
) -> Result<Opened, UsageError> {
    let usage = |e: anyhow::Error| UsageError::invalid(format!("{e:#}"));
    let cp = &found.checkpoint;
    let sink = match config.format {
        Format::Parquet => Sink::resume_parquet(
            out,
            Arc::new(Layout::new(&config.columns, config.parquet_row_group_rows)),
            cp.out_bytes,
            cp.staged_bytes,
            config.file_mode,
        ),
        _ => Sink::resume(out, config.compression, cp.out_bytes, config.file_mode),
    }
    .map_err(|e| {
        UsageError::invalid(format!(
            "{e:#}. Pass --restart to discard the interrupted run and start afresh"
        ))
    })?;
    let failed = FailedFile::resume(
        config.files.failed.clone(),
        cp.failed_bytes,
        config.file_mode,
    )
    .map_err(usage)?;
    let journal =
        Journal::resume(&journal::journal_path(out), found, config.file_mode).map_err(usage)?;
    if query != config.query {
        tracing::info!(
            "keeping the interrupted run's window ({}): start {:?}, end {:?}",
            config.relative_window,
            found.fingerprint.start_time,
            found.fingerprint.end_time
        );
    }
    Ok(Opened::file(sink, failed, journal, cp.clone(), query))
}
