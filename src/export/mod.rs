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
//!                        commit (files into place) → summary (status, exit)
//! ```
//!
//! Each part has a file: [`outcome`] (what a customer and a run end as),
//! [`control`] (stop switches, signals), [`dispatch`] (the reorder window
//! and its byte budget), [`fetch`] (one customer's attempts), [`health`]
//! (the platform-down policy), [`writer`] (the output and every count),
//! [`open`] and [`pending`] (the files at the start), [`commit`] (the files
//! at the end) and [`summary`] (status, exit code, the report).

pub mod commit;
pub mod control;
pub mod dispatch;
pub mod fetch;
pub mod health;
pub mod open;
pub mod outcome;
pub mod pending;
pub mod stats;
pub mod summary;
pub mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::api::client::ClientSettings;
use crate::api::ApiClient;
use crate::bufpool::BufPool;
use crate::config::ExportConfig;
use crate::error::{Exit, RunError, UsageError};
use crate::input::{read_ids, IdList};
use crate::output::{encoder, CsvOptions};
use crate::progress::Progress;
use crate::ratelimit::RateLimiter;
use crate::shutdown::Shutdown;

use commit::Committed;
use control::Control;
use dispatch::Window;
use fetch::Fetcher;
use summary::{exit_for, Customers, Ending, Summary};
use writer::{checkpoint_interval, Writer, Written};

pub use control::GRACE_PERIOD;
pub use dispatch::{window_size, MAX_BUFFERED_BYTES};
pub use outcome::{Failure, FailureKind, Outcome, StopCause};

/// Most bytes of empty buffers kept for reuse.
const POOL_BYTES: usize = 32 * 1024 * 1024;

/// The result of a run that got as far as making requests.
#[derive(Debug)]
pub struct Report {
    pub summary: Summary,
    pub exit: Exit,
}

impl Report {
    /// Print the summary line and what to do next.
    pub fn explain(&self) {
        summary::explain(&self.summary, self.exit);
    }
}

/// Run one export. Errors found before any request are `RunError::Usage`.
pub async fn run(mut config: ExportConfig, mut shutdown: Shutdown) -> Result<Report, RunError> {
    let started = Instant::now();
    let ids = Arc::new(read_input(&config, &mut shutdown).await?);
    if let Some(summary) = &config.summary {
        crate::output::check_creatable(summary, "summary")?;
    }
    if let Some(metrics) = &config.metrics {
        crate::output::check_creatable(metrics, "metrics file")?;
    }
    if let Some(state) = &config.state {
        crate::output::check_creatable(&state.path, "state file")?;
    }
    let encoder = encoder(
        config.format,
        &config.columns,
        CsvOptions {
            bom: config.csv_bom,
            formula_guard: config.csv_formula_guard,
        },
    );
    let opened = open::open(&config, &ids, &*encoder)?;
    config.query = opened.query;
    let _locks = opened.locks;
    let resumed_from = opened.start.next as usize;

    let buffers = Arc::new(BufPool::new(POOL_BYTES, 4 * config.concurrency + 16));
    let client = ApiClient::new(
        &config.base_url,
        &config.api_key,
        config.query.clone(),
        &ClientSettings {
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            pool_size: config.concurrency,
            max_response_bytes: config.max_response_bytes,
            ca_cert: config.ca_cert.clone(),
        },
    )
    .map_err(|e| UsageError::invalid(format!("{e:#}")))?;
    let fetcher = Arc::new(Fetcher::new(
        client,
        RateLimiter::new(config.rate),
        config.retry.clone(),
        config.concurrency,
        encoder,
        buffers.clone(),
        config.codes.clone(),
    ));
    announce(&config, ids.len(), resumed_from);

    let control = Arc::new(Control::default());
    let progress = {
        let fetcher = fetcher.clone();
        Progress::start(config.progress, ids.len() as u64, move || {
            fetcher.stats.requests()
        })
    };
    let tally = opened.start.tally.clone();
    progress.update(resumed_from as u64, tally.rows, tally.failed);
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
    let written = writing.await.expect("the writer does not panic");
    watcher.abort();

    let run = RunFacts {
        total: ids.len(),
        duplicates: ids.duplicates as u64,
        resumed_from,
        stall,
        started,
    };
    finish(&config, &fetcher, &control, written, run)
}

