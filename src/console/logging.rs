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
