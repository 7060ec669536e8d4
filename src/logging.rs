//! Log lines on stderr (tracing), text or JSON, that never tear the
//! progress bar: while a bar is shown, each line is printed with the bar
//! suspended.
//!
//! Only this crate logs below `warn`; dependencies stay at `warn` at every
//! verbosity (and `RUST_LOG` is not read), so no library can print a request
//! URL, which would carry the API key.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Format of the log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
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

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Route log lines around `bar` until [`clear_bar`] is called.
pub fn set_bar(bar: ProgressBar) {
    *BAR.lock().expect("bar lock") = Some(bar);
}

/// Stop routing log lines around a bar.
pub fn clear_bar() {
    BAR.lock().expect("bar lock").take();
}

/// Run `f` with the progress bar (if any) hidden.
pub fn suspend_bar<R>(f: impl FnOnce() -> R) -> R {
    let bar = BAR.lock().expect("bar lock").clone();
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// A stderr writer that prints whole log lines with the bar suspended.
#[derive(Default)]
pub struct StderrAroundBar {
    buf: Vec<u8>,
}

impl Write for StderrAroundBar {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            suspend_bar(|| io::stderr().lock().write_all(&buf))?;
        }
        Ok(())
    }
}

impl Drop for StderrAroundBar {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

struct MakeStderr;

impl<'a> MakeWriter<'a> for MakeStderr {
    type Writer = StderrAroundBar;
    fn make_writer(&'a self) -> Self::Writer {
        StderrAroundBar::default()
    }
}

/// The filter for a verbosity: -1 quiet, 0 info, 1 debug, 2 trace.
pub fn filter(verbosity: i8) -> EnvFilter {
    let ours = match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    EnvFilter::new(format!("warn,yuju_export={ours}"))
}

/// Install the global subscriber. Safe to call twice (the second is ignored).
pub fn init(settings: &LogSettings) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(settings.verbosity))
        .with_writer(MakeStderr)
        .with_target(false);
    let _ = match settings.format {
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// One log event for an Airbyte source: its text, written on flush as
/// LOG messages (one per line) on stdout, whole, beside the records.
pub struct AirbyteLog {
    level: &'static str,
    buf: Vec<u8>,
}

impl Write for AirbyteLog {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
        let mut lines = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let message = serde_json::json!({
                "type": "LOG",
                "log": {"level": self.level, "message": line.trim_end()},
            });
            lines.extend(crate::protocol::message_line(&message));
        }
        crate::protocol::write_lines(&lines)
    }
}

impl Drop for AirbyteLog {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

struct MakeAirbyteLog;

impl<'a> MakeWriter<'a> for MakeAirbyteLog {
    type Writer = AirbyteLog;
    fn make_writer(&'a self) -> Self::Writer {
        AirbyteLog {
            level: "INFO",
            buf: Vec::new(),
        }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        let level = match *meta.level() {
            tracing::Level::ERROR => "ERROR",
            tracing::Level::WARN => "WARN",
            tracing::Level::INFO => "INFO",
            tracing::Level::DEBUG => "DEBUG",
            tracing::Level::TRACE => "TRACE",
        };
        AirbyteLog {
            level,
            buf: Vec::new(),
        }
    }
}

/// Install the subscriber of an Airbyte source: every event becomes a LOG
/// message on stdout (the protocol's only channel).
pub fn init_airbyte() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(0))
        .with_writer(MakeAirbyteLog)
        .with_target(false)
        .with_level(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}
