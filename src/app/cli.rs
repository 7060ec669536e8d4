//! The raw command line, as clap parses it.
//!
//! Doc comments here are the `--help` text. The settings of `export` are
//! defined in [`crate::config::options`]; nothing here validates across fields or
//! applies defaults that a config file could override: that happens once,
//! in [`crate::config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::options::ExportOptions;
use crate::console::progress::ProgressMode;
use crate::error::Exit;

/// Export chat records from the Yuju AI (语聚AI) open API to CSV, JSON Lines or Parquet.
#[derive(Debug, Parser)]
#[command(name = "yuju-export", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the chat records of a list of customers and write them as rows.
    Export(Box<ExportOptions>),
    /// Write the platform's contact list (the customers, their IDs and
    /// names) as rows.
    Contacts(Box<ExportOptions>),
    /// Check, with a handful of requests, that the platform behaves as the tool assumes.
    Doctor(Box<DoctorArgs>),
    /// Serve a simulator of the API on loopback, for trying the tool and for tests.
    Mock(Box<MockArgs>),
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

    /// Answer every customer with Code 2000 and an empty Data (a platform
    /// whose database is down).
    #[arg(long)]
    pub empty_everywhere: bool,

    /// Answer GET /v1/openapi/check with a 404 (a platform without it).
    #[arg(long)]
    pub no_check: bool,

    /// Contacts in the contact list (`POST /v1/openapi/contacts`).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub contacts: usize,

    /// How the contact list behaves: normal; flaky (503 twice, then the
    /// list); empty; undocumented (extra fields on every contact);
    /// changing (from the second call, half the list is other contacts);
    /// shrinking (from the second call, a third of the list).
    #[arg(long, value_enum, default_value_t, value_name = "MODE")]
    pub contacts_mode: crate::simulator::ContactsMode,

    /// Answer every window with every chat (a platform that ignores
    /// start_time, end_time and days).
    #[arg(long)]
    pub ignore_window: bool,

    /// The Code of a successful chat-record answer.
    #[arg(long, default_value_t = 2000, value_name = "CODE")]
    pub record_code: i64,

    /// Give every message undocumented fields (a time and an id).
    #[arg(long)]
    pub undocumented_fields: bool,

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

    /// Date the chats: each gets a fixed time in FROM..TO (YYYY-MM-DD or
    /// "YYYY-MM-DD HH:MM:SS"), and a request gets only those in its window
    /// (--days counts back from TO). Without it every window gets every chat.
    #[arg(long, value_name = "FROM..TO")]
    pub chat_dates: Option<crate::simulator::Calendar>,

    /// Print each request's customer and window on stderr.
    #[arg(long)]
    pub log_requests: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON, for a support ticket (the key redacted,
    /// no personal data).
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub options: ExportOptions,
}

/// The settings of `export` that `doctor` takes: where the platform is,
/// the key, TLS, timeouts, the contact list's filters, the zone, the code
/// classes and the log.
pub const DOCTOR_SETTINGS: [&str; 15] = [
    "base_url",
    "api_key_file",
    "allow_insecure_http",
    "ca_cert",
    "timeout",
    "connect_timeout",
    "max_response_bytes",
    "config",
    "contact_filters",
    "tz",
    "definitive_codes",
    "transient_codes",
    "verbose",
    "quiet",
    "log_format",
];

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

/// The command line's definition, with each `export` default shown in its
/// help from [`ExportOptions::defaults`]: the help, the man page and the
/// completions all come from here.
pub fn command() -> clap::Command {
    let shown = ExportOptions::defaults().shown();
    Cli::command()
        .after_long_help(exit_status())
        .mut_subcommand("export", |export| {
            with_defaults(export, &shown)
                .override_usage(EXPORT_USAGE)
                .after_help(KEY_NOTE)
                .after_long_help(format!("{KEY_NOTE}\n\n{}", exit_status()))
        })
        .mut_subcommand("doctor", doctor_help)
        .mut_subcommand("contacts", |contacts| {
            let mut contacts = with_defaults(contacts, &shown)
                .override_usage(CONTACTS_USAGE)
                .after_help(KEY_NOTE)
                .after_long_help(format!("{KEY_NOTE}\n\n{}", exit_status()));
            for name in crate::config::options::CHAT_ONLY {
                contacts = contacts.mut_arg(name, |arg| arg.hide(true));
            }
            contacts.mut_arg("columns", |arg| {
                arg.help("Columns to write, comma-separated: a subset and order of id,name, plus the personal data mobile and email, and extra (the fields the documentation does not name)")
                    .long_help(None::<&str>)
            })
        })
}

