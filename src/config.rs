//! The validated settings of one export run.
//!
//! [`ExportConfig::from_options`] takes the settings as the layers give them
//! (see [`crate::options`]) and checks them against each other, once.
//! Nothing downstream re-checks a flag.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::codes::CodePolicy;
use crate::api::endpoint::{parse_base_url, ApiKey};
use crate::error::UsageError;
use crate::input::Source;
use crate::logging::LogSettings;
use crate::options::ExportOptions;
use crate::output::{Column, Compression, Format, Target};
use crate::progress::ProgressMode;
use crate::query::{is_relative, parse_time, Query, Zone};
use crate::retry::RetryPolicy;
use crate::safefs::{self, FileMode};
use crate::shard::Shard;
use crate::state::StateSettings;
use crate::template;

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
    /// Customer IDs to export.
    pub ids: Source,
    /// Where the rows go.
    pub out: Target,
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
    /// Timeout of one whole request (connect, send, receive the body).
    pub timeout: Duration,
    /// Timeout of establishing one connection.
    pub connect_timeout: Duration,
    /// Largest answer accepted, decompressed.
    pub max_response_bytes: u64,
    /// Extra root certificates (PEM).
    pub ca_cert: Option<PathBuf>,
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
    /// Failed-customers file; `None` = not written.
    pub failed: Option<PathBuf>,
    /// Summary JSON file.
    pub summary: Option<PathBuf>,
    /// The `--state` file and what it recorded: where the window starts.
    pub state: Option<StateSettings>,
    /// Prometheus textfile written at the end of the run.
    pub metrics: Option<PathBuf>,
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
}

/// Bounds of `--rate`, requests per second: slower than one a minute is
/// a mistake, and the pacing arithmetic stays far from overflow.
const MIN_RATE: f64 = 1.0 / 60.0;
const MAX_RATE: f64 = 100_000.0;

impl ExportConfig {
    /// Layer and validate the settings `given` on the command line. `env`
    /// looks up environment variables (injected so tests need not touch
    /// the process environment).
    pub fn from_options(
        given: ExportOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        // The key's precedence has the environment between the layers:
        // --api-key-file on the command line, then YUJU_API_KEY, then the
        // file's api-key-file.
        let key_file_flag = given.api_key_file.clone();
        let o = given.layered()?;

        let shard = o
            .shard
            .as_deref()
            .map(|s| Shard::parse(s, &env))
            .transpose()?;
        let state = state_settings(&o, shard)?;
        let window = Window::resolve(&o, state.as_ref())?;
        let vars = template::Vars {
            today: window.now.date(),
            start: window.query.start,
            end: window.query.end,
            shard,
        };
        let files = Files::resolve(&o, &vars, state.as_ref())?;
        if files.ids == Source::Stdin && key_file_flag.as_deref() == Some(Path::new("-")) {
            return Err(UsageError::invalid(
                "--ids - and --api-key-file - cannot both read stdin",
            ));
        }
        let (format, compression) = output_format(&o, &files.out)?;
        let resume = resume_mode(&o, &files.out)?;
        let base_url = base_url(&o)?;
        let mut notices = Vec::new();
        let api_key = api_key(
            key_file_flag.as_deref(),
            o.api_key_file.as_deref(),
            &env,
            &mut notices,
        )?;
        let (concurrency, rate) = pace(&o)?;
        let (timeout, connect_timeout, retry) = timing(&o)?;
        let codes = CodePolicy::new(&o.definitive_codes, &o.transient_codes).map_err(|e| {
            UsageError::invalid(format!("--definitive-codes / --transient-codes: {e}"))
        })?;
        let file_mode = FileMode::parse(
            o.file_mode
                .as_deref()
                .unwrap_or_else(|| defaulted("file_mode")),
        )
        .map_err(|e| UsageError::invalid(format!("--file-mode {e}")))?;
        let (columns, parquet_row_group_rows) = layout(&o, format)?;

        Ok(ExportConfig {
            ids: files.ids,
            out: files.out,
            format,
            compression,
            resume,
            base_url,
            api_key,
            concurrency,
            timeout,
            connect_timeout,
            max_response_bytes: o
                .max_response_bytes
                .unwrap_or_else(|| defaulted("max_response_bytes"))
                .0,
            ca_cert: o.ca_cert.clone(),
            rate,
            retry,
            codes,
            query: window.query,
            columns,
            failed: files.failed,
            summary: files.summary,
            state,
            metrics: files.metrics,
            file_mode,
            notices,
            progress: o.progress.unwrap_or_else(|| defaulted("progress")),
            progress_interval: progress_interval(&o)?,
            log: LogSettings {
                verbosity: if o.quiet { -1 } else { o.verbose.min(2) as i8 },
                format: o.log_format.unwrap_or_else(|| defaulted("log_format")),
            },
            shard,
            dry_run: o.dry_run,
            csv_bom: o.csv_bom,
            csv_formula_guard: o.csv_formula_guard,
            parquet_row_group_rows,
            zone: window.zone,
            relative_window: window.relative,
            relative_bounds: window.relative_bounds,
        })
    }

