//! The export job: read IDs, fetch with bounded concurrency, write in order.
//!
//! ```text
//!  dispatcher ──spawn──▶ fetch tasks (≤ window alive, ≤ concurrency in flight)
//!                              │ finished customers, any order
//!                              ▼
//!                        writer thread (reorder buffer → sink, failed file)
//! ```
//!
//! Memory is bounded by the reorder window (a few times the concurrency,
//! and at most [`MAX_BUFFERED_BYTES`] of encoded rows), never by the size of
//! the dump.

pub mod fetch;
pub mod health;
pub mod pending;
pub mod writer;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::api::client::ClientSettings;
use crate::api::{ApiClient, Cause, StopReason};
use crate::bufpool::BufPool;
use crate::config::{ExportConfig, ResumeMode, Target};
use crate::error::{Exit, RunError, UsageError};
use crate::input::{read_ids, IdList};
use crate::journal::{self, Checkpoint, Fingerprint, Journal};
use crate::lock::OutputLock;
use crate::output::failed::FailedFile;
use crate::output::sink::Sink;
use crate::output::{encoder, CsvOptions, Encoded, RowEncoder};
use crate::progress::{spawn_log_ticker, Progress};
use crate::query::Query;
use crate::ratelimit::RateLimiter;
use crate::retry::{RetryBudget, RetryPolicy};
use crate::shutdown::{Shutdown, Signal};
use crate::summary::{Customers, LiveStats, Summary};

use health::Health;
use pending::Pending;
use writer::{checkpoint_interval, write_in_order, Done, Written};

/// How long in-flight requests may run after the first Ctrl-C / SIGTERM.
pub const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// How a customer ended.
#[derive(Debug)]
pub enum Outcome {
    /// Rows, already encoded in the output format.
    Rows { bytes: Vec<u8>, encoded: Encoded },
    /// Answered, but no messages in the window.
    Empty {
        chats: u64,
        drift: crate::drift::CustomerDrift,
    },
    /// Failed for good; goes to the failed file.
    Failed(Failure),
    /// Not finished because the run is stopping; fetched again next time.
    NotDone,
}

/// A failed customer, as data.
#[derive(Debug, Clone)]
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
    /// `Code` 2000, but a shape no row can come from (`Data` an object,
    /// `messages` a string); not retried.
    UnexpectedShape,
}

