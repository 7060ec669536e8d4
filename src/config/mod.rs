//! The validated settings of one export run.
//!
//! [`ExportConfig::from_options`] takes the settings as the layers give them
//! (see [`crate::config::options`]) and checks them against each other, once.
//! Nothing downstream re-checks a flag. Each job has a file: the time
//! window and the state ([`window`]), the file plan ([`files`]), the
//! format and layout ([`format`]), the key ([`key`]), the numeric limits
//! ([`limits`]) and the API's address ([`network`]).

mod contacts;
mod files;
mod format;
mod key;
pub mod limits;
mod network;
pub mod options;
pub mod shard;
pub mod template;
#[cfg(test)]
mod tests;
mod window;

pub use files::FilePlan;
pub use limits::{Limit, LIMITS};

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::client::ClientSettings;
use crate::api::codes::CodePolicy;
use crate::api::endpoint::ApiKey;
use crate::api::query::{Query, Zone};
use crate::config::options::ExportOptions;
use crate::config::shard::Shard;
use crate::console::logging::LogSettings;
use crate::console::progress::ProgressMode;
use crate::error::UsageError;
use crate::output::{Compression, Format, Target};
use crate::pace::retry::RetryPolicy;
use crate::record::{Column, Table};
use crate::store::input::Source;
use crate::store::safefs::FileMode;
use crate::store::state::StateSettings;

pub use contacts::{ContactsPlan, ListFacts};
use window::TimeWindow;

/// What to do with an interrupted run of the same output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Refuse to start (exit 2), naming --resume and --restart.
    Refuse,
    /// Continue it (or start afresh when there is none).
    Resume,
    /// Discard it and start afresh.
    Restart,
}

/// Everything one export run needs, validated.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Which path plays which role: the IDs, the output, the failed file,
    /// the summary, the state and the metrics, checked once.
    pub files: FilePlan,
    /// Row format.
    pub format: Format,
    /// Compression of the output.
    pub compression: Compression,
    /// What to do with an interrupted run of the same output.
    pub resume: ResumeMode,
    /// Base URL of the API, without the endpoint path.
    pub base_url: reqwest::Url,
    /// The secret key, sent as the `apiKey` query parameter.
    pub api_key: ApiKey,
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Timeouts, the connection pool, the answer size limit and extra
    /// root certificates, as the HTTP client takes them.
    pub client: ClientSettings,
    /// Fixed cap on requests per second; `None` = adaptive only.
    pub rate: Option<f64>,
    /// Backoff, retry budget and Retry-After limits.
    pub retry: RetryPolicy,
    /// How a non-2000 `Code` is judged: the declared codes.
    pub codes: CodePolicy,
    /// The API's window and filters.
    pub query: Query,
    /// Columns to write, in order.
    pub columns: Vec<Column>,
    /// `--mask`: the classes of personal data rewritten in message text.
    pub mask: Option<crate::record::mask::Masker>,
    /// `--pseudonymize`: customer IDs written as keyed pseudonyms.
    pub pseudonym: Option<crate::record::pseudonym::Pseudonymizer>,
    /// The `--state` file and what it recorded: where the window starts.
    pub state: Option<StateSettings>,
    /// Permission bits of the files the run creates.
    pub file_mode: FileMode,
    /// Warnings found while validating, logged once logging is set up.
    pub notices: Vec<String>,
    /// Whether to draw the progress bar.
    pub progress: ProgressMode,
    /// How often a progress line is logged when no bar is drawn.
    pub progress_interval: Duration,
    /// Only this shard of the IDs.
    pub shard: Option<Shard>,
    /// Print the plan, make no request.
    pub dry_run: bool,
    /// A `--state` run whose last completed window ends at or after
    /// `--end`: nothing to export (why, in words).
    pub up_to_date: Option<String>,
    /// Take an empty ID list as a run of nothing, not an error.
    pub allow_empty: bool,
    /// CSV: start with a UTF-8 BOM.
    pub csv_bom: bool,
    /// CSV: neutralise formula-like cells.
    pub csv_formula_guard: bool,
    /// Parquet: most rows in one row group.
    pub parquet_row_group_rows: u64,
    /// Zone of relative times.
    pub zone: Zone,
    /// The relative `--start`/`--end` values as given (`start="-24h" in
    /// Asia/Shanghai`), empty when both are absolute or unused: a resumed
    /// run with the same expressions keeps the interrupted run's window.
    pub relative_window: String,
    /// Whether `--start` and `--end` were relative: only those bounds are
    /// taken from an interrupted run on resume.
    pub relative_bounds: (bool, bool),
    /// Log settings.
    pub log: LogSettings,
    /// What the run writes rows of: the chat records, or the contact list.
    pub table: Table,
    /// The contact list's filters and guards (`--all-contacts`, and the
    /// `contacts` command).
    pub contacts: ContactsPlan,
}