/// Read the IDs and keep this shard's. `--ids -` may wait on a terminal or
/// a slow pipe: a signal meanwhile ends the run at once (the reading
/// thread is abandoned).
async fn read_input(config: &ExportConfig, shutdown: &mut Shutdown) -> Result<IdList, RunError> {
    let source = config.ids.clone();
    let reading = tokio::task::spawn_blocking(move || read_ids(&source));
    let mut ids = tokio::select! {
        ids = reading => ids.expect("reading IDs does not panic")?,
        signal = shutdown.wait_for(1) => return Err(RunError::Interrupted(signal)),
    };
    if let Some(shard) = config.shard {
        let before = ids.len();
        ids.retain(|id| shard.contains(id));
        tracing::info!("shard {shard}: {} of {before} customers", ids.len());
    }
    if ids.duplicates > 0 {
        tracing::info!(
            duplicates = ids.duplicates,
            "{} duplicate customer ID(s) will be exported once",
            ids.duplicates
        );
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
    tracing::info!(
        customers = total,
        concurrency = config.concurrency,
        rate = config.rate,
        "exporting {total} customers to {}",
        config.out.describe()
    );
}

/// What the run knows of itself besides its files.
struct RunFacts {
    total: usize,
    duplicates: u64,
    resumed_from: usize,
    stall: Duration,
    started: Instant,
}

/// Commit the files, move the `--state` watermark if the run allows it,
/// decide the exit, write the summary and the metrics.
fn finish(
    config: &ExportConfig,
    fetcher: &Fetcher,
    control: &Control,
    written: Written,
    run: RunFacts,
) -> Result<Report, RunError> {
    let done = written.done();
    let tally = written.tally().clone();
    let committed: Committed = commit::commit(written, run.total, &config.out);
    let mut ending = Ending {
        complete: committed.complete,
        failed: tally.failed,
        stop: control.reason(),
        output_error: committed.error.is_some(),
        state_error: false,
    };
    let state = config.state.as_ref().map(|settings| {
        let (report, error) = settle_state(settings, config, &committed, &tally, ending);
        if let Some(e) = error {
            tracing::error!("{e:#}");
            ending.state_error = true;
        }
        report
    });
    let (exit, status, stopped_because) = exit_for(ending);
    let shown = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let (api_codes, api_codes_unlisted) = fetcher.stats.codes();
    let mut summary = Summary {
        status,
        exit_code: exit.code(),
        stopped_because,
        customers: Customers {
            total: run.total as u64,
            ok: tally.ok,
            empty: tally.empty,
            failed: tally.failed,
            duplicate: run.duplicates,
            not_done: (run.total - done) as u64,
        },
        resumed_from: run.resumed_from as u64,
        chats: tally.chats,
        rows: tally.rows,
        requests: fetcher.stats.requests(),
        retries: crate::api::Cause::ALL
            .iter()
            .map(|&c| fetcher.stats.retries(c))
            .sum(),
        retries_by_cause: Summary::retries_by_cause(&fetcher.stats),
        failed_by_kind: tally.failed_by_kind,
        api_codes,
        api_codes_unlisted,
        drift: tally.drift,
        throttled_secs: fetcher.limiter.throttled().as_secs_f64(),
        reorder_stall_secs: run.stall.as_secs_f64(),
        settled_rate: fetcher.limiter.estimate(),
        elapsed_secs: run.started.elapsed().as_secs_f64(),
        output: shown(&committed.output),
        partial_output: shown(&committed.partial_output),
        failed_file: shown(&committed.failed_file),
        resumable: !committed.complete && config.out.file().is_some(),
        shard: config.shard.map(|s| s.to_string()),
        state,
    };
    let reported = write_reports(config, &mut summary);
    if let Some(err) = committed.error {
        if let Err(e) = reported {
            tracing::warn!("{e:#}");
        }
        return Err(RunError::Output(err));
    }
    reported.map_err(RunError::Output)?;
    Ok(Report { summary, exit })
}

/// Move the watermark to the end of this run's window if the run allows
/// it: complete, committed, and no failure but definitive ones.
fn settle_state(
    settings: &crate::state::StateSettings,
    config: &ExportConfig,
    committed: &Committed,
    tally: &crate::journal::Tally,
    ending: Ending,
) -> (crate::state::StateReport, Option<anyhow::Error>) {
    let (exit, _, _) = exit_for(ending);
    let run = crate::state::RunEnd {
        complete: committed.complete && committed.error.is_none(),
        failed_not_definitive: tally.failed_not_definitive,
        start: config.query.start,
        end: config.query.end,
        zone: config.zone,
        output: committed.output.as_deref(),
        rows: tally.rows,
        exit_code: exit.code(),
    };
    crate::state::settle(settings, &run, config.file_mode)
}

/// Write `--metrics`, then `--summary`, each even if the other fails; the
/// first error is returned. A report that cannot be written makes the run
/// exit 4, so the reports that are written say exit 4 too (the metrics are
/// written again when it is the summary that failed).
fn write_reports(config: &ExportConfig, summary: &mut Summary) -> anyhow::Result<()> {
    let metrics = |summary: &Summary| {
        config.metrics.as_ref().map_or(Ok(()), |path| {
            let run = crate::metrics::RunMetrics {
                summary,
                shard: config.shard,
                ended: chrono::Utc::now(),
            };
            crate::metrics::write(path, &run, config.file_mode)
        })
    };
    let mut first: Option<anyhow::Error> = None;
    if let Err(e) = metrics(summary) {
        summary.mark_report_failed();
        first = Some(e);
    }
    if let Some(path) = &config.summary {
        if let Err(e) = summary.write(path, config.file_mode) {
            if first.is_none() {
                summary.mark_report_failed();
                if let Err(again) = metrics(summary) {
                    tracing::warn!("{again:#}");
                }
                first = Some(e);
            } else {
                tracing::warn!("{e:#}");
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Whether an output error is stdout's reader going away.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