impl FailureKind {
    pub fn name(self) -> String {
        match self {
            FailureKind::Api => "api_code".into(),
            FailureKind::Http => "http_status".into(),
            FailureKind::Transient(c) => format!("transient_{}", c.name()),
            FailureKind::RetryAfterTooLong => "retry_after_too_long".into(),
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

/// Stop switches shared by the dispatcher, the tasks and the writer.
#[derive(Debug, Default)]
pub struct Control {
    /// No new customers, no new attempts.
    pub drain: CancellationToken,
    /// Cancel requests in flight too.
    pub abort: CancellationToken,
    reason: Mutex<Option<StopCause>>,
}

impl Control {
    /// Stop the run; `hard` also cancels requests in flight. The first
    /// cause is the one reported.
    pub fn stop(&self, cause: StopCause, hard: bool) {
        {
            let mut reason = self.reason.lock().expect("control lock");
            if reason.is_none() {
                *reason = Some(cause);
                if let StopCause::Api(r) = cause {
                    tracing::error!("stopping: {}", r.message());
                }
            }
        }
        self.drain.cancel();
        if hard {
            self.abort.cancel();
        }
    }

    pub fn reason(&self) -> Option<StopCause> {
        *self.reason.lock().expect("control lock")
    }
}

/// Everything the fetch tasks share.
pub struct Ctx {
    pub ids: IdList,
    pub client: ApiClient,
    pub limiter: RateLimiter,
    pub budget: RetryBudget,
    pub policy: RetryPolicy,
    pub health: Health,
    pub stats: Arc<LiveStats>,
    pub inflight: Arc<Semaphore>,
    pub encoder: Box<dyn RowEncoder>,
    pub control: Control,
    /// Encoded bytes finished but not yet written.
    pub buffered: AtomicU64,
    /// Customers dispatched and not yet finished fetching.
    pub in_progress: AtomicU64,
    /// Buffers for answers and encoded rows, reused.
    pub buffers: BufPool,
}

/// The result of a run that got as far as making requests.
#[derive(Debug)]
pub struct Report {
    pub summary: Summary,
    pub exit: Exit,
}

/// Customers fetched ahead of the writer: enough that a slow customer does
/// not stall the others (with lognormal latency the slowest of thousands
/// takes several times the median, while the others keep finishing), few
/// enough to bound memory.
pub fn window_size(concurrency: usize) -> usize {
    (concurrency * 8 + 64).min(16_384)
}

/// Most bytes of empty buffers kept for reuse.
const POOL_BYTES: usize = 32 * 1024 * 1024;

/// Encoded bytes that may wait in the reorder buffer before dispatching
/// pauses: bounds memory when responses are huge.
pub const MAX_BUFFERED_BYTES: u64 = 16 * 1024 * 1024;

/// Run one export. Errors found before any request are `RunError::Usage`.
pub async fn run(mut config: ExportConfig, mut shutdown: Shutdown) -> Result<Report, RunError> {
    let started = Instant::now();
    let source = config.ids.clone();
    // `--ids -` may wait on a terminal or a slow pipe: a signal meanwhile
    // ends the run at once (the reading thread is abandoned).
    let reading = tokio::task::spawn_blocking(move || read_ids(&source));
    let mut ids = tokio::select! {
        ids = reading => ids.expect("reading IDs does not panic")?,
        signal = shutdown.wait_for(1) => return Err(RunError::Interrupted(signal)),
    };
    if let Some(summary) = &config.summary {
        crate::output::check_creatable(summary, "summary")?;
    }
    if let Some(shard) = config.shard {
        let before = ids.len();
        ids.retain(|id| shard.contains(id));
        tracing::info!("shard {shard}: {} of {before} customers", ids.len());
    }
    let total = ids.len();
    if ids.duplicates > 0 {
        tracing::info!(
            duplicates = ids.duplicates,
            "{} duplicate customer ID(s) will be exported once",
            ids.duplicates
        );
    }

    let encoder = encoder(
        config.format,
        &config.columns,
        CsvOptions {
            bom: config.csv_bom,
            formula_guard: config.csv_formula_guard,
        },
    );
    let (written, _lock) = match &config.out {
        Target::Stdout => {
            let (sink, failed) = open_fresh(&config, &*encoder)?;
            (
                Written::new(sink, failed, None, Checkpoint::default()),
                None,
            )
        }
        Target::File(out) => {
            let lock = OutputLock::acquire(out)?;
            let (written, query) = open_file_output(&config, out, &ids, &*encoder)?;
            config.query = query;
            (written, Some(lock))
        }
    };
    let resumed_from = written.next;

    let client = ApiClient::new(
        &config.base_url,
        &config.api_key,
        config.query.clone(),
        &ClientSettings {
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            pool_size: config.concurrency,
        },
    )
    .map_err(|e| UsageError::invalid(format!("{e:#}")))?;

    if resumed_from > 0 {
        tracing::info!(
            committed = resumed_from,
            "resuming: {resumed_from} of {total} customers were already exported"
        );
    }
    tracing::info!(
        customers = total,
        concurrency = config.concurrency,
        rate = config.rate,
        "exporting {total} customers to {}",
        match &config.out {
            Target::Stdout => "stdout".to_string(),
            Target::File(p) => p.display().to_string(),
        }
    );

    let stats = Arc::new(LiveStats::default());
    let ctx = Arc::new(Ctx {
        ids,
        client,
        limiter: RateLimiter::new(config.rate),
        budget: RetryBudget::new(config.retry.budget),
        policy: config.retry.clone(),
        health: Health::default(),
        stats: stats.clone(),
        inflight: Arc::new(Semaphore::new(config.concurrency)),
        encoder,
        control: Control::default(),
        buffered: AtomicU64::new(0),
        in_progress: AtomicU64::new(0),
        buffers: BufPool::new(POOL_BYTES, 4 * config.concurrency + 16),
    });

    let window = window_size(config.concurrency);
    let slots = Arc::new(Semaphore::new(window));
    let (tx, rx) = mpsc::channel::<Done>(window);

    let progress = Progress::new(config.progress, total as u64);
    progress.update(
        resumed_from as u64,
        written.state.rows,
        written.state.failed,
    );
    stats
        .done
        .store(resumed_from as u64, std::sync::atomic::Ordering::Relaxed);
    let ticker = (!progress.is_bar()).then(|| spawn_log_ticker(stats.clone(), total as u64));
    let watcher = spawn_signal_watcher(ctx.clone(), shutdown);

    let interval = checkpoint_interval(config.compression);
    let writer = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || {
            let written = write_in_order(ctx, rx, written, interval, &progress);
            progress.finish();
            written
        })
    };

    let mut reorder_stall = Duration::ZERO;
    for index in resumed_from..total {
        // Head-of-line stall: the window (or the byte cap) is full of
        // customers finished but not writable yet, while fewer than
        // `concurrency` are being fetched.
        let waiting_since = Instant::now();
        let starved = ctx.in_progress.load(Relaxed) < config.concurrency as u64;
        while ctx.buffered.load(Relaxed) > MAX_BUFFERED_BYTES && !ctx.control.drain.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let slot = tokio::select! {
            biased;
            _ = ctx.control.drain.cancelled() => break,
            s = slots.clone().acquire_owned() => s.expect("the window semaphore is never closed"),
        };
        if starved {
            reorder_stall += waiting_since.elapsed();
        }
        // The first request's in-flight permit is taken here, in input
        // order, so requests go out in input order (tasks are polled in any
        // order); retries take theirs in the task.
        let first = tokio::select! {
            biased;
            _ = ctx.control.drain.cancelled() => break,
            p = ctx.inflight.clone().acquire_owned() => {
                p.expect("the in-flight semaphore is never closed")
            }
        };
        let ctx = ctx.clone();
        let tx = tx.clone();
        ctx.in_progress.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let outcome = fetch::fetch_customer(&ctx, index, first).await;
            ctx.in_progress.fetch_sub(1, Relaxed);
            if let Outcome::Rows { bytes, .. } = &outcome {
                ctx.buffered.fetch_add(bytes.len() as u64, Relaxed);
            }
            let _ = tx
                .send(Done {
                    index,
                    outcome,
                    permit: slot,
                })
                .await;
        });
    }
    drop(tx);

    let written = writer.await.expect("the writer does not panic");
    watcher.abort();
    if let Some(t) = ticker {
        t.abort();
    }
    finish(&config, &ctx, written, resumed_from, reorder_stall, started)
}