    /// The partial file rows are written to before the final rename.
    pub fn partial_path(&self) -> Option<PathBuf> {
        self.out.file().map(crate::paths::partial)
    }
}

/// `--base-url`, checked; plain http only to this machine unless allowed.
fn base_url(o: &ExportOptions) -> Result<reqwest::Url, UsageError> {
    let url = parse_base_url(
        o.base_url
            .as_deref()
            .unwrap_or_else(|| defaulted("base_url")),
    )?;
    if url.scheme() == "http" && !is_loopback(&url) && !o.allow_insecure_http {
        return Err(UsageError::invalid(format!(
            "--base-url {}: plain http to a host other than this machine would send the \
             API key in clear text; use https, or pass --allow-insecure-http",
            crate::api::endpoint::origin(&url)
        )));
    }
    Ok(url)
}

/// The columns, the Parquet row-group size, and the format-only options
/// checked against `format`.
fn layout(o: &ExportOptions, format: Format) -> Result<(Vec<Column>, u64), UsageError> {
    let columns = match o.columns.as_deref() {
        Some(list) => Column::parse_list(list).map_err(UsageError::invalid)?,
        None => Column::ALL.to_vec(),
    };
    let group_rows = o
        .parquet_row_group_rows
        .unwrap_or_else(|| defaulted("parquet_row_group_rows"));
    if !(1..=1 << 20).contains(&group_rows) {
        return Err(UsageError::invalid(format!(
            "--parquet-row-group-rows {group_rows}: choose from 1 to 1048576"
        )));
    }
    if (o.csv_bom || o.csv_formula_guard) && format != Format::Csv {
        return Err(UsageError::invalid(
            "--csv-bom and --csv-formula-guard apply to CSV output only",
        ));
    }
    Ok((columns, group_rows))
}

/// Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A setting that [`ExportOptions::defaults`] always gives.
fn defaulted(name: &str) -> ! {
    panic!("the setting {name} has a default")
}

/// The time window and filters the API is asked for.
struct Window {
    query: Query,
    zone: Zone,
    /// Now, on the wall clock of `zone`.
    now: chrono::NaiveDateTime,
    /// The relative `--start`/`--end` as given (see the config field).
    relative: String,
    relative_bounds: (bool, bool),
}

