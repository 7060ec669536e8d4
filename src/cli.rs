//! The raw command line, as clap parses it.
//!
//! Doc comments here are the `--help` text. Nothing in this module validates
//! across fields or applies defaults that a config file could override: that
//! happens once, in [`crate::config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Export chat records from the Yuju AI (语聚AI) open API to CSV or JSONL.
#[derive(Debug, Parser)]
#[command(name = "yuju-export", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the chat records of a list of customers and write them as rows.
    Export(Box<ExportArgs>),
    /// Serve a simulator of the API on loopback, for trying the tool and for tests.
    Mock(MockArgs),
    /// Run a real export against an in-process simulator: no key, no network.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

/// Output format of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Compression of the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one member per checkpoint; any gzip reader reads them all).
    Gzip,
    /// Zstandard (one frame per checkpoint).
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// Only when stderr is a terminal; otherwise a log line every 10 s.
    Auto,
    /// Always draw the bar on stderr.
    Always,
    /// Never draw the bar; log a progress line every 10 s instead.
    Never,
}

/// Format of the log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Args, Default)]
pub struct ExportArgs {
    /// File of customer IDs, one per line (or a CSV with a `customer_id`
    /// column); `-` reads stdin.
    #[arg(long, value_name = "PATH")]
    pub ids: Option<PathBuf>,

    /// Output file; `-` writes stdout. Rows go to `<out>.partial` until the
    /// run completes.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Output format. Inferred from the --out extension when absent
    /// (.csv, .jsonl, .ndjson); csv for stdout.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Compress the output. Inferred from the --out extension when absent
    /// (.gz, .zst); none for other names and for stdout.
    #[arg(long, value_enum)]
    pub compress: Option<Compression>,

    /// Continue the interrupted run of the same --out (or start afresh when
    /// there is none, so a crontab can always pass it).
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,

    /// Discard an interrupted run of the same --out and start afresh.
    #[arg(long)]
    pub restart: bool,

    /// Base URL of the API.
    #[arg(
        long,
        env = "YUJU_BASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub base_url: Option<String>,

