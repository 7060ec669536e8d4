//! The data-stack executables: `tap-yuju` speaks Singer ([`singer`]) and
//! `source-yuju` speaks Airbyte ([`airbyte`]). Both run the same export
//! engine as `export` — its concurrency, rate limiter, retries, drift
//! handling and redaction — with rows written as protocol records on
//! stdout and the progress as state messages ([`sync`]). What they share:
//! the JSON config ([`config`]), the stream of chat messages ([`stream`])
//! and its state ([`state`]), and the contact list's stream ([`contacts`]).

pub mod airbyte;
pub mod config;
pub mod contacts;
mod log;
pub mod singer;
pub mod state;
pub mod stream;

use std::sync::{Arc, Mutex};

use crate::config::ExportConfig;
use crate::error::{RunError, UsageError};
use crate::export::{Marks, PipelineHooks, Report};
use crate::shutdown::Shutdown;
use crate::store::input::{read_ids, Source};
use crate::store::journal::{Checkpoint, Fingerprint, Tally};
use config::PipelineConfig;
use state::{parse_instant, InProgress, StreamState};
use stream::{Framing, RecordEncoder};

/// Formats a state message line for the stream's state.
pub type StateLine = Arc<dyn Fn(&StreamState) -> Vec<u8> + Send + Sync>;

/// What one sync is asked to do.
pub struct SyncRequest {
    pub config: PipelineConfig,
    /// The stream's state from the last sync (default: a first sync).
    pub state: StreamState,
    /// The properties the catalog selects.
    pub selected: Vec<&'static str>,
    /// Ignore the bookmark: export from `start_date`.
    pub full_refresh: bool,
    pub framing: Framing,
    /// Formats a state message line for the stream's state.
    pub state_line: StateLine,
}

/// How a sync ended.
pub struct Synced {
    /// The export's report; `None` when there was nothing to export.
    pub report: Option<Report>,
    /// The state to hand the next sync (already written as the last
    /// state message).
    pub state: StreamState,
}

/// The window a sync exports, and where in it the sync starts.
pub(crate) struct Plan {
    pub(crate) start: String,
    pub(crate) end: Option<String>,
    /// The interrupted window's progress, if this sync continues it.
    pub(crate) resume: Option<InProgress>,
}

/// Run one sync: the export of the window the state calls for, its
/// records and state messages on stdout, and the final state.
pub async fn sync(request: SyncRequest, mut shutdown: Shutdown) -> Result<Synced, RunError> {
    let plan = plan(&request)?;
    let mut config = export_config(&request.config, &plan)?;
    let started = std::time::Instant::now();
    let ids = if config.files.ids == Source::Contacts {
        crate::export::contact_list::ids_for_run(&mut config, &mut shutdown).await?
    } else {
        let ids = read_ids(&config.files.ids)?;
        crate::store::input::require_ids(&ids, &config.files.ids, config.allow_empty)?;
        ids
    };
    let fingerprint = Fingerprint::of(&config, &ids);
    let had_resume = plan.resume.is_some();
    let resume = plan
        .resume
        .filter(|p| p.ids == fingerprint.ids && p.query == fingerprint.query);
    if had_resume && resume.is_none() {
        tracing::warn!(
            "the state's interrupted window was made from other customers or filters: it is \
             exported again from its first customer"
        );
    }
    let zone = config.zone;
    let instant = |t: Option<chrono::NaiveDateTime>| {
        t.map(|t| crate::store::state::rfc3339(zone.instant(t)))
            .unwrap_or_default()
    };
    let (window_start, window_end) = (instant(config.query.start), instant(config.query.end));
    let bookmark = request.state.window_end.clone();
    let marks = Arc::new(StateMarks {
        bookmark: bookmark.clone(),
        window_start: window_start.clone(),
        window_end: window_end.clone(),
        ids: fingerprint.ids.clone(),
        query: fingerprint.query.clone(),
        line: request.state_line.clone(),
        last: Mutex::new(None),
    });
    let start = resume.as_ref().map_or_else(Checkpoint::default, resumed_at);
    let extracted = chrono::Utc::now();
    let hooks = PipelineHooks {
        encoder: Arc::new(RecordEncoder::new(
            request.framing,
            &request.selected,
            &window_start,
            &window_end,
            extracted,
        )),
        marks: marks.clone(),
        start,
    };
    let source = crate::export::chat_records(config.mask.clone(), config.pseudonym.clone());
    let report =
        crate::export::run_with(config, source, ids, shutdown, started, Some(hooks)).await?;
    let last = marks.last.lock().expect("marks lock").clone();
    let state = final_state(&report, window_end, bookmark, last.unwrap_or(request.state));
    let mut report = report;
    if let Err(e) = write_lines(&(request.state_line)(&state)) {
        // The records are out; the state that would move the bookmark is
        // not: the next sync exports the window again.
        report
            .error
            .get_or_insert(anyhow::anyhow!("cannot write the last state message: {e}"));
        report.exit = crate::error::Exit::OutputError;
    }
    Ok(Synced {
        report: Some(report),
        state,
    })
}

/// Where an interrupted window's run stands, as the state recorded it.
fn resumed_at(progress: &InProgress) -> Checkpoint {
    Checkpoint {
        next: progress.committed,
        tally: Tally {
            failed_not_definitive: progress.failed_not_definitive,
            ..Tally::default()
        },
        ..Checkpoint::default()
    }
}