impl ExportConfig {
    /// Layer and validate the settings `given` on the command line. `env`
    /// looks up environment variables (injected so tests need not touch
    /// the process environment).
    pub fn from_options(
        given: ExportOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        Self::build(given, env, None, Table::Chats)
    }

    /// The settings of the `contacts` command: `export`'s, less those
    /// that have no meaning for the contact list (refused on its command
    /// line, ignored in a shared `--config` file).
    pub fn for_contacts(
        given: ExportOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        contacts::refuse_chat_settings(&given)?;
        Self::build(given, env, None, Table::Contacts)
    }

    /// The settings of the window after this run's, for a `--state` run
    /// that resumed an interrupted window and goes on up to `--end`: the
    /// same `given` settings, validated again (the state file now says
    /// where the window starts, and the templates name its own files),
    /// with the key this run read (a key file may have been stdin).
    pub fn next_window(
        &self,
        given: ExportOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        Self::build(given, env, Some(self.api_key.clone()), self.table)
    }

    fn build(
        given: ExportOptions,
        env: impl Fn(&str) -> Option<String>,
        known_key: Option<ApiKey>,
        table: Table,
    ) -> Result<Self, UsageError> {
        // The key's precedence has the environment between the layers:
        // --api-key-file on the command line, then YUJU_API_KEY, then the
        // file's api-key-file.
        let key_file_flag = given.api_key_file.clone();
        let o = layered_for(given, table)?;
        let shard = o
            .shard
            .as_deref()
            .map(|s| Shard::parse(s, &env))
            .transpose()?;
        let state = window::state_settings(&o, shard)?;
        let window = TimeWindow::resolve(&o, state.as_ref())?;
        let vars = template::Vars {
            today: window.now.date(),
            start: window.query.start,
            end: window.query.end,
            shard,
        };
        let files = FilePlan::resolve(&o, &vars, state.as_ref())?;
        let (format, compression) = format::output_format(&o, &files.out)?;
        let resume = resume_mode(&o, &files.out)?;
        let base_url = network::base_url(&o)?;
        let mut notices: Vec<String> = fixed_out_notice(&o, &files, state.is_some())
            .into_iter()
            .collect();
        let api_key = match known_key {
            Some(key) => key,
            None => read_key(&files, key_file_flag.as_deref(), &o, &env, &mut notices)?,
        };
        let Pacing {
            concurrency,
            rate,
            client,
            retry,
            codes,
        } = pacing(&o)?;
        let (columns, parquet_row_group_rows) = format::layout(&o, format, table)?;

        Ok(ExportConfig {
            files,
            format,
            compression,
            resume,
            base_url,
            api_key,
            concurrency,
            client,
            rate,
            retry,
            codes,
            query: window.query,
            columns,
            mask: mask(&o)?,
            pseudonym: pseudonym(&o)?,
            state,
            file_mode: file_mode(&o)?,
            notices,
            progress: o.progress.unwrap_or_else(|| defaulted("progress")),
            progress_interval: limits::progress_interval(&o)?,
            log: log_settings(&o),
            shard,
            dry_run: o.dry_run,
            up_to_date: window.up_to_date,
            allow_empty: o.allow_empty,
            csv_bom: o.csv_bom,
            csv_formula_guard: o.csv_formula_guard,
            parquet_row_group_rows,
            zone: window.zone,
            relative_window: window.relative,
            relative_bounds: window.relative_bounds,
            table,
            contacts: contacts::plan(&o, table)?,
        })
    }

    /// The partial file rows are written to before the final rename.
    pub fn partial_path(&self) -> Option<PathBuf> {
        self.files.out.file().map(crate::store::paths::partial)
    }
}

/// The settings of a run writing `table`, layered: the contact list's
/// with the chats' settings back at their defaults.
fn layered_for(given: ExportOptions, table: Table) -> Result<ExportOptions, UsageError> {
    let mut o = given.layered()?;
    if table == Table::Contacts {
        o = o.without_chat_settings();
        o.all_contacts = true;
    }
    Ok(o)
}

fn log_settings(o: &ExportOptions) -> LogSettings {
    LogSettings {
        verbosity: if o.quiet { -1 } else { o.verbose.min(2) as i8 },
        format: o.log_format.unwrap_or_else(|| defaulted("log_format")),
    }
}