    /// Read the API key from the first line of this file (otherwise from
    /// the YUJU_API_KEY environment variable).
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Most requests in flight at once (1 to 1024) [default: 8].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Retries of one request after a transient fault [default: 5].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Timeout of one request, e.g. 30s, 500ms, 2m [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Timeout of establishing one connection [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,

    /// Cap on requests per second (fractions allowed). Without it the tool
    /// finds the platform's limit by itself from its 429 answers.
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,

    /// Longest Retry-After the run will wait for; a longer one fails the
    /// customer instead [default: 2m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_retry_after: Option<Duration>,

    /// First backoff step after a transient fault; retry n waits a random
    /// time up to base * 2^(n-1) [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_base: Option<Duration>,

    /// Longest backoff step [default: 20s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_cap: Option<Duration>,

    /// Look back this many days [default: 30 when neither --start nor --end is given].
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,

    /// Start of the time window: YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS", RFC 3339,
    /// or relative: now, today, yesterday, -7d, -24h (resolved in --tz).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub start: Option<String>,

    /// End of the time window, in the same forms as --start.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub end: Option<String>,

    /// Time zone of relative times, {date} and RFC 3339 conversions: an IANA
    /// name such as Asia/Shanghai, or "local" [default: local].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Export only shard K of N (0 ≤ K < N), a stable hash partition of the
    /// IDs; "/N" takes K from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Read and check everything, print the plan, make no request.
    #[arg(long)]
    pub dry_run: bool,

    /// Start a CSV output with a UTF-8 byte order mark, so Excel shows
    /// Chinese text correctly.
    #[arg(long)]
    pub csv_bom: bool,

    /// Prefix CSV cells starting with =, +, -, @, tab or CR with a single
    /// quote, so spreadsheets do not run them as formulas (OWASP advice).
    #[arg(long)]
    pub csv_formula_guard: bool,

    /// Only chats from this channel (repeatable).
    #[arg(long, value_name = "S")]
    pub chat_source: Vec<String>,

    /// Only chats answered by this AI assistant (repeatable).
    #[arg(long, value_name = "R")]
    pub chat_robot: Vec<String>,

    /// Only chats handled by this human agent (repeatable).
    #[arg(long, value_name = "M")]
    pub seat_member: Vec<String>,

    /// Comma-separated subset and order of
    /// customer_id,chat_id,seq,sender_type,message_type,content.
    #[arg(long, value_name = "LIST")]
    pub columns: Option<String>,

    /// Where to list failed customers [default: <out>.failed.csv; none for
    /// --out -]. --out, --failed and --summary may hold {date}, {start},
    /// {end} and {shard}.
    #[arg(long, value_name = "PATH")]
    pub failed: Option<PathBuf>,

    /// Write the run summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,

    /// Progress bar on stderr [default: auto].
    #[arg(long, value_enum)]
    pub progress: Option<ProgressMode>,

    /// More log detail (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only warnings and errors; a successful run prints nothing.
    #[arg(short, long)]
    pub quiet: bool,

    /// Log line format on stderr [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,

    /// A TOML file with the same settings (keys are the long flag names).
    /// Precedence: command line > environment > file > defaults.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The API key the simulator accepts (anything else gets 401).
    #[arg(long, default_value = "demo-key", value_name = "KEY")]
    pub key: String,

    /// Median latency of an answer.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub latency: Duration,

    /// Lognormal jitter of the latency (sigma; 0 = none).
    #[arg(long, default_value_t = 0.0, value_name = "SIGMA")]
    pub jitter: f64,

    /// Share of answers that are faults (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub fault_rate: f64,

    /// Fault kinds to mix, comma-separated: 429,500,502,503,reset,truncated,html,malformed,hang.
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub faults: String,

    /// Requests per second the key may make; beyond it, 429.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// How --rate-limit counts requests: fixed one-second windows on
    /// wall-clock seconds, fixed windows from the first request, a sliding
    /// one-second window, or a token bucket.
    #[arg(
        long,
        value_enum,
        default_value_t,
        value_name = "MODEL",
        requires = "rate_limit"
    )]
    pub rate_limit_model: crate::simulator::LimitModel,

    /// Tokens the bucket holds with --rate-limit-model bucket (default: the
    /// limit).
    #[arg(long, value_name = "N", requires = "rate_limit")]
    pub burst: Option<u32>,

    /// Delay before a rate-limit 429 is answered (0 = at once, as a gateway
    /// does).
    #[arg(long, default_value = "0ms", value_parser = parse_duration, value_name = "DURATION")]
    pub throttle_delay: Duration,

    /// Changes of the limit in time since the first request, such as
    /// `5s=8,12s=20` (8/s from 5 s, 20/s again from 12 s).
    #[arg(long, value_name = "SCHEDULE", requires = "rate_limit")]
    pub rate_schedule: Option<crate::simulator::Schedule>,

    /// Successful answers after which every request gets 402.
    #[arg(long, value_name = "N")]
    pub quota: Option<u64>,

    /// After this many successful answers, answer 503 to everything (a
    /// platform that goes down).
    #[arg(long, value_name = "N")]
    pub down_after: Option<u64>,

    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Give every customer one chat of exactly N messages (for benchmarks)
    /// instead of the varied sample data.
    #[arg(long, value_name = "N")]
    pub messages: Option<usize>,

    /// Size of each message with --messages, in bytes.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 600,
        requires = "messages"
    )]
    pub message_bytes: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of sample customers.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub customers: usize,

    /// Directory to write the demo files into.
    #[arg(long, default_value = "yuju-demo", value_name = "DIR")]
    pub dir: PathBuf,

    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
}

/// Parse a humantime duration ("30s", "500ms", "2m").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (expected a duration such as 30s, 500ms or 2m)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
    }
}
