//! The export job: read IDs, fetch with bounded concurrency, write in order.
//!
//! ```text
//!  dispatch ──spawn──▶ fetch tasks (≤ window alive, ≤ concurrency in flight)
//!                              │ finished customers, any order
//!                              ▼
//!                        writer thread (reorder buffer → sink, failed file,
//!                                       counts, journal)
//!                              │ at the end
//!                              ▼
//!                        end: commit (files into place) → exit → state,
//!                             metrics, summary
//! ```
//!
//! Each part has a file: [`outcome`] (what a customer and a run end as),
//! [`control`] (stop switches, signals), [`dispatch`] (the reorder window
//! and its byte budget), [`fetch`] (one customer's attempts), [`health`]
//! (the platform-down policy), [`writer`] (the output and every count),
//! [`open`] and [`pending`] (the files at the start), [`end`] (the files
//! committed, the one decision of how the run ended, and the state,
//! metrics and summary written from it), [`next`] (whether a resumed
//! `--state` window goes on to the next one) and [`contact_list`] (the
//! IDs of `--all-contacts`, and the `contacts` command's one request).

pub mod contact_list;
pub mod control;
pub mod dispatch;
pub mod end;
pub mod fetch;
pub mod fingerprint;
pub mod health;
pub mod next;
pub mod open;
pub mod outcome;
pub mod pending;
pub mod stats;
pub mod writer;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::api::bufpool::BufPool;
use crate::api::ApiClient;
use crate::config::ExportConfig;
use crate::error::{Exit, RunError, UsageError};
use crate::store::input::{read_ids, IdList};

use crate::api::query::Query;
use crate::console::progress::Progress;
use crate::output::{encoder, CsvOptions};
use crate::pace::ratelimit::RateLimiter;
use crate::record::chat::ChatRecords;
use crate::record::{RowEncoder, Source};
use crate::shutdown::Shutdown;

use control::Control;
use dispatch::Window;
use end::summary::Summary;
use end::RunFacts;
use fetch::Fetcher;
use writer::{checkpoint_interval, Writer};

pub use control::GRACE_PERIOD;
pub use dispatch::{window_size, MAX_BUFFERED_BYTES};
pub use outcome::{Failure, FailureKind, Outcome, StopCause};
pub use writer::Marks;

/// Most bytes of empty buffers kept for reuse.
const POOL_BYTES: usize = 32 * 1024 * 1024;

/// The result of a run that got as far as making requests.
#[derive(Debug)]
pub struct Report {
    pub summary: Summary,
    pub exit: Exit,
    /// What could not be written (the output, the state, a report), if
    /// anything; the exit code already says so.
    pub error: Option<anyhow::Error>,
    /// Whether the run's window is done, as the `--state` watermark (and a
    /// pipeline's bookmark) sees it: complete, committed, and no failure
    /// but the platform's definitive answers.
    pub window_done: bool,
    /// The end of the window the run exported, on the wall clock of `--tz`
    /// (an interrupted run's, when it was resumed).
    pub window_end: Option<chrono::NaiveDateTime>,
}

/// How a data pipeline's run differs from `export`'s, handed to
/// [`run_with`] by the pipeline's front door: rows are protocol records on
/// stdout, the progress is a state message after the rows it covers, and
/// an interrupted window continues from the state's count.
#[derive(Clone)]
pub struct PipelineHooks {
    /// Encodes each row as one protocol message line.
    pub encoder: Arc<dyn RowEncoder>,
    /// Writes the state message for a committed point.
    pub marks: Arc<dyn Marks>,
    /// Where the interrupted window's run stands: customers committed, and
    /// its counts so far.
    pub start: crate::store::journal::Checkpoint,
}

/// Run one export. Errors found before any request are `RunError::Usage`.
pub async fn run(mut config: ExportConfig, mut shutdown: Shutdown) -> Result<Report, RunError> {
    let started = Instant::now();
    let ids = match config.files.ids {
        crate::store::input::Source::Contacts => {
            contact_list::ids_for_run(&mut config, &mut shutdown).await?
        }
        _ => read_input(&config, &mut shutdown).await?,
    };
    let source = chat_records(config.mask.clone(), config.pseudonym.clone());
    run_with(config, source, ids, shutdown, started, None).await
}

/// What a run fetches, made for the query it sends (a resumed run's may be
/// the interrupted run's, known once the files are open).
pub type SourceFor = Box<dyn FnOnce(&Query) -> Box<dyn Source> + Send>;

/// The chat records, the source of `export`, masked by `mask`, the IDs
/// written as pseudonyms by `pseudonym`.
pub fn chat_records(
    mask: Option<crate::record::mask::Masker>,
    pseudonym: Option<crate::record::pseudonym::Pseudonymizer>,
) -> SourceFor {
    Box::new(move |query| Box::new(ChatRecords::new(query.clone(), mask, pseudonym)))
}