/// Start a fresh output (with its header) and failed file, before any
/// request, so a bad path fails at once.
fn open_fresh(
    config: &ExportConfig,
    encoder: &dyn RowEncoder,
) -> Result<(Sink, FailedFile), UsageError> {
    let mut sink = Sink::create(&config.out, config.compression)
        .map_err(|e| UsageError::invalid(format!("{e:#}")))?;
    if let Some(path) = &config.failed {
        crate::output::check_creatable(path, "failed file")?;
    }
    let failed = FailedFile::new(config.failed.clone());
    let mut header = Vec::new();
    encoder.header(&mut header);
    sink.write(&header)
        .map_err(|e| UsageError::invalid(format!("cannot write the output: {e}")))?;
    Ok((sink, failed))
}

/// Open a file output: fresh, or resumed from its journal, as `--resume`,
/// `--restart` and what is on disk say. Also returns the query to send: the
/// interrupted run's, when a resume keeps its relative window.
fn open_file_output(
    config: &ExportConfig,
    out: &std::path::Path,
    ids: &IdList,
    encoder: &dyn RowEncoder,
) -> Result<(Written, Query), UsageError> {
    let usage = |e: anyhow::Error| UsageError::invalid(format!("{e:#}"));
    let journal_path = journal::journal_path(out);
    match pending::examine(config, out, ids)? {
        Pending::Resume { found, query } => {
            let cp = &found.checkpoint;
            let sink = Sink::resume(out, config.compression, cp.out_bytes).map_err(usage)?;
            let failed = FailedFile::resume(config.failed.clone(), cp.failed_bytes, cp.failed)
                .map_err(usage)?;
            let journal = Journal::resume(&journal_path, &found).map_err(usage)?;
            if query != config.query {
                tracing::info!(
                    "keeping the interrupted run's window ({}): start {:?}, end {:?}",
                    config.relative_window,
                    found.fingerprint.start_time,
                    found.fingerprint.end_time
                );
            }
            let written = Written::new(sink, failed, Some(journal), cp.clone());
            return Ok((written, query));
        }
        Pending::Discarded(what) => tracing::info!("{what}: starting afresh"),
        Pending::Nothing if config.resume == ResumeMode::Resume => {
            tracing::info!("nothing to resume for {}: starting afresh", out.display());
        }
        Pending::Nothing => {}
    }

    let (mut sink, failed) = open_fresh(config, encoder)?;
    let first = Checkpoint {
        out_bytes: sink
            .checkpoint()
            .map_err(|e| UsageError::invalid(format!("cannot write the output: {e}")))?,
        ..Checkpoint::default()
    };
    let fingerprint = Fingerprint::of(config, ids);
    let journal =
        Journal::create(&journal_path, &fingerprint, ids.len() as u64, &first).map_err(usage)?;
    Ok((
        Written::new(sink, failed, Some(journal), first),
        config.query.clone(),
    ))
}