/// The state after a sync that ended in `report`: the bookmark at the
/// window's end when the window is done; kept, with no window in
/// progress, when every customer was done but some failed for a reason a
/// later run may not meet (the whole window is exported again); and
/// otherwise the `last` state message, which covers what was committed.
fn final_state(
    report: &Report,
    window_end: String,
    bookmark: Option<String>,
    last: StreamState,
) -> StreamState {
    if report.window_done {
        StreamState {
            window_end: Some(window_end),
            in_progress: None,
        }
    } else if report.summary.customers.not_done == 0 {
        StreamState {
            window_end: bookmark,
            in_progress: None,
        }
    } else {
        last
    }
}

/// One protocol message as the line it is written as: compact JSON, line
/// separators escaped (see [`stream::escape_line_separators`]), a newline.
pub fn message_line(message: &serde_json::Value) -> Vec<u8> {
    let mut line = message.to_string().into_bytes();
    stream::escape_line_separators(&mut line, 0);
    line.push(b'\n');
    line
}

/// Write whole lines on stdout, under its lock (the writer of records and
/// the log may be writing there too).
pub fn write_lines(lines: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(lines)?;
    out.flush()
}

/// A sync's exit code: a complete sync whose only failures are the
/// platform's final answers (a few unknown customers) succeeds, since its
/// bookmark moved as `--state` does and its failures are logged; an
/// orchestrator that marks a sync failed would otherwise retry every
/// night for customers that will never answer.
pub fn sync_exit(report: &Report) -> crate::error::Exit {
    use crate::error::Exit;
    match report.exit {
        Exit::SomeFailed if report.window_done => Exit::Success,
        exit => exit,
    }
}

/// A pipeline operator's words: the config's keys; failed customers are
/// logged, not listed in a file.
struct ConfigKeys;

impl crate::app::explain::Vocabulary for ConfigKeys {
    fn setting(&self, field: &str, value: &str) -> String {
        format!("{field}: {value}")
    }

    fn lists_failures(&self) -> bool {
        false
    }
}

/// Run `request` on a runtime of its own, stopped by SIGINT or SIGTERM as
/// `export` is: the report, if there was a window to export.
pub fn run_sync(request: SyncRequest) -> Result<Option<Report>, RunError> {
    let runtime = crate::shutdown::runtime();
    let synced = runtime.block_on(async {
        let shutdown = Shutdown::from_signals()
            .map_err(|e| UsageError::invalid(format!("cannot install signal handlers: {e}")))?;
        sync(request, shutdown).await
    });
    runtime.shutdown_background();
    let report = synced?.report;
    if let Some(report) = &report {
        crate::app::explain::explain(report, &ConfigKeys);
    }
    Ok(report)
}

/// The window from the state and the config.
fn plan(request: &SyncRequest) -> Result<Plan, UsageError> {
    let config = &request.config;
    let end = config.end_date.clone();
    if !request.full_refresh {
        if let Some(p) = &request.state.in_progress {
            parse_instant(&p.window_start, "the state's window_start")?;
            parse_instant(&p.window_end, "the state's window_end")?;
            return Ok(Plan {
                start: p.window_start.clone(),
                end: Some(p.window_end.clone()),
                resume: Some(p.clone()),
            });
        }
        if let Some(bookmark) = &request.state.window_end {
            let at = parse_instant(bookmark, "the state's window_end")?;
            let back = chrono::Duration::from_std(config.lookback()?)
                .map_err(|_| UsageError::invalid("lookback is too long"))?;
            let start = at - back;
            return Ok(Plan {
                start: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                end: end.or_else(|| Some("now".into())),
                resume: None,
            });
        }
    }
    let start = config.start_date.clone().ok_or_else(|| {
        UsageError::invalid("the config has no start_date: the first sync's window starts there")
    })?;
    Ok(Plan {
        start,
        end: end.or_else(|| Some("now".into())),
        resume: None,
    })
}

/// The export's validated settings for the plan's window.
pub(crate) fn export_config(
    config: &PipelineConfig,
    plan: &Plan,
) -> Result<ExportConfig, UsageError> {
    let mut options = config.options(&plan.start, plan.end.as_deref())?;
    if config.customer_ids.is_some() {
        // Replaced below; the file plan needs a source.
        options.ids = Some("-".into());
    }
    let key = config.api_key.clone();
    let mut export = ExportConfig::from_options(options, |name| {
        (name == "YUJU_API_KEY").then(|| key.clone()).flatten()
    })?;
    if let Some(ids) = &config.customer_ids {
        export.files.ids = Source::Inline(ids.join("\n"));
    }
    Ok(export)
}

/// The state messages written after the rows they cover.
struct StateMarks {
    bookmark: Option<String>,
    window_start: String,
    window_end: String,
    ids: String,
    query: String,
    line: StateLine,
    /// The last state written, for a sync that stops.
    last: Mutex<Option<StreamState>>,
}

impl Marks for StateMarks {
    fn line(&self, committed: u64, tally: &Tally) -> Vec<u8> {
        let state = StreamState {
            window_end: self.bookmark.clone(),
            in_progress: Some(InProgress {
                window_start: self.window_start.clone(),
                window_end: self.window_end.clone(),
                ids: self.ids.clone(),
                query: self.query.clone(),
                committed,
                failed_not_definitive: tally.failed_not_definitive,
            }),
        };
        let line = (self.line)(&state);
        *self.last.lock().expect("marks lock") = Some(state);
        line
    }
}
