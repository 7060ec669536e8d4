//! The validated settings of one export run.
//!
//! [`ExportConfig::from_args`] is the one place where the command line, the
//! environment and the `--config` TOML file are merged (precedence CLI > env >
//! file > defaults) and checked against each other. Nothing downstream
//! re-checks a flag.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{parse_duration, Compression, ExportArgs, Format, LogFormat, ProgressMode};
use crate::error::UsageError;
use crate::output::Column;
use crate::query::{is_relative, parse_time, Query, Zone};
use crate::retry::RetryPolicy;
use crate::shard::Shard;
use crate::template;

/// The platform's public address.
pub const DEFAULT_BASE_URL: &str = "https://chat.jijyun.cn";
/// Path of the endpoint under the base URL.
pub const RECORD_PATH: &str = "/v1/openapi/chat/record";

/// Where the customer IDs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Where the rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

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

/// The API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, rejecting empty ones and ones with whitespace inside.
    pub fn new(key: impl Into<String>) -> Result<Self, UsageError> {
        let key = key.into();
        let key = key.trim();
        if key.is_empty() {
            return Err(UsageError::invalid("the API key is empty"));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UsageError::invalid(
                "the API key holds whitespace or control characters",
            ));
        }
        Ok(ApiKey(key.to_string()))
    }

    /// The secret itself: only the HTTP client calls this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Log verbosity on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `-q` = -1, default 0, `-v` 1, `-vv` 2.
    pub verbosity: i8,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            verbosity: 0,
            format: LogFormat::Text,
        }
    }
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
    /// Fixed cap on requests per second; `None` = adaptive only.
    pub rate: Option<f64>,
    /// Backoff, retry budget and Retry-After limits.
    pub retry: RetryPolicy,
    /// The API's window and filters.
    pub query: Query,
    /// Columns to write, in order.
    pub columns: Vec<Column>,
    /// Failed-customers file; `None` = not written.
    pub failed: Option<PathBuf>,
    /// Summary JSON file.
    pub summary: Option<PathBuf>,
    /// Whether to draw the progress bar.
    pub progress: ProgressMode,
    /// Only this shard of the IDs.
    pub shard: Option<Shard>,
    /// Print the plan, make no request.
    pub dry_run: bool,
    /// CSV: start with a UTF-8 BOM.
    pub csv_bom: bool,
    /// CSV: neutralise formula-like cells.
    pub csv_formula_guard: bool,
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

/// The `--config` TOML file: the same settings, keys are long flag names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    pub ids: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub format: Option<Format>,
    pub compress: Option<Compression>,
    pub resume: Option<bool>,
    pub restart: Option<bool>,
    pub base_url: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub retries: Option<u32>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub rate: Option<f64>,
    pub max_retry_after: Option<String>,
    pub retry_base: Option<String>,
    pub retry_cap: Option<String>,
    pub days: Option<u32>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub tz: Option<String>,
    pub shard: Option<String>,
    pub dry_run: Option<bool>,
    pub csv_bom: Option<bool>,
    pub csv_formula_guard: Option<bool>,
    pub chat_source: Option<Vec<String>>,
    pub chat_robot: Option<Vec<String>>,
    pub seat_member: Option<Vec<String>>,
    pub columns: Option<String>,
    pub failed: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub progress: Option<ProgressMode>,
    pub verbose: Option<u8>,
    pub quiet: Option<bool>,
    pub log_format: Option<LogFormat>,
}

impl FileConfig {
    /// Read and parse a config file; errors name the file, line and key.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsageError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e: toml::de::Error| {
            // toml's Display quotes the offending source line, which may be
            // the one holding a key: name the line and column instead.
            let place = e
                .span()
                .map(|span| {
                    let before = text.get(..span.start).unwrap_or(&text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!(", line {line}, column {column}")
                })
                .unwrap_or_default();
            UsageError::invalid(format!(
                "config file {}{place}: {}",
                path.display(),
                hide_quoted(e.message().trim_end())
            ))
        })
    }
}