impl Window {
    fn resolve(o: &ExportOptions, state: Option<&StateSettings>) -> Result<Window, UsageError> {
        let name = o.tz.as_deref().unwrap_or_else(|| defaulted("tz"));
        let zone = Zone::parse(name).map_err(|e| UsageError::invalid(format!("--tz: {e}")))?;
        let now = zone.wall(chrono::Utc::now());
        let from_state = match state {
            Some(state) => state.start(zone)?,
            None => None,
        };
        // The state's start replaces --start; --end defaults to now.
        let start_spec = o.start.as_deref().filter(|_| from_state.is_none());
        let end_spec = o.end.as_deref().or(state.map(|_| "now"));
        // --start is checked even when the state replaces it: a typo in a
        // crontab shows the first night, not when the state is lost.
        let given_start = pick_time(o.start.as_deref(), "--start", zone, now)?;
        let start = from_state.or(given_start);
        let end = pick_time(end_spec, "--end", zone, now)?;
        if let Some(state) = state {
            check_state_window(o, state, start, end)?;
        }
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(UsageError::invalid(format!(
                    "--start ({s}) is after --end ({e}): the window is empty"
                )));
            }
        }
        // Relative bounds, as given: a resume keeps what they resolved to.
        // A --state run's end always counts as relative: a resume keeps
        // the interrupted run's window, whatever --end says this time.
        let start_relative = start_spec.filter(|s| is_relative(s));
        let end_relative = end_spec.filter(|s| is_relative(s) || state.is_some());
        let mut relative = Vec::new();
        if let Some(s) = start_relative {
            relative.push(format!("start={:?}", s.trim()));
        }
        match (state, end_relative) {
            (Some(_), _) => relative.push("end=<the interrupted --state run's>".to_string()),
            (None, Some(s)) => relative.push(format!("end={:?}", s.trim())),
            (None, None) => {}
        }
        let relative = if relative.is_empty() {
            String::new()
        } else {
            format!("{} in {}", relative.join(" "), zone.name())
        };
        let days = match o.days {
            Some(0) => return Err(UsageError::invalid("--days must be at least 1")),
            Some(d) => Some(d),
            None if start.is_none() && end.is_none() => Some(30),
            None => None,
        };
        Ok(Window {
            query: Query {
                days,
                start,
                end,
                chat_source: o.chat_source.clone(),
                chat_robot: o.chat_robot.clone(),
                seat_member: o.seat_member.clone(),
            },
            zone,
            now,
            relative,
            relative_bounds: (start_relative.is_some(), end_relative.is_some()),
        })
    }
}

/// `--state` and `--lookback`: the state path (which may hold `{shard}`
/// only) and what the file recorded.
fn state_settings(
    o: &ExportOptions,
    shard: Option<Shard>,
) -> Result<Option<StateSettings>, UsageError> {
    let lookback = o.lookback.map(|d| d.0);
    let Some(path) = &o.state else {
        if lookback.is_some() {
            return Err(UsageError::invalid(
                "--lookback needs --state: it moves back the start the state file records",
            ));
        }
        return Ok(None);
    };
    let path = template::expand_fixed(path, "--state", shard)?;
    StateSettings::load(path, lookback.unwrap_or_default()).map(Some)
}

/// The window of a `--state` run: no `--days`; a start from the file or,
/// on the first run, from `--start`; an end after the start.
fn check_state_window(
    o: &ExportOptions,
    state: &StateSettings,
    start: Option<chrono::NaiveDateTime>,
    end: Option<chrono::NaiveDateTime>,
) -> Result<(), UsageError> {
    if o.days.is_some() {
        return Err(UsageError::invalid(
            "--days cannot be used with --state: the state file sets where the window \
             starts; --end closes it (default: now)",
        ));
    }
    let Some(start) = start else {
        return Err(UsageError::invalid(format!(
            "the state file {} does not exist yet: pass --start for the first run's window \
             (later runs start where the last completed one ended)",
            state.path.display()
        )));
    };
    match end {
        Some(end) if start >= end && state.recorded.is_some() => Err(UsageError::invalid(format!(
            "nothing to export: the window would start at {start} ({}) and --end is {end}",
            state.start_origin()
        ))),
        _ => Ok(()),
    }
}

/// The files a run reads and writes, templates expanded.
struct Files {
    ids: Source,
    out: Target,
    failed: Option<PathBuf>,
    summary: Option<PathBuf>,
    state: Option<PathBuf>,
    metrics: Option<PathBuf>,
}