/// `doctor` shows the settings it takes.
fn doctor_help(doctor: clap::Command) -> clap::Command {
    let hidden: Vec<String> = doctor
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "json" && id != "help" && !DOCTOR_SETTINGS.contains(&id.as_str()))
        .collect();
    let mut doctor = doctor.after_help(KEY_NOTE);
    for id in hidden {
        doctor = doctor.mut_arg(id, |arg| arg.hide(true));
    }
    doctor
}

/// `contacts`' usage line.
const CONTACTS_USAGE: &str = "yuju-export contacts --out <PATH> [OPTIONS]";

/// `export`'s usage line: the two settings every run needs first.
const EXPORT_USAGE: &str = "yuju-export export --ids <PATH> --out <PATH> [OPTIONS]";

/// Where the key comes from, under `export -h` and `--help`.
const KEY_NOTE: &str = "The API key is read from the YUJU_API_KEY environment variable, or \
     from --api-key-file PATH (never from the command line). YUJU_BASE_URL sets --base-url.";

/// The exit codes, as `--help` ends with them.
pub fn exit_status() -> String {
    let mut text = String::from("Exit status:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:<4} {}\n", exit.code(), exit.meaning()));
    }
    text
}

/// `export` with each range and default shown in its help.
fn with_defaults(mut export: clap::Command, shown: &[(&'static str, String)]) -> clap::Command {
    for limit in crate::config::LIMITS {
        let range = limit.shown();
        export = export.mut_arg(limit.field, |arg| {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let long = arg.get_long_help().map(|h| h.to_string());
            let arg = arg.help(format!("{help} [range: {range}]"));
            match long {
                Some(long) => arg.long_help(format!("{long} [range: {range}]")),
                None => arg,
            }
        });
    }
    for (name, value) in shown {
        export = export.mut_arg(*name, |arg| {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let long = arg.get_long_help().map(|h| h.to_string());
            let arg = arg.help(format!("{help} [default: {value}]"));
            match long {
                Some(long) => arg.long_help(format!("{long} [default: {value}]")),
                None => arg,
            }
        });
    }
    export
}

/// Parse the process's arguments (exits with clap's message on an error).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parse a duration the human way ("30s", "500ms", "2m"), as every
/// setting does (see [`crate::config::options::HumanDuration`]).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<crate::config::options::HumanDuration>()
        .map(|d| d.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    /// `-h` shows the settings a first run needs and where the key comes
    /// from; `--help` also the exit status.
    #[test]
    fn export_short_help_names_the_required_flags_and_the_key() {
        let mut cmd = command();
        let export = cmd.find_subcommand_mut("export").unwrap();
        let short = export.render_help().to_string();
        assert!(
            short.contains("Usage: yuju-export export --ids <PATH> --out <PATH> [OPTIONS]"),
            "{short}"
        );
        assert!(short.contains("YUJU_API_KEY"), "{short}");
        let long = export.render_long_help().to_string();
        assert!(
            long.contains("YUJU_API_KEY") && long.contains("Exit status:"),
            "{long}"
        );
        assert!(long.contains("{start} and {end} are"), "{long}");
    }

    #[test]
    fn export_help_shows_the_defaults() {
        let mut cmd = command();
        let export = cmd.find_subcommand_mut("export").unwrap();
        let help = export.render_help().to_string();
        assert!(help.contains("[default: 8]"), "{help}");
        assert!(help.contains("[default: 30s]"), "{help}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
    }
}