impl ExportConfig {
    /// Merge and validate. `env` looks up environment variables (injected so
    /// tests need not touch the process environment).
    pub fn from_args(
        args: &ExportArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };

        let zone = match args.tz.as_deref().or(file.tz.as_deref()) {
            Some(name) => {
                Zone::parse(name).map_err(|e| UsageError::invalid(format!("--tz: {e}")))?
            }
            None => Zone::Local,
        };
        let now = zone.wall(chrono::Utc::now());
        let start = pick_time(
            args.start.as_deref(),
            file.start.as_deref(),
            "--start",
            zone,
            now,
        )?;
        let end = pick_time(args.end.as_deref(), file.end.as_deref(), "--end", zone, now)?;
        // Relative bounds, as given: a resume keeps what they resolved to.
        let specs = [
            ("start", args.start.as_deref().or(file.start.as_deref())),
            ("end", args.end.as_deref().or(file.end.as_deref())),
        ]
        .map(|(which, spec)| (which, spec.filter(|s| is_relative(s))));
        let relative_bounds = (specs[0].1.is_some(), specs[1].1.is_some());
        let relative: Vec<String> = specs
            .iter()
            .filter_map(|(which, spec)| spec.map(|s| format!("{which}={:?}", s.trim())))
            .collect();
        let relative_window = if relative.is_empty() {
            String::new()
        } else {
            format!("{} in {}", relative.join(" "), zone.name())
        };
        let shard = args
            .shard
            .as_deref()
            .or(file.shard.as_deref())
            .map(|s| Shard::parse(s, &env))
            .transpose()?;
        let vars = template::Vars {
            today: now.date(),
            start,
            end,
            shard,
        };
        let expand = |p: Option<PathBuf>, flag: &str| -> Result<Option<PathBuf>, UsageError> {
            match p {
                Some(p) if p.as_os_str() != "-" => template::expand(&p, flag, &vars).map(Some),
                other => Ok(other),
            }
        };

        let ids = match args.ids.clone().or(file.ids) {
            Some(p) if p.as_os_str() == "-" => Source::Stdin,
            Some(p) => Source::File(p),
            None => {
                return Err(UsageError::invalid(
                    "--ids is required: a file of customer IDs, or - for stdin",
                ))
            }
        };
        let out = match expand(args.out.clone().or(file.out), "--out")? {
            Some(p) if p.as_os_str() == "-" => Target::Stdout,
            Some(p) => Target::File(p),
            None => {
                return Err(UsageError::invalid(
                    "--out is required: the output file, or - for stdout",
                ))
            }
        };
        if ids == Source::Stdin && args.api_key_file.as_deref() == Some(Path::new("-")) {
            return Err(UsageError::invalid(
                "--ids - and --api-key-file - cannot both read stdin",
            ));
        }

        let compression = match args.compress.or(file.compress) {
            Some(c) => c,
            None => match &out {
                Target::Stdout => Compression::None,
                Target::File(p) => infer_compression(p),
            },
        };
        let format = match args.format.or(file.format) {
            Some(f) => f,
            None => match &out {
                Target::Stdout => Format::Csv,
                Target::File(p) => infer_format(p)?,
            },
        };
        let resume_flag = args.resume || (!args.restart && file.resume.unwrap_or(false));
        let restart_flag = args.restart || (!args.resume && file.restart.unwrap_or(false));
        let resume = match (resume_flag, restart_flag) {
            (true, true) => {
                return Err(UsageError::invalid(
                    "--resume and --restart exclude each other",
                ))
            }
            (true, false) => ResumeMode::Resume,
            (false, true) => ResumeMode::Restart,
            (false, false) => ResumeMode::Refuse,
        };
        if resume == ResumeMode::Resume && out == Target::Stdout {
            return Err(UsageError::invalid(
                "--resume needs --out FILE: a run to stdout keeps no journal",
            ));
        }

        let base_url_text = args
            .base_url
            .clone()
            .or(file.base_url)
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = parse_base_url(&base_url_text)?;