impl Files {
    fn resolve(
        o: &ExportOptions,
        vars: &template::Vars,
        state: Option<&StateSettings>,
    ) -> Result<Files, UsageError> {
        let expand = |p: Option<PathBuf>, flag: &str| -> Result<Option<PathBuf>, UsageError> {
            match p {
                Some(p) if p.as_os_str() != "-" => template::expand(&p, flag, vars).map(Some),
                other => Ok(other),
            }
        };
        let ids = match o.ids.clone() {
            Some(p) if p.as_os_str() == "-" => Source::Stdin,
            Some(p) => Source::File(p),
            None => {
                return Err(UsageError::invalid(
                    "--ids is required: a file of customer IDs, or - for stdin",
                ))
            }
        };
        let out = match expand(o.out.clone(), "--out")? {
            Some(p) if p.as_os_str() == "-" => Target::Stdout,
            Some(p) => Target::of_path(p)?,
            None => {
                return Err(UsageError::invalid(
                    "--out is required: the output file, or - for stdout",
                ))
            }
        };
        let failed = match expand(o.failed.clone(), "--failed")? {
            Some(p) => Some(p),
            None => out.file().map(crate::paths::default_failed),
        };
        let summary = expand(o.summary.clone(), "--summary")?;
        let metrics = o
            .metrics
            .as_deref()
            .map(|p| template::expand_fixed(p, "--metrics", vars.shard))
            .transpose()?;
        let files = Files {
            ids,
            out,
            failed,
            summary,
            state: state.map(|s| s.path.clone()),
            metrics,
        };
        files.check()?;
        Ok(files)
    }

    /// Every file the run reads or writes, by role.
    fn roles(&self) -> Vec<(String, PathBuf)> {
        let mut all = Vec::new();
        if let Source::File(p) = &self.ids {
            all.push(("--ids".to_string(), p.clone()));
        }
        if let Some(out) = self.out.file() {
            all.push(("--out".into(), out.to_path_buf()));
            all.push(("the partial output".into(), crate::paths::partial(out)));
            all.push(("the journal".into(), crate::paths::journal(out)));
            all.push(("the output's lock".into(), crate::paths::lock(out)));
            all.push((
                "the staged rows (Parquet)".into(),
                crate::paths::staged(out),
            ));
        }
        if let Some(f) = &self.failed {
            all.push(("--failed".into(), f.clone()));
            all.push(("the partial failed file".into(), crate::paths::partial(f)));
            all.push(("the failed file's lock".into(), crate::paths::lock(f)));
        }
        if let Some(s) = &self.summary {
            all.push(("--summary".into(), s.clone()));
            all.push(("the summary's lock".into(), crate::paths::lock(s)));
        }
        if let Some(s) = &self.state {
            all.push(("--state".into(), s.clone()));
            all.push(("the state file's lock".into(), crate::paths::lock(s)));
        }
        if let Some(m) = &self.metrics {
            all.push(("--metrics".into(), m.clone()));
            all.push(("the metrics file's lock".into(), crate::paths::lock(m)));
        }
        all
    }

    /// No two roles may name one file (compared after resolving their
    /// directories and links), and no file the run writes may be a link
    /// or anything but a regular file (`--out` itself excepted: see
    /// [`Target::of_path`]).
    fn check(&self) -> Result<(), UsageError> {
        let roles = self.roles();
        let resolved: Vec<PathBuf> = roles.iter().map(|(_, p)| safefs::resolved(p)).collect();
        for (i, (role, path)) in roles.iter().enumerate() {
            if let Some(j) = (0..i).find(|&j| resolved[j] == resolved[i]) {
                let (other, other_path) = &roles[j];
                return Err(UsageError::invalid(format!(
                    "{other} ({}) and {role} ({}) are the same file: give them different paths",
                    other_path.display(),
                    path.display()
                )));
            }
        }
        for (role, path) in &roles {
            if role == "--ids" || role == "--out" {
                continue;
            }
            safefs::check_writable_name(path)
                .map_err(|e| UsageError::invalid(format!("{role}: {e}")))?;
        }
        Ok(())
    }
}