/// First signal: drain and give in-flight requests [`GRACE_PERIOD`]; second
/// signal (or the grace running out): cancel them.
fn spawn_signal_watcher(ctx: Arc<Ctx>, mut shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let signal = shutdown.wait_for(1).await;
        ctx.control.stop(StopCause::Signal(signal), false);
        tracing::warn!(
            "stopping: letting requests in flight finish (up to {}s); press Ctrl-C again to stop at once",
            GRACE_PERIOD.as_secs()
        );
        tokio::select! {
            _ = shutdown.wait_for(2) => {}
            _ = tokio::time::sleep(GRACE_PERIOD) => {}
        }
        ctx.control.abort.cancel();
        // Cancelled requests end at once; only a writer blocked on an
        // output that accepts no more bytes (a stdout reader that stopped
        // reading) can still hold the run. After a second signal, do not
        // wait for it long: what is committed stays committed (the journal
        // is as consistent as after a kill -9), and the user asked twice.
        shutdown.wait_for(2).await;
        tokio::time::sleep(STUCK_WRITER_WAIT).await;
        tracing::error!(
            "the output still takes no data {}s after the second signal: exiting without \
             the summary (committed work is kept)",
            STUCK_WRITER_WAIT.as_secs()
        );
        std::process::exit(Exit::from(signal).code().into());
    })
}

/// How long the writer may take to finish once requests are cancelled.
const STUCK_WRITER_WAIT: Duration = Duration::from_secs(3);