        let api_key = if let Some(path) = &args.api_key_file {
            read_key_file(path)?
        } else if let Some(key) = env("YUJU_API_KEY") {
            ApiKey::new(key).map_err(|e| UsageError::invalid(format!("YUJU_API_KEY: {e}")))?
        } else if let Some(path) = &file.api_key_file {
            read_key_file(path)?
        } else {
            return Err(UsageError::invalid(
                "no API key: set the YUJU_API_KEY environment variable or pass --api-key-file PATH",
            ));
        };

        let concurrency = args.concurrency.or(file.concurrency).unwrap_or(8);
        if !(1..=1024).contains(&concurrency) {
            return Err(UsageError::invalid(format!(
                "--concurrency must be between 1 and 1024, got {concurrency}"
            )));
        }
        let retries = args.retries.or(file.retries).unwrap_or(5);
        if retries > 100 {
            return Err(UsageError::invalid(format!(
                "--retries must be at most 100, got {retries}"
            )));
        }
        let timeout = pick_duration(args.timeout, file.timeout.as_deref(), "timeout", 30)?;
        let connect_timeout = pick_duration(
            args.connect_timeout,
            file.connect_timeout.as_deref(),
            "connect-timeout",
            10,
        )?;
        let max_retry_after = pick_duration(
            args.max_retry_after,
            file.max_retry_after.as_deref(),
            "max-retry-after",
            120,
        )?;
        let defaults = RetryPolicy::default();
        let retry_base = pick_duration(
            args.retry_base,
            file.retry_base.as_deref(),
            "retry-base",
            defaults.base.as_secs(),
        )?;
        let retry_cap = pick_duration(
            args.retry_cap,
            file.retry_cap.as_deref(),
            "retry-cap",
            defaults.cap.as_secs(),
        )?;
        if retry_cap < retry_base {
            return Err(UsageError::invalid(format!(
                "--retry-cap ({}) is below --retry-base ({})",
                humantime::format_duration(retry_cap),
                humantime::format_duration(retry_base)
            )));
        }
        if timeout.is_zero() || connect_timeout.is_zero() {
            return Err(UsageError::invalid(
                "--timeout and --connect-timeout must be above zero",
            ));
        }
        let rate = args.rate.or(file.rate);
        if let Some(r) = rate {
            if !(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r)) {
                return Err(UsageError::invalid(format!(
                    "--rate must be a number of requests per second from {MIN_RATE:.4} \
                     (one a minute) to {MAX_RATE}, got {r}"
                )));
            }
        }

        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(UsageError::invalid(format!(
                    "--start ({s}) is after --end ({e}): the window is empty"
                )));
            }
        }
        let days = match args.days.or(file.days) {
            Some(0) => return Err(UsageError::invalid("--days must be at least 1")),
            Some(d) => Some(d),
            None if start.is_none() && end.is_none() => Some(30),
            None => None,
        };
        let pick_list = |cli: &Vec<String>, file: Option<Vec<String>>| {
            if cli.is_empty() {
                file.unwrap_or_default()
            } else {
                cli.clone()
            }
        };
        let query = Query {
            days,
            start,
            end,
            chat_source: pick_list(&args.chat_source, file.chat_source),
            chat_robot: pick_list(&args.chat_robot, file.chat_robot),
            seat_member: pick_list(&args.seat_member, file.seat_member),
        };

        let columns = match args.columns.as_deref().or(file.columns.as_deref()) {
            Some(list) => Column::parse_list(list).map_err(UsageError::invalid)?,
            None => Column::ALL.to_vec(),
        };

        let failed = match expand(args.failed.clone().or(file.failed), "--failed")? {
            Some(p) => Some(p),
            None => match &out {
                Target::File(p) => Some(append_ext(p, ".failed.csv")),
                Target::Stdout => None,
            },
        };
        let summary = expand(args.summary.clone().or(file.summary), "--summary")?;
        let flag = |cli: bool, file: Option<bool>| cli || file.unwrap_or(false);
        let csv_bom = flag(args.csv_bom, file.csv_bom);
        let csv_formula_guard = flag(args.csv_formula_guard, file.csv_formula_guard);
        if (csv_bom || csv_formula_guard) && format != Format::Csv {
            return Err(UsageError::invalid(
                "--csv-bom and --csv-formula-guard apply to CSV output only",
            ));
        }
        if let Target::File(o) = &out {
            for (flag, p) in [
                ("--failed", failed.as_ref()),
                ("--summary", summary.as_ref()),
            ] {
                if p == Some(o) {
                    return Err(UsageError::invalid(format!(
                        "{flag} must not be the same file as --out"
                    )));
                }
            }
        }

        let verbose = if args.verbose > 0 {
            args.verbose
        } else {
            file.verbose.unwrap_or(0)
        };
        let quiet = args.quiet || (args.verbose == 0 && file.quiet.unwrap_or(false));
        let log = LogSettings {
            verbosity: if quiet { -1 } else { verbose.min(2) as i8 },
            format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
        };

        Ok(ExportConfig {
            ids,
            out,
            format,
            compression,
            resume,
            base_url,
            api_key,
            concurrency,
            timeout,
            connect_timeout,
            rate,
            retry: RetryPolicy {
                max_retries: retries,
                max_retry_after,
                base: retry_base,
                cap: retry_cap,
                ..defaults
            },
            query,
            columns,
            failed,
            summary,
            progress: args
                .progress
                .or(file.progress)
                .unwrap_or(ProgressMode::Auto),
            log,
            shard,
            dry_run: flag(args.dry_run, file.dry_run),
            csv_bom,
            csv_formula_guard,
            zone,
            relative_window,
            relative_bounds,
        })
    }

    /// The partial file rows are written to before the final rename.
    pub fn partial_path(&self) -> Option<PathBuf> {
        match &self.out {
            Target::File(p) => Some(append_ext(p, ".partial")),
            Target::Stdout => None,
        }
    }
}

