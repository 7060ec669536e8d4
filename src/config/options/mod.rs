//! The settings of `export`, defined once.
//!
//! Each setting is one field of [`ExportOptions`]: its doc comment is the
//! `--help` text, its `#[arg]` the flag, its name (kebab-case) the key of the
//! `--config` TOML file. The same struct holds every layer — the command
//! line (with the environment variables clap reads), the file, and
//! [`ExportOptions::defaults`] — and [`ExportOptions::layered`] merges them
//! in one pass (command line > environment > file > defaults). The help text
//! shows the defaults from that same place (see [`crate::app::cli::command`]).
//!
//! Adding a setting means its field here (with a `help_heading`), its use,
//! its field and check in [`crate::config`], a commented line in the
//! example config file and a row in `docs/reference.md` (a test checks
//! that row); CONTRIBUTING.md says it in full.

mod file;
mod layer;
pub mod schema;
mod values;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use file::hide_quoted;
use file::load_file;
use layer::Layer;
pub use values::{ByteSize, HumanDuration};

use crate::api::endpoint::DEFAULT_BASE_URL;
use crate::console::logging::LogFormat;
use crate::console::progress::ProgressMode;
use crate::error::UsageError;
use crate::output::{Compression, Format};
use crate::pace::retry::RetryPolicy;

