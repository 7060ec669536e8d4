//! The log of an Airbyte source: every tracing event becomes a LOG
//! message on stdout, the protocol's only channel, written whole beside
//! the records (see [`super::write_lines`]).

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

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
            lines.extend(super::message_line(&message));
        }
        super::write_lines(&lines)
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
        .with_env_filter(crate::console::logging::filter(0))
        .with_writer(MakeAirbyteLog)
        .with_target(false)
        .with_level(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}