fn finish(
    config: &ExportConfig,
    ctx: &Ctx,
    mut written: Written,
    resumed_from: usize,
    reorder_stall: Duration,
    started: Instant,
) -> Result<Report, RunError> {
    let total = ctx.ids.len();
    let stop = ctx.control.reason();
    let mut output_error = written.error.take();
    let mut complete = written.next == total && output_error.is_none();
    let mut output = None;
    let mut partial_output = None;
    let mut failed_file = None;
    let state = written.state.clone();

    if complete {
        // The failed file first: once the output is in place the run looks
        // done, so nothing that can still fail may come after it but the
        // journal's removal (a stale journal is recognised and discarded).
        match written.failed.commit() {
            Err(e) => {
                output_error = Some(e);
                complete = false;
            }
            Ok(failed) => match written.sink.commit() {
                Ok(()) => {
                    failed_file = failed.map(|p| p.display().to_string());
                    if let Target::File(p) = &config.out {
                        output = Some(p.display().to_string());
                    }
                    if let Some(journal) = written.journal.take() {
                        if let Err(e) = journal.remove() {
                            tracing::warn!("{e:#} (the next run discards it as stale)");
                        }
                    }
                }
                // stdout's reader went away as the run ended.
                Err(e) if written.reader_gone || is_broken_pipe(&e) => {
                    failed_file = failed.map(|p| p.display().to_string());
                }
                Err(e) => {
                    // Put the failed file back as the partial one the
                    // journal describes, so that --resume still fits.
                    if let Some(path) = &failed {
                        let _ = std::fs::rename(path, crate::config::append_ext(path, ".partial"));
                    }
                    if let Target::File(p) = &config.out {
                        let partial = crate::config::append_ext(p, ".partial");
                        if partial.exists() {
                            partial_output = Some(partial.display().to_string());
                        }
                    }
                    output_error = Some(e);
                    complete = false;
                }
            },
        }
    } else {
        // Keep what can be kept, even after an output error: the summary
        // below still tells monitoring how far the run got.
        let kept = if written.reader_gone {
            Ok(None)
        } else {
            written.sink.keep_partial()
        };
        match kept {
            Ok(p) => partial_output = p.map(|p| p.display().to_string()),
            // stdout's reader went away (`| head`) while the run stopped.
            Err(e) if is_broken_pipe(&e) => {}
            Err(e) => {
                output_error.get_or_insert(e);
            }
        }
        if let Err(e) = written.failed.keep_partial() {
            output_error.get_or_insert(e);
        }
    }

    let exit = if output_error.is_some() {
        Exit::OutputError
    } else if complete {
        if state.failed > 0 {
            Exit::SomeFailed
        } else {
            Exit::Success
        }
    } else {
        match stop {
            Some(StopCause::Api(_)) => Exit::StoppedByApi,
            Some(StopCause::Signal(signal)) => Exit::from(signal),
            Some(StopCause::OutputClosed) => Exit::Success,
            Some(StopCause::Output) | None => Exit::OutputError,
        }
    };
    let (status, stopped_because) = match (complete, stop) {
        (true, _) => ("complete", None),
        (false, _) if output_error.is_some() => ("stopped", Some("OutputError".into())),
        (false, Some(StopCause::Api(r))) => ("stopped", Some(format!("{r:?}"))),
        (false, Some(StopCause::Signal(s))) => ("interrupted", Some(format!("{s:?}"))),
        (false, Some(StopCause::OutputClosed)) => ("stopped", Some("OutputClosed".into())),
        (false, Some(StopCause::Output)) => ("stopped", Some("OutputError".into())),
        (false, None) => ("stopped", Some("Internal".into())),
    };
    let customers = Customers {
        total: total as u64,
        ok: state.ok,
        empty: state.empty,
        failed: state.failed,
        duplicate: ctx.ids.duplicates as u64,
        not_done: (total - written.next) as u64,
    };
    let summary = Summary {
        status: status.into(),
        exit_code: exit.code(),
        stopped_because: stopped_because.map(|s| to_snake(&s)),
        customers,
        resumed_from: resumed_from as u64,
        chats: state.chats,
        rows: state.rows,
        requests: ctx
            .stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        retries: ctx.stats.total_retries(),
        retries_by_cause: Summary::retries_by_cause(&ctx.stats),
        failed_by_kind: state.failed_by_kind,
        drift: state.drift,
        throttled_secs: ctx.limiter.throttled().as_secs_f64(),
        reorder_stall_secs: reorder_stall.as_secs_f64(),
        settled_rate: ctx.limiter.current_rate(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        output,
        partial_output,
        failed_file,
        resumable: !complete && matches!(config.out, Target::File(_)),
        shard: config.shard.map(|s| s.to_string()),
    };
    let written_summary = config.summary.as_ref().map(|path| {
        let json = serde_json::to_vec_pretty(&summary).expect("the summary serialises");
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the summary {}", path.display()))
    });
    if let Some(err) = output_error {
        if let Some(Err(e)) = written_summary {
            tracing::warn!("{e:#}");
        }
        return Err(RunError::Output(err));
    }
    if let Some(result) = written_summary {
        result.map_err(RunError::Output)?;
    }
    Ok(Report { summary, exit })
}

/// Whether an output error is stdout's reader going away.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}