/// Defines [`ExportOptions`] and its per-field layering from one list.
macro_rules! export_options {
    ($( $(#[$meta:meta])* pub $field:ident : $ty:ty, )*) => {
        /// Every setting of `export`, as one layer gives it (`None`, `false`
        /// or empty when that layer does not).
        #[derive(Debug, Clone, Default, clap::Args, Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        pub struct ExportOptions {
            $( $(#[$meta])* pub $field: $ty, )*
        }

        impl ExportOptions {
            /// This layer over `lower`, field by field.
            fn over(self, lower: Self) -> Self {
                ExportOptions { $( $field: Layer::over(self.$field, lower.$field), )* }
            }

            /// The settings this layer gives, by field name.
            fn given(&self) -> Vec<&'static str> {
                let mut names = Vec::new();
                $( if Layer::is_given(&self.$field) { names.push(stringify!($field)); } )*
                names
            }

            /// Drop one setting from this layer.
            fn forget(&mut self, name: &str) {
                match name {
                    $( stringify!($field) => self.$field = Default::default(), )*
                    _ => {}
                }
            }

            /// Each setting's JSON Schema type, by field name, in the
            /// list's order (see [`schema`]).
            pub fn json_types() -> Vec<(&'static str, serde_json::Value)> {
                vec![ $( (stringify!($field), <$ty as schema::JsonType>::json_type()), )* ]
            }

            /// The defaults as `--help` shows them, by field name.
            pub fn shown(&self) -> Vec<(&'static str, String)> {
                let mut shown = Vec::new();
                $( if let Some(text) = Layer::show(&self.$field) {
                    shown.push((stringify!($field), text));
                } )*
                shown
            }
        }
    };
}

export_options! {
    /// File of customer IDs, one per line (or a CSV with a `customer_id`
    /// column).
    ///
    /// `-` reads stdin. --all-contacts takes them from the platform instead.
    #[arg(help_heading = "Input", long, value_name = "PATH")]
    pub ids: Option<PathBuf>,

    /// Accept an ID list with no ID in it as a complete run of nothing.
    ///
    /// Without it an empty list (an empty file, or only comments and blank
    /// lines) is an error (exit 2) that leaves the --state watermark where
    /// it was: a CRM extract that came out empty would otherwise skip its
    /// window for good.
    #[arg(help_heading = "Input", long)]
    #[serde(default)]
    pub allow_empty: bool,

    /// Take the customer IDs from the platform's contact list instead of
    /// --ids.
    ///
    /// The list is fetched once, at the start of the run, and kept beside
    /// the partial output (`<out>.contacts`), so --resume goes on with the
    /// same IDs. A list that cannot be fetched, or comes back empty, stops
    /// the run before any chat is asked for.
    #[arg(help_heading = "Input", long, conflicts_with = "ids")]
    #[serde(default)]
    pub all_contacts: bool,

    /// Narrow the contact list: FIELD:CONDITION:VALUE, such as
    /// name:equal:访客290. Repeatable.
    ///
    /// Each becomes one condition of the list's filter; the platform
    /// documents `equal` on `name`. A filter it rejects is exit 2.
    #[arg(help_heading = "Input", long = "contact-filter", value_name = "FILTER")]
    #[serde(default, rename = "contact-filter", alias = "contact-filters")]
    pub contact_filters: Vec<String>,

    /// Accept a contact list with no contact in it.
    ///
    /// Without it an empty list is exit 3: no paging is documented, and an
    /// empty answer is more often a fault than a company without contacts.
    #[arg(help_heading = "Input", long)]
    #[serde(default)]
    pub allow_empty_contacts: bool,

    /// Stop (exit 3) when the contact list holds fewer than N contacts.
    ///
    /// A guard against a list the platform capped or cut short.
    #[arg(help_heading = "Input", long, value_name = "N")]
    pub min_contacts: Option<u64>,

    /// A TOML file with the same settings (keys are the long flag names).
    ///
    /// Precedence: command line > environment > file > defaults.
    #[arg(help_heading = "Input", long, value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Export only shard K of N (0 ≤ K < N), a stable hash partition of the
    /// IDs.
    ///
    /// "/N" takes K from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
    #[arg(help_heading = "Input", long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Output file; may hold {date}, {start}, {end} and {shard}.
    ///
    /// `-` writes stdout. Rows go to `<out>.partial` until the run completes.
    /// Placeholders (also in --failed and --summary): {date} is today in
    /// --tz (2026-11-26); {start} and {end} are the window's bounds
    /// (2026-11-25, or 2026-11-25T083000 when not at midnight); {shard} is
    /// the --shard (2of4). `--out 'chats-{start}.parquet'` gives each
    /// window of a --state schedule its own file.
    #[arg(help_heading = "Output and formats", long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Output format.
    ///
    /// Inferred from the --out extension when absent (.csv, .jsonl, .ndjson,
    /// .parquet); csv for stdout. Parquet needs a file (not stdout) and
    /// compresses its pages itself.
    #[arg(help_heading = "Output and formats", long, value_enum)]
    pub format: Option<Format>,

    /// Compress the output.
    ///
    /// Inferred from the --out extension when absent (.gz, .zst); none for
    /// other names and for stdout. CSV and JSONL only: Parquet compresses its
    /// pages with zstd.
    #[arg(help_heading = "Output and formats", long, value_enum)]
    pub compress: Option<Compression>,

    /// Columns to write, comma-separated.
    ///
    /// A subset and order of
    /// customer_id,chat_id,seq,sender_type,message_type,content, plus the
    /// optional extra and chat_extra (the fields the documentation does
    /// not name, as JSON objects).
    #[arg(help_heading = "Output and formats", long, value_name = "LIST")]
    pub columns: Option<String>,

    /// Parquet: most rows in one row group.
    ///
    /// A row group is also bounded at 4 MiB of values. Larger groups read faster; the writer holds one in memory while it
    /// fills.
    #[arg(help_heading = "Output and formats", long, value_name = "N")]
    pub parquet_row_group_rows: Option<u64>,

    /// Start a CSV output with a UTF-8 byte order mark.
    ///
    /// So Excel shows Chinese text correctly.
    #[arg(help_heading = "Output and formats", long)]
    #[serde(default)]
    pub csv_bom: bool,

    /// Quote CSV cells that a spreadsheet would run as formulas.
    ///
    /// Cells starting with =, +, -, @, tab or CR get a single quote before
    /// them (OWASP advice).
    #[arg(help_heading = "Output and formats", long)]
    #[serde(default)]
    pub csv_formula_guard: bool,

    /// Mask personal data in message text: mobile, id-card, bank-card,
    /// email, or pii for all.
    ///
    /// Comma-separated. Matches inside `content` and inside the string
    /// values of extra and chat_extra are rewritten before anything is
    /// written (see --mask-style); the summary and the metrics count them.
    #[arg(help_heading = "Output and formats", long, value_name = "CLASSES")]
    pub mask: Option<String>,

    /// How --mask writes a match.
    ///
    /// tag: [MOBILE], [ID_CARD], [BANK_CARD], [EMAIL]; partial: the
    /// customary visible parts, 138****5678.
    #[arg(help_heading = "Output and formats", long, value_enum)]
    pub mask_style: Option<crate::record::mask::MaskStyle>,

    /// Write every customer_id as HMAC-SHA256(key, id), 32 hex characters.
    ///
    /// Needs --pseudonym-key-file. The same key gives the same pseudonym in
    /// every run, so joins keep working; without the key nobody can go back
    /// to the ID. The failed file keeps the real IDs, to retry them.
    #[arg(help_heading = "Output and formats", long)]
    #[serde(default)]
    pub pseudonymize: bool,

    /// The key of --pseudonymize: the first line of this file (16 bytes or
    /// more), which other users must not be able to read.
    #[arg(help_heading = "Output and formats", long, value_name = "PATH")]
    pub pseudonym_key_file: Option<PathBuf>,

    /// Where to list failed customers [default: <out>.failed.csv; none for
    /// --out -].
    ///
    /// May hold the placeholders of --out.
    #[arg(help_heading = "Output and formats", long, value_name = "PATH")]
    pub failed: Option<PathBuf>,

    /// Permission bits of every file the run creates, in octal.
    ///
    /// The --metrics file is always 0644 (no personal data; node_exporter
    /// reads it). 0640 lets the file's group read them (owner read and write are
    /// required; no execute bits, no write for others).
    #[arg(help_heading = "Output and formats", long, value_name = "MODE")]
    pub file_mode: Option<String>,

    /// Continue the interrupted run of the same --out.
    ///
    /// Starts afresh when there is none, so a crontab can always pass it.
    #[arg(help_heading = "Output and formats", long, conflicts_with = "restart")]
    #[serde(default)]
    pub resume: bool,

    /// Discard an interrupted run of the same --out and start afresh.
    #[arg(help_heading = "Output and formats", long)]
    #[serde(default)]
    pub restart: bool,

    /// Look back this many days [default: 30 when neither --start nor --end is given].
    ///
    /// Not with --start or --end: only one form of the window is sent.
    #[arg(help_heading = "Window and filters", long, value_name = "N")]
    pub days: Option<u32>,

    /// Start of the time window.
    ///
    /// YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS", RFC 3339, or relative: now, today,
    /// yesterday, -7d, -24h (resolved in --tz).
    #[arg(help_heading = "Window and filters", long, value_name = "TIME", allow_hyphen_values = true)]
    pub start: Option<String>,

    /// End of the time window, in the same forms as --start.
    #[arg(help_heading = "Window and filters", long, value_name = "TIME", allow_hyphen_values = true)]
    pub end: Option<String>,

    /// Time zone of relative times, {date} and RFC 3339 conversions.
    ///
    /// An IANA name such as Asia/Shanghai, or "local".
    #[arg(help_heading = "Window and filters", long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Only chats from this channel (repeatable).
    #[arg(help_heading = "Window and filters", long, value_name = "S")]
    #[serde(default)]
    pub chat_source: Vec<String>,

    /// Only chats answered by this AI assistant (repeatable).
    #[arg(help_heading = "Window and filters", long, value_name = "R")]
    #[serde(default)]
    pub chat_robot: Vec<String>,

    /// Only chats handled by this human agent (repeatable).
    #[arg(help_heading = "Window and filters", long, value_name = "M")]
    #[serde(default)]
    pub seat_member: Vec<String>,

    /// Most requests in flight at once.
    #[arg(help_heading = "Pacing and retries", long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Cap on requests per second (fractions allowed).
    ///
    /// Without it the tool finds the platform's limit by itself from its 429
    /// answers.
    #[arg(help_heading = "Pacing and retries", long, value_name = "N")]
    pub rate: Option<f64>,

    /// Retries of one customer after transient faults.
    ///
    /// 429s have four times this allowance of their own.
    #[arg(help_heading = "Pacing and retries", long, value_name = "N")]
    pub retries: Option<u32>,

    /// First backoff step after a transient fault.
    ///
    /// Retry n waits a random time up to base * 2^(n-1). (A 429 without Retry-After is retried at the rate limiter's next slot
    /// instead.)
    #[arg(help_heading = "Pacing and retries", long, value_name = "DURATION")]
    pub retry_base: Option<HumanDuration>,

    /// Longest backoff step.
    #[arg(help_heading = "Pacing and retries", long, value_name = "DURATION")]
    pub retry_cap: Option<HumanDuration>,

    /// Longest Retry-After the run will wait for.
    ///
    /// A longer one fails the customer instead.
    #[arg(help_heading = "Pacing and retries", long, value_name = "DURATION")]
    pub max_retry_after: Option<HumanDuration>,

    /// API codes that mean "this request can never succeed", besides 4000.
    ///
    /// Comma-separated. Not retried, and the --state watermark may move past
    /// their customers. A declared code wins over the Msg heuristics.
    #[arg(help_heading = "Pacing and retries", long, value_name = "CODES", value_delimiter = ',', allow_negative_numbers = true)]
    #[serde(default)]
    pub definitive_codes: Vec<i64>,

    /// API codes that mean a fault that may pass: retried like a 5xx.
    ///
    /// Comma-separated. A declared code wins over the Msg heuristics and over 4000. Codes neither declared nor
    /// recognised are retried once, then fail the customer and hold the
    /// watermark.
    #[arg(help_heading = "Pacing and retries", long, value_name = "CODES", value_delimiter = ',', allow_negative_numbers = true)]
    #[serde(default)]
    pub transient_codes: Vec<i64>,

    /// Base URL of the API.
    #[arg(help_heading = "Network and TLS", long, env = "YUJU_BASE_URL", hide_env_values = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Read the API key from the first line of this file.
    ///
    /// Otherwise the key comes from the YUJU_API_KEY environment variable.
    #[arg(help_heading = "Network and TLS", long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Allow a plain http:// --base-url to a host other than loopback.
    ///
    /// The key would cross the network in clear text.
    #[arg(help_heading = "Network and TLS", long)]
    #[serde(default)]
    pub allow_insecure_http: bool,

    /// Also trust the root certificates in this PEM file.
    ///
    /// A private CA's, a TLS-inspecting proxy's; the system's and the bundled
    /// roots are trusted anyway.
    #[arg(help_heading = "Network and TLS", long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,

    /// Timeout of one request, e.g. 30s, 500ms, 2m.
    #[arg(help_heading = "Network and TLS", long, value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,

    /// Timeout of establishing one connection.
    #[arg(help_heading = "Network and TLS", long, value_name = "DURATION")]
    pub connect_timeout: Option<HumanDuration>,

    /// Largest answer accepted, counted after decompression.
    ///
    /// 256MiB, 64KiB, or a number of bytes. A larger answer fails that
    /// customer, unretried.
    #[arg(help_heading = "Network and TLS", long, value_name = "SIZE")]
    pub max_response_bytes: Option<ByteSize>,

    /// Keep the export's watermark in this JSON file.
    ///
    /// Each run's window starts where the last completed one ended (--start
    /// only for the first run), and ends at --end (default: now). It moves
    /// only after a complete run with no failure but the platform's
    /// definitive answers. May hold {shard}.
    #[arg(help_heading = "Schedule, state and reports", long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// With --state, take a window in which no customer had a chat as real.
    ///
    /// Without it such a window (at least 50 customers asked, none with a
    /// chat, after a window with chats for 10 % or more) holds the
    /// watermark and exits 1: a platform whose database is down can answer
    /// every customer with an empty list.
    #[arg(help_heading = "Schedule, state and reports", long)]
    #[serde(default)]
    pub accept_empty: bool,

    /// With --state, start each window this long before the recorded end.
    ///
    /// E.g. 2h or 1d, to catch chats that reached the platform late.
    #[arg(help_heading = "Schedule, state and reports", long, value_name = "DURATION")]
    pub lookback: Option<HumanDuration>,

    /// Write the run's figures to this file for Prometheus.
    ///
    /// The node_exporter textfile format, written at the end of every run.
    /// May hold {shard}.
    #[arg(help_heading = "Schedule, state and reports", long, value_name = "PATH")]
    pub metrics: Option<PathBuf>,

    /// Write the run summary as JSON to this file.
    ///
    /// May hold the placeholders of --out.
    #[arg(help_heading = "Schedule, state and reports", long, value_name = "PATH")]
    pub summary: Option<PathBuf>,

    /// Read and check everything, print the plan, make no request.
    #[arg(help_heading = "Schedule, state and reports", long)]
    #[serde(default)]
    pub dry_run: bool,

    /// Progress bar on stderr.
    #[arg(help_heading = "Logging", long, value_enum)]
    pub progress: Option<ProgressMode>,

    /// How often a progress line is logged when no bar is drawn.
    ///
    /// Under cron (no terminal), or with --progress never.
    #[arg(help_heading = "Logging", long, value_name = "DURATION")]
    pub progress_interval: Option<HumanDuration>,

    /// More log detail (-v debug, -vv trace).
    #[arg(help_heading = "Logging", short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    #[serde(default)]
    pub verbose: u8,

    /// Only warnings and errors; a successful run prints nothing.
    #[arg(help_heading = "Logging", short, long)]
    #[serde(default)]
    pub quiet: bool,

    /// Log line format on stderr.
    #[arg(help_heading = "Logging", long, value_enum)]
    pub log_format: Option<LogFormat>,

}

/// The settings of `export` that have no meaning for the contact list
/// (`yuju-export contacts`): refused on its command line, ignored in a
/// `--config` file it shares with `export`.
pub const CHAT_ONLY: [&str; 17] = [
    "ids",
    "allow_empty",
    "all_contacts",
    "shard",
    "failed",
    "resume",
    "restart",
    "days",
    "start",
    "end",
    "chat_source",
    "chat_robot",
    "seat_member",
    "state",
    "accept_empty",
    "lookback",
    "concurrency",
];

impl ExportOptions {
    /// The settings this layer gives, by field name.
    pub fn given_settings(&self) -> Vec<&'static str> {
        self.given()
    }

    /// The settings of [`CHAT_ONLY`] this layer gives, as flags
    /// (`--days`).
    pub fn chat_only_given(&self) -> Vec<String> {
        self.given()
            .into_iter()
            .filter(|name| CHAT_ONLY.contains(name))
            .map(|name| format!("--{}", name.replace('_', "-")))
            .collect()
    }

    /// These layered settings with those of [`CHAT_ONLY`] back at their
    /// defaults.
    pub fn without_chat_settings(mut self) -> ExportOptions {
        self.forget_chat_settings();
        self.over(ExportOptions::defaults())
    }

    /// Drop the settings of [`CHAT_ONLY`] from this layer.
    pub fn forget_chat_settings(&mut self) {
        for name in CHAT_ONLY {
            self.forget(name);
        }
    }

    /// The defaults: the bottom layer, and what `--help` shows.
    pub fn defaults() -> ExportOptions {
        let retry = RetryPolicy::default();
        ExportOptions {
            base_url: Some(DEFAULT_BASE_URL.to_string()),
            concurrency: Some(8),
            max_response_bytes: Some(ByteSize(256 << 20)),
            parquet_row_group_rows: Some(crate::output::parquet::GROUP_ROWS),
            retries: Some(retry.max_retries),
            timeout: Some(HumanDuration(Duration::from_secs(30))),
            connect_timeout: Some(HumanDuration(Duration::from_secs(10))),
            max_retry_after: Some(HumanDuration(retry.max_retry_after)),
            retry_base: Some(HumanDuration(retry.base)),
            retry_cap: Some(HumanDuration(retry.cap)),
            tz: Some("local".to_string()),
            file_mode: Some(crate::store::safefs::FileMode::default().to_string()),
            progress: Some(ProgressMode::Auto),
            progress_interval: Some(HumanDuration(crate::console::progress::LOG_INTERVAL)),
            log_format: Some(LogFormat::Text),
            ..ExportOptions::default()
        }
    }

    /// The settings a run uses: these (the command line, environment
    /// included) over the `--config` file over the defaults. A setting
    /// given on a higher layer also hides, on the lower ones, the settings
    /// it excludes (`--restart` on the command line beats `resume = true`
    /// in the file; `-v` beats `quiet = true`).
    pub fn layered(self) -> Result<ExportOptions, UsageError> {
        let file = match &self.config {
            Some(path) => load_file(path)?,
            None => ExportOptions::default(),
        };
        Ok(self.cover(file).cover(ExportOptions::defaults()))
    }

    /// This layer over `lower`, after hiding what this layer excludes.
    fn cover(self, mut lower: ExportOptions) -> ExportOptions {
        for name in self.given() {
            for other in excluded_by(name) {
                lower.forget(&other);
            }
        }
        self.over(lower)
    }
}

/// The settings `name` excludes, as its flags declare (either side).
fn excluded_by(name: &str) -> Vec<String> {
    use clap::Args as _;
    let mut cmd = ExportOptions::augment_args(clap::Command::new("export"));
    cmd.build();
    let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == name) else {
        return Vec::new();
    };
    let mut out: Vec<String> = cmd
        .get_arg_conflicts_with(arg)
        .iter()
        .map(|a| a.get_id().to_string())
        .collect();
    for other in cmd.get_arguments() {
        if cmd
            .get_arg_conflicts_with(other)
            .iter()
            .any(|a| a.get_id() == name)
        {
            out.push(other.get_id().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::file::hide_quoted;
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
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
    fn layers_are_command_line_then_file_then_defaults() {
        let (_dir, path) = file(
            "concurrency = 3\nretries = 9\ntimeout = \"5s\"\nchat-source = [\"a\"]\ncsv-bom = true\n",
        );
        let cli = ExportOptions {
            config: Some(path),
            concurrency: Some(4),
            ..ExportOptions::default()
        };
        let o = cli.layered().unwrap();
        assert_eq!(o.concurrency, Some(4), "the command line wins");
        assert_eq!(o.retries, Some(9), "then the file");
        assert_eq!(o.timeout, Some(HumanDuration(Duration::from_secs(5))));
        assert_eq!(o.chat_source, vec!["a".to_string()]);
        assert!(o.csv_bom);
        assert_eq!(
            o.connect_timeout,
            ExportOptions::defaults().connect_timeout,
            "then the defaults"
        );
    }

    #[test]
    fn a_flag_hides_what_it_excludes_on_lower_layers() {
        let (_dir, path) = file("resume = true\nquiet = true\n");
        let cli = ExportOptions {
            config: Some(path),
            restart: true,
            verbose: 1,
            ..ExportOptions::default()
        };
        let o = cli.layered().unwrap();
        assert!(o.restart && !o.resume);
        assert!(o.verbose == 1 && !o.quiet);
    }

    #[test]
    fn bad_durations_in_the_file_name_the_place_not_the_value() {
        let (_dir, path) = file("retries = 2\ntimeout = \"sk-LIVE-123\"\n");
        let cli = ExportOptions {
            config: Some(path),
            ..ExportOptions::default()
        };
        let err = cli.layered().unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("not a duration"), "{err}");
        assert!(!err.contains("sk-LIVE"), "{err}");
    }

    #[test]
    fn defaults_are_shown_from_the_one_place_they_are_set() {
        let shown = ExportOptions::defaults().shown();
        let get = |name: &str| {
            shown
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("concurrency").as_deref(), Some("8"));
        assert_eq!(get("timeout").as_deref(), Some("30s"));
        assert_eq!(get("max_retry_after").as_deref(), Some("2m"));
        assert_eq!(get("progress").as_deref(), Some("auto"));
        assert_eq!(get("ids"), None);
    }

    /// The Debian package's config parses as the service runs it, with
    /// the settings the service needs set.
    #[test]
    fn the_packaged_config_parses() {
        let text = include_str!("../../../packaging/yuju-export.toml");
        let parsed: ExportOptions = toml::from_str(text).unwrap();
        assert!(parsed.state.is_some() && parsed.resume && parsed.quiet);
        assert_eq!(parsed.tz.as_deref(), Some("Asia/Shanghai"));
        let timer = include_str!("../../../packaging/systemd/yuju-export.timer");
        assert!(
            timer.contains("OnCalendar=*-*-* 03:10:00 Asia/Shanghai"),
            "the timer fires in the config's zone"
        );
    }

    /// The example config file parses once uncommented, and names every
    /// setting a file may hold.
    #[test]
    fn the_example_config_lists_every_key_and_parses() {
        let example = include_str!("../../../config/yuju-export.example.toml");
        let mut text = String::new();
        let mut keys = Vec::new();
        for line in example.lines() {
            let Some(setting) = line.strip_prefix("# ") else {
                continue;
            };
            let Some((key, _)) = setting.split_once(" = ") else {
                continue;
            };
            if key.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                keys.push(key.to_string());
                text.push_str(setting);
                text.push('\n');
            }
        }
        // `resume` and `restart` exclude each other; the example shows both.
        let text = text.replace("resume = true", "resume = false");
        let parsed: Result<ExportOptions, _> = toml::from_str(&text);
        assert!(parsed.is_ok(), "{parsed:?}");
        use clap::Args as _;
        let cmd = ExportOptions::augment_args(clap::Command::new("export"));
        for arg in cmd.get_arguments() {
            let key = arg.get_long().unwrap_or_default().to_string();
            if key != "config" && !key.is_empty() {
                assert!(keys.contains(&key), "{key} is not in the example config");
            }
        }
    }
}