/// `path` with `ext` appended to its file name (`a.csv` + `.partial`).
pub fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
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
    } else {
        Err(UsageError::invalid(format!(
            "cannot tell the format of --out {}: name it .csv, .jsonl or .ndjson (optionally + .gz or .zst), or pass --format csv|jsonl",
            path.display()
        )))
    }
}

fn parse_base_url(text: &str) -> Result<reqwest::Url, UsageError> {
    // The value is not echoed whole: a pasted URL may carry `?apiKey=...`
    // or a password. Errors name its scheme, host and port only.
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| UsageError::invalid(format!("--base-url: not a valid URL ({e})")))?;
    let shown = crate::api::client::origin(&url);
    let bad = |why: &str| UsageError::invalid(format!("--base-url {shown}: {why}"));
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "give the base address only, without a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "give the address without a user or password (the key goes in YUJU_API_KEY)",
        ));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(bad("not a base address"));
    }
    Ok(url)
}

/// Replace every double-quoted value in a parser's message (`invalid
/// type: string "sk-…", expected usize`) by `"…"`: the value may be a key
/// pasted into the wrong field. Key names (in backquotes) stay.
fn hide_quoted(message: &str) -> String {
    // serde names a bad enum value in backquotes: `unknown variant `x`,
    // expected one of `csv`, `jsonl``; hide that one, keep the choices.
    let hidden;
    let message = match message.strip_prefix("unknown variant `") {
        Some(rest) => {
            hidden = format!(
                "unknown variant `…`{}",
                rest.split_once('`').map_or("", |(_, after)| after)
            );
            hidden.as_str()
        }
        None => message,
    };
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        if i % 2 == 0 {
            out.push_str("\"…");
        } else {
            out.push('"');
            out.push_str(part);
        }
    }
    out
}

/// Whether a missing `--api-key-file` may be named in its error: it has a
/// directory or a short extension (`key.txt`), which a pasted key has not.
fn looks_like_a_path(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains('/')
        || text.contains('\\')
        || path.extension().is_some_and(|e| (1..=5).contains(&e.len()))
}

fn read_key_file(path: &Path) -> Result<ApiKey, UsageError> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
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