/// Run one export of `ids` from `source` (what is fetched for each ID and
/// how an answer becomes rows), the IDs read already (a pipeline reads
/// them to check its state against them), from `started`; `hooks` when a
/// data pipeline runs it.
pub async fn run_with(
    mut config: ExportConfig,
    source: SourceFor,
    ids: IdList,
    shutdown: Shutdown,
    started: Instant,
    hooks: Option<PipelineHooks>,
) -> Result<Report, RunError> {
    if ids.duplicates > 0 {
        tracing::info!(
            duplicates = ids.duplicates,
            "{} duplicate customer ID(s) will be exported once",
            ids.duplicates
        );
    }
    let ids = Arc::new(ids);
    config.files.check_reports_creatable()?;
    let encoder = row_encoder(&config, hooks.as_ref());
    let opened = open::open(&config, hooks.as_ref(), &ids, &*encoder)?;
    config.query = opened.query;
    let _locks = opened.locks;
    let resumed_from = opened.start.next as usize;

    let buffers = Arc::new(BufPool::new(POOL_BYTES, 4 * config.concurrency + 16));
    let source = source(&config.query);
    let customers = ids.len().saturating_sub(resumed_from);
    let fetcher = Arc::new(fetcher(&config, source, encoder, &buffers, customers)?);
    announce(&config, ids.len(), resumed_from);

    let control = Arc::new(Control::default());
    let progress = start_progress(&config, &fetcher, ids.len(), &opened.start);
    let watcher = control::watch_signals(control.clone(), shutdown);

    let window = Window::new(config.concurrency);
    let (tx, rx) = mpsc::channel(window.size());
    let writer = Writer::new(
        opened.files,
        opened.start,
        ids.clone(),
        control.clone(),
        buffers,
        checkpoint_interval(config.compression),
        config.columns.clone(),
    );
    let writing = tokio::task::spawn_blocking(move || {
        let written = writer.run(rx, &progress);
        progress.finish();
        written
    });
    let stall = dispatch::dispatch(&ids, resumed_from, &window, &fetcher, &control, tx).await;
    let written = tokio::select! {
        written = writing => written.expect("the writer does not panic"),
        _ = control.abandon.cancelled() => return Err(abandoned(&control)),
    };
    watcher.abort();

    let run = RunFacts {
        total: ids.len(),
        duplicates: ids.duplicates as u64,
        resumed_from,
        stall,
        started,
    };
    Ok(end::finish(&config, &fetcher, &control, written, run))
}

/// The row format: the pipeline's records, or the `--format` of `config`.
fn row_encoder(config: &ExportConfig, hooks: Option<&PipelineHooks>) -> Box<dyn RowEncoder> {
    match hooks {
        Some(hooks) => Box::new(hooks.encoder.clone()),
        None => format_encoder(config),
    }
}

/// The `--format`, `--columns` and CSV flags of `config` as an encoder.
pub(crate) fn format_encoder(config: &ExportConfig) -> Box<dyn RowEncoder> {
    encoder(
        config.format,
        &config.columns,
        CsvOptions {
            bom: config.csv_bom,
            formula_guard: config.csv_formula_guard,
        },
    )
}

/// The fetch tasks' shared machinery for `customers` to fetch from
/// `source`: the client, the limiter, the retries and the health verdicts.
pub(crate) fn fetcher(
    config: &ExportConfig,
    source: Box<dyn Source>,
    encoder: Box<dyn RowEncoder>,
    buffers: &Arc<BufPool>,
    customers: usize,
) -> Result<Fetcher, UsageError> {
    let client = ApiClient::new(&config.base_url, &config.api_key, &config.client)
        .map_err(|e| UsageError::invalid(format!("{e:#}")))?;
    Ok(Fetcher::new(
        client,
        source,
        RateLimiter::shared(config.rate, config.shard.map_or(1, |s| s.count)),
        config.retry.clone(),
        config.concurrency,
        encoder,
        buffers.clone(),
        config.codes.clone(),
        customers,
    ))
}

/// The error of a run whose writer was abandoned after a second signal.
fn abandoned(control: &Control) -> RunError {
    let signal = match control.reason() {
        Some(StopCause::Signal(signal)) => signal,
        _ => crate::shutdown::Signal::Interrupt,
    };
    RunError::Abandoned(signal)
}

/// The progress display, from what earlier runs of a resumed run did.
fn start_progress(
    config: &ExportConfig,
    fetcher: &Arc<Fetcher>,
    total: usize,
    start: &crate::store::journal::Checkpoint,
) -> Progress {
    let fetcher = fetcher.clone();
    let from = crate::console::progress::Start {
        customers: start.next,
        rows: start.tally.rows,
        failed: start.tally.failed,
    };
    Progress::start(
        config.progress,
        config.progress_interval,
        total as u64,
        from,
        move || fetcher.stats.requests(),
    )
}

/// Read the IDs and keep this shard's. `--ids -` may wait on a terminal or
/// a slow pipe: a signal meanwhile ends the run at once (the reading
/// thread is abandoned).
async fn read_input(config: &ExportConfig, shutdown: &mut Shutdown) -> Result<IdList, RunError> {
    let source = config.files.ids.clone();
    let reading = tokio::task::spawn_blocking(move || read_ids(&source));
    let mut ids = tokio::select! {
        ids = reading => ids.expect("reading IDs does not panic")?,
        signal = shutdown.wait_for(1) => return Err(RunError::Interrupted(signal)),
    };
    crate::store::input::require_ids(&ids, &config.files.ids, config.allow_empty)?;
    if let Some(shard) = config.shard {
        let before = ids.len();
        ids.retain(|id| shard.contains(id));
        tracing::info!("shard {shard}: {} of {before} customers", ids.len());
    }
    Ok(ids)
}

fn announce(config: &ExportConfig, total: usize, resumed_from: usize) {
    if resumed_from > 0 {
        tracing::info!(
            committed = resumed_from,
            "resuming: {resumed_from} of {total} customers were already exported"
        );
    }
    if let Some(state) = &config.state {
        let body = config.query.body("");
        tracing::info!(
            "window {} to {} ({}); its start: {}",
            body.start_time,
            body.end_time,
            config.zone.name(),
            state.start_origin()
        );
    }
    let from = match &config.contacts.fetched {
        Some(list) => format!(" (the contact list's {} contacts)", list.contacts),
        None => String::new(),
    };
    tracing::info!(
        customers = total,
        concurrency = config.concurrency,
        rate = config.rate,
        "exporting {total} customers{from} to {}",
        config.files.out.describe()
    );
}

/// Whether an output error is stdout's reader going away.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