/// A `--state` run whose `--out` names no `{start}` writes every window
/// to one file, each run replacing the last one's export: said as a
/// warning (in the run and in `--dry-run`).
fn fixed_out_notice(o: &ExportOptions, files: &FilePlan, state: bool) -> Option<String> {
    let out = files.out.file().filter(|_| state)?;
    let named = o
        .out
        .as_deref()
        .and_then(|p| p.to_str())
        .unwrap_or_default();
    (!named.contains("{start}")).then(|| {
        format!(
            "--state with --out {}: every window is written to that one file, so each run \
             replaces the last one's export; name it after the window, such as --out \
             'chats-{{start}}.parquet'",
            out.display()
        )
    })
}

/// The key, by its precedence (see [`key::api_key`]); `--ids -` and
/// `--api-key-file -` cannot both read stdin.
fn read_key(
    files: &FilePlan,
    flag: Option<&Path>,
    o: &ExportOptions,
    env: impl Fn(&str) -> Option<String>,
    notices: &mut Vec<String>,
) -> Result<ApiKey, UsageError> {
    if files.ids == Source::Stdin && flag == Some(Path::new("-")) {
        return Err(UsageError::invalid(
            "--ids - and --api-key-file - cannot both read stdin",
        ));
    }
    key::api_key(flag, o.api_key_file.as_deref(), env, notices)
}

/// How fast, how patiently and how much the run asks: the settings of the
/// pace, the retries, the code classes and the HTTP client.
struct Pacing {
    concurrency: usize,
    rate: Option<f64>,
    client: ClientSettings,
    retry: RetryPolicy,
    codes: CodePolicy,
}

fn pacing(o: &ExportOptions) -> Result<Pacing, UsageError> {
    let (concurrency, rate) = limits::pace(o)?;
    let (timeout, connect_timeout, retry) = limits::timing(o)?;
    let codes = CodePolicy::new(&o.definitive_codes, &o.transient_codes)
        .map_err(|e| UsageError::invalid(format!("--definitive-codes / --transient-codes: {e}")))?;
    let client = ClientSettings {
        timeout,
        connect_timeout,
        pool_size: concurrency,
        max_response_bytes: o
            .max_response_bytes
            .unwrap_or_else(|| defaulted("max_response_bytes"))
            .0,
        ca_cert: o.ca_cert.clone(),
    };
    Ok(Pacing {
        concurrency,
        rate,
        client,
        retry,
        codes,
    })
}

/// `--mask` and `--mask-style`.
fn mask(o: &ExportOptions) -> Result<Option<crate::record::mask::Masker>, UsageError> {
    match (&o.mask, o.mask_style) {
        (Some(list), style) => crate::record::mask::Masker::parse(list, style.unwrap_or_default())
            .map(Some)
            .map_err(UsageError::invalid),
        (None, Some(_)) => Err(UsageError::invalid(
            "--mask-style needs --mask: name the classes to mask (or pii)",
        )),
        (None, None) => Ok(None),
    }
}

/// `--pseudonymize` and its key file.
fn pseudonym(
    o: &ExportOptions,
) -> Result<Option<crate::record::pseudonym::Pseudonymizer>, UsageError> {
    match (o.pseudonymize, &o.pseudonym_key_file) {
        (true, Some(path)) => crate::record::pseudonym::Pseudonymizer::from_file(path).map(Some),
        (true, None) => Err(UsageError::invalid(
            "--pseudonymize needs --pseudonym-key-file PATH: the key of the pseudonyms",
        )),
        (false, Some(_)) => Err(UsageError::invalid(
            "--pseudonym-key-file is the key of --pseudonymize: pass both, or neither",
        )),
        (false, None) => Ok(None),
    }
}

fn file_mode(o: &ExportOptions) -> Result<FileMode, UsageError> {
    FileMode::parse(
        o.file_mode
            .as_deref()
            .unwrap_or_else(|| defaulted("file_mode")),
    )
    .map_err(|e| UsageError::invalid(format!("--file-mode {e}")))
}

fn resume_mode(o: &ExportOptions, out: &Target) -> Result<ResumeMode, UsageError> {
    let resume = match (o.resume, o.restart) {
        (true, true) => {
            return Err(UsageError::invalid(
                "--resume and --restart exclude each other",
            ))
        }
        (true, false) => ResumeMode::Resume,
        (false, true) => ResumeMode::Restart,
        (false, false) => ResumeMode::Refuse,
    };
    if resume == ResumeMode::Resume && out.file().is_none() {
        return Err(UsageError::invalid(
            "--resume needs --out FILE: a run to stdout, a device, a FIFO or a socket \
             keeps no journal",
        ));
    }
    Ok(resume)
}

/// A setting that [`ExportOptions::defaults`] always gives.
fn defaulted(name: &str) -> ! {
    panic!("the setting {name} has a default")
}