fn pick_duration(
    cli: Option<Duration>,
    file: Option<&str>,
    key: &str,
    default_secs: u64,
) -> Result<Duration, UsageError> {
    match (cli, file) {
        (Some(d), _) => Ok(d),
        (None, Some(text)) => parse_duration(text)
            // The value is not echoed (it might be a pasted key).
            .map_err(|_| {
                UsageError::invalid(format!(
                    "config key {key}: not a duration (write it like 30s, 500ms or 2m)"
                ))
            }),
        (None, None) => Ok(Duration::from_secs(default_secs)),
    }
}

fn pick_time(
    cli: Option<&str>,
    file: Option<&str>,
    flag: &str,
    zone: Zone,
    now: chrono::NaiveDateTime,
) -> Result<Option<chrono::NaiveDateTime>, UsageError> {
    cli.or(file)
        .map(|t| parse_time(t, zone, now).map_err(|e| UsageError::invalid(format!("{flag}: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &str) -> ExportArgs {
        ExportArgs {
            ids: Some("ids.txt".into()),
            out: Some(out.into()),
            ..ExportArgs::default()
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
    fn quoted_values_are_hidden_from_parser_messages() {
        assert_eq!(
            hide_quoted(r#"invalid type: string "sk-123", expected usize"#),
            r#"invalid type: string "…", expected usize"#
        );
        assert_eq!(hide_quoted("unknown field `x`"), "unknown field `x`");
        assert_eq!(
            hide_quoted("unknown variant `sk-123`, expected `csv` or `jsonl`"),
            "unknown variant `…`, expected `csv` or `jsonl`"
        );
        assert_eq!(hide_quoted(r#"a "b"#), r#"a "…"#);
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = ExportConfig::from_args(&args("dump.csv"), key_env).unwrap();
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
        let f = |o: &str| ExportConfig::from_args(&args(o), key_env).map(|c| c.format);
        assert_eq!(f("x.JSONL").unwrap(), Format::Jsonl);
        assert_eq!(f("x.ndjson").unwrap(), Format::Jsonl);
        assert_eq!(f("x.jsonl.zst").unwrap(), Format::Jsonl);
        assert_eq!(f("x.csv.gz").unwrap(), Format::Csv);
        let c = ExportConfig::from_args(&args("d.csv.gz"), key_env).unwrap();
        assert_eq!(c.compression, Compression::Gzip);
        let c = ExportConfig::from_args(&args("d.jsonl.zst"), key_env).unwrap();
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(f("-").unwrap(), Format::Csv);
        let err = f("x.txt").unwrap_err().to_string();
        assert!(err.contains("--format"), "{err}");
    }

    #[test]
    fn missing_key_is_explained() {
        let err = ExportConfig::from_args(&args("a.csv"), |_| None).unwrap_err();
        assert!(err.to_string().contains("YUJU_API_KEY"));
    }

    #[test]
    fn key_never_shows_in_debug() {
        let c = ExportConfig::from_args(&args("a.csv"), key_env).unwrap();
        assert!(!format!("{c:?}").contains("k3y"));
    }

    #[test]
    fn window_drops_default_days() {
        let mut a = args("a.csv");
        a.start = Some("2026-01-01".into());
        let c = ExportConfig::from_args(&a, key_env).unwrap();
        assert_eq!(c.query.days, None);
        a.end = Some("2025-12-31".into());
        assert!(ExportConfig::from_args(&a, key_env).is_err());
    }

    #[test]
    fn cross_checks_reject_bad_values() {
        let mut a = args("a.csv");
        a.concurrency = Some(0);
        assert!(ExportConfig::from_args(&a, key_env).is_err());
        let mut a = args("a.csv");
        a.columns = Some("seq,nope".into());
        assert!(ExportConfig::from_args(&a, key_env).is_err());
        let mut a = args("a.csv");
        a.base_url = Some("ftp://x".into());
        assert!(ExportConfig::from_args(&a, key_env).is_err());
        let mut a = args("a.csv");
        a.failed = Some("a.csv".into());
        assert!(ExportConfig::from_args(&a, key_env).is_err());
    }
}