/// The row format and compression: given, or inferred from `--out`.
fn output_format(o: &ExportOptions, out: &Target) -> Result<(Format, Compression), UsageError> {
    let compression = match (o.compress, out) {
        (Some(c), _) => c,
        (None, Target::File(p)) => infer_compression(p),
        (None, _) => Compression::None,
    };
    let format = match (o.format, out) {
        (Some(f), _) => f,
        (None, Target::File(p)) => infer_format(p)?,
        (None, _) => Format::Csv,
    };
    if format == Format::Parquet {
        if out.file().is_none() {
            return Err(UsageError::invalid(format!(
                "--format parquet needs a regular file for --out, not {}: a Parquet file is \
                 only readable once its footer is written at the end, so it cannot be \
                 streamed; use --format csv or jsonl to stream",
                out.describe()
            )));
        }
        if compression != Compression::None {
            return Err(UsageError::invalid(format!(
                "--compress {} does not apply to Parquet, which compresses its pages with \
                 zstd itself; drop --compress (and the .gz/.zst ending of --out)",
                compression.name()
            )));
        }
    }
    Ok((format, compression))
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

/// The key: `--api-key-file` given on the command line, then
/// `YUJU_API_KEY`, then the config file's `api-key-file`.
fn api_key(
    flag: Option<&Path>,
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    notices: &mut Vec<String>,
) -> Result<ApiKey, UsageError> {
    if let Some(path) = flag {
        read_key_file(path, notices)
    } else if let Some(key) = env("YUJU_API_KEY") {
        ApiKey::new(key).map_err(|e| UsageError::invalid(format!("YUJU_API_KEY: {e}")))
    } else if let Some(path) = file {
        read_key_file(path, notices)
    } else {
        Err(UsageError::invalid(
            "no API key: set the YUJU_API_KEY environment variable or pass --api-key-file PATH",
        ))
    }
}

/// `--concurrency` and `--rate`.
fn pace(o: &ExportOptions) -> Result<(usize, Option<f64>), UsageError> {
    let concurrency = o.concurrency.unwrap_or_else(|| defaulted("concurrency"));
    if !(1..=1024).contains(&concurrency) {
        return Err(UsageError::invalid(format!(
            "--concurrency must be between 1 and 1024, got {concurrency}"
        )));
    }
    if let Some(r) = o.rate {
        if !(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r)) {
            return Err(UsageError::invalid(format!(
                "--rate must be a number of requests per second from {MIN_RATE:.4} \
                 (one a minute) to {MAX_RATE}, got {r}"
            )));
        }
    }
    Ok((concurrency, o.rate))
}

/// How often a progress line is logged: at least a tenth of a second.
fn progress_interval(o: &ExportOptions) -> Result<Duration, UsageError> {
    let interval = o
        .progress_interval
        .map_or_else(|| defaulted("progress_interval"), |d| d.0);
    if interval < Duration::from_millis(100) {
        return Err(UsageError::invalid(format!(
            "--progress-interval must be at least 100ms, got {}",
            humantime::format_duration(interval)
        )));
    }
    Ok(interval)
}

/// The timeouts and the retry policy.
fn timing(o: &ExportOptions) -> Result<(Duration, Duration, RetryPolicy), UsageError> {
    let duration = |d: Option<crate::options::HumanDuration>, name: &str| -> Duration {
        d.map_or_else(|| defaulted(name), |d| d.0)
    };
    let timeout = duration(o.timeout, "timeout");
    let connect_timeout = duration(o.connect_timeout, "connect_timeout");
    if timeout.is_zero() || connect_timeout.is_zero() {
        return Err(UsageError::invalid(
            "--timeout and --connect-timeout must be above zero",
        ));
    }
    let retries = o.retries.unwrap_or_else(|| defaulted("retries"));
    if retries > 100 {
        return Err(UsageError::invalid(format!(
            "--retries must be at most 100, got {retries}"
        )));
    }
    let base = duration(o.retry_base, "retry_base");
    let cap = duration(o.retry_cap, "retry_cap");
    if cap < base {
        return Err(UsageError::invalid(format!(
            "--retry-cap ({}) is below --retry-base ({})",
            humantime::format_duration(cap),
            humantime::format_duration(base)
        )));
    }
    let retry = RetryPolicy {
        max_retries: retries,
        max_retry_after: duration(o.max_retry_after, "max_retry_after"),
        base,
        cap,
        ..RetryPolicy::default()
    };
    Ok((timeout, connect_timeout, retry))
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn infer_compression(path: &Path) -> Compression {
    let name = lower_name(path);
    if name.ends_with(".gz") {
        Compression::Gzip
    } else if name.ends_with(".zst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn infer_format(path: &Path) -> Result<Format, UsageError> {
    let name = lower_name(path);
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    if name.ends_with(".csv") {
        Ok(Format::Csv)
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Ok(Format::Jsonl)
    } else if name.ends_with(".parquet") {
        Ok(Format::Parquet)
    } else {
        Err(UsageError::invalid(format!(
            "cannot tell the format of --out {}: name it .csv, .jsonl or .ndjson (optionally + .gz or .zst) or .parquet, or pass --format csv|jsonl|parquet",
            path.display()
        )))
    }
}

/// Whether a missing `--api-key-file` may be named in its error: it has a
/// directory or a short extension (`key.txt`), which a pasted key has not.
fn looks_like_a_path(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains('/')
        || text.contains('\\')
        || path.extension().is_some_and(|e| (1..=5).contains(&e.len()))
}

/// Most bytes read from a key file: a key is short, and `/dev/zero` is
/// not a key file.
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_key_file(path: &Path, notices: &mut Vec<String>) -> Result<ApiKey, UsageError> {
    use std::io::Read;
    let read = |r: &mut dyn Read| -> std::io::Result<String> {
        let mut bytes = Vec::new();
        r.take(MAX_KEY_FILE).read_to_end(&mut bytes)?;
        String::from_utf8(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
    };
    let text = if path.as_os_str() == "-" {
        read(&mut std::io::stdin())
    } else {
        std::fs::File::open(path).and_then(|mut f| {
            if let Some(warning) = key_file_exposed(&f, path) {
                notices.push(warning);
            }
            read(&mut f)
        })
    }
    .map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound && !looks_like_a_path(path) {
            // Not echoed: a key pasted where its file's path belongs would
            // land in cron's mail.
            UsageError::invalid(
                "--api-key-file: no such file (it takes the path of a file holding the key, \
                 not the key itself)",
            )
        } else {
            UsageError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    ApiKey::new(first)
        .map_err(|e| UsageError::invalid(format!("--api-key-file {}: {e}", path.display())))
}

/// A warning when others than the owner may read the key file (as ssh
/// warns of a private key). Kubernetes mounts secrets 0644 by default, so
/// this warns rather than refuses.
fn key_file_exposed(file: &std::fs::File, path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "the API key file {} is readable by others than its owner (mode {mode:04o}): \
                 run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    let _ = (file, path);
    None
}

fn pick_time(
    given: Option<&str>,
    flag: &str,
    zone: Zone,
    now: chrono::NaiveDateTime,
) -> Result<Option<chrono::NaiveDateTime>, UsageError> {
    given
        .map(|t| parse_time(t, zone, now).map_err(|e| UsageError::invalid(format!("{flag}: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &str) -> ExportOptions {
        ExportOptions {
            ids: Some("ids.txt".into()),
            out: Some(out.into()),
            ..ExportOptions::default()
        }
    }
    fn key_env(name: &str) -> Option<String> {
        (name == "YUJU_API_KEY").then(|| "k3y".to_string())
    }

    #[test]
    fn only_path_like_key_files_are_named() {
        assert!(looks_like_a_path(Path::new("key.txt")));
        assert!(looks_like_a_path(Path::new("/etc/yuju/key")));
        assert!(!looks_like_a_path(Path::new("sk-LIVE-9f8e7d6c5b")));
        assert!(!looks_like_a_path(Path::new(
            "eyJhbGciOi.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        )));
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = ExportConfig::from_options(args("dump.csv"), key_env).unwrap();
        assert_eq!(c.format, Format::Csv);
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.retry.max_retries, 5);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.query.days, Some(30));
        assert_eq!(c.failed, Some(PathBuf::from("dump.csv.failed.csv")));
        assert_eq!(c.base_url.as_str(), "https://chat.jijyun.cn/");
        assert_eq!(c.columns, Column::ALL.to_vec());
    }

    #[test]
    fn format_is_inferred_or_refused() {
        let f = |o: &str| ExportConfig::from_options(args(o), key_env).map(|c| c.format);
        assert_eq!(f("x.JSONL").unwrap(), Format::Jsonl);
        assert_eq!(f("x.ndjson").unwrap(), Format::Jsonl);
        assert_eq!(f("x.jsonl.zst").unwrap(), Format::Jsonl);
        assert_eq!(f("x.csv.gz").unwrap(), Format::Csv);
        let c = ExportConfig::from_options(args("d.csv.gz"), key_env).unwrap();
        assert_eq!(c.compression, Compression::Gzip);
        let c = ExportConfig::from_options(args("d.jsonl.zst"), key_env).unwrap();
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(f("-").unwrap(), Format::Csv);
        let err = f("x.txt").unwrap_err().to_string();
        assert!(err.contains("--format"), "{err}");
        assert_eq!(f("x.Parquet").unwrap(), Format::Parquet);
    }

    /// Parquet needs a file it can finish with a footer, and compresses
    /// its own pages: stdout and file-level compression are refused.
    #[test]
    fn parquet_refuses_stdout_and_file_compression() {
        let f = |o: ExportOptions| ExportConfig::from_options(o, key_env).map(|c| c.format);
        let err = f(args("x.parquet.gz")).unwrap_err().to_string();
        assert!(err.contains("--compress gzip"), "{err}");
        let mut o = args("x.parquet");
        o.compress = Some(Compression::Zstd);
        assert!(f(o).unwrap_err().to_string().contains("--compress zstd"));
        let mut o = args("-");
        o.format = Some(Format::Parquet);
        let err = f(o).unwrap_err().to_string();
        assert!(
            err.contains("regular file") && err.contains("stdout"),
            "{err}"
        );
        let mut o = args("x.parquet");
        o.compress = Some(Compression::None);
        assert_eq!(f(o).unwrap(), Format::Parquet);
    }

    #[test]
    fn missing_key_is_explained() {
        let err = ExportConfig::from_options(args("a.csv"), |_| None).unwrap_err();
        assert!(err.to_string().contains("YUJU_API_KEY"));
    }

    #[test]
    fn key_never_shows_in_debug() {
        let c = ExportConfig::from_options(args("a.csv"), key_env).unwrap();
        assert!(!format!("{c:?}").contains("k3y"));
    }

    #[test]
    fn window_drops_default_days() {
        let mut a = args("a.csv");
        a.start = Some("2026-01-01".into());
        let c = ExportConfig::from_options(a.clone(), key_env).unwrap();
        assert_eq!(c.query.days, None);
        a.end = Some("2025-12-31".into());
        assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
    }

    /// With a recorded state the window starts there (--start is only
    /// checked), --end defaults to now, and a resume keeps the end.
    #[test]
    fn a_recorded_state_sets_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        std::fs::write(&state, r#"{"window_end": "2026-03-05T00:00:00+08:00"}"#).unwrap();
        let mut a = args("a.csv");
        a.state = Some(state);
        a.tz = Some("UTC".into());
        a.start = Some("2026-01-01".into());
        let c = ExportConfig::from_options(a.clone(), key_env).unwrap();
        let q = c.query.body("");
        assert_eq!(q.start_time, "2026-03-04 16:00:00");
        assert!(!q.end_time.is_empty() && q.days.is_empty());
        assert_eq!(c.relative_bounds, (false, true));
        a.start = Some("2026-13-01".into());
        assert!(ExportConfig::from_options(a, key_env).is_err());
    }

    #[test]
    fn cross_checks_reject_bad_values() {
        let mut a = args("a.csv");
        a.concurrency = Some(0);
        assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
        let mut a = args("a.csv");
        a.columns = Some("seq,nope".into());
        assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
        let mut a = args("a.csv");
        a.base_url = Some("ftp://x".into());
        assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
        let mut a = args("a.csv");
        a.failed = Some("a.csv".into());
        assert!(ExportConfig::from_options(a.clone(), key_env).is_err());
    }
}
