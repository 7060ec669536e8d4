//! Progress: an indicatif bar on a terminal, or under cron (no terminal) one
//! log line every 10 seconds.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// Only when stderr is a terminal; otherwise a log line every 10 s.
    Auto,
    /// Always draw the bar on stderr.
    Always,
    /// Never draw the bar; log a progress line every 10 s instead.
    Never,
}

/// How often a progress line is logged when no bar is drawn.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What the progress shows: customers done, rows and failures.
#[derive(Debug, Default)]
struct Counts {
    done: AtomicU64,
    rows: AtomicU64,
    failed: AtomicU64,
}

/// The run's progress display: a bar, or a log line every
/// [`LOG_INTERVAL`].
pub struct Progress {
    bar: Option<ProgressBar>,
    counts: Arc<Counts>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Progress over `total` customers: a bar when `mode` and the terminal
    /// allow one, else log lines (which also report `requests()`). Must be
    /// called inside a tokio runtime.
    pub fn start(
        mode: ProgressMode,
        total: u64,
        requests: impl Fn() -> u64 + Send + 'static,
    ) -> Progress {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        let counts = Arc::new(Counts::default());
        if !show {
            let ticker = spawn_log_ticker(counts.clone(), total, requests);
            return Progress {
                bar: None,
                counts,
                ticker: Some(ticker),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} customers · {msg} · ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_message("0 rows · 0 failed");
        bar.enable_steady_tick(Duration::from_millis(200));
        crate::logging::set_bar(bar.clone());
        Progress {
            bar: Some(bar),
            counts,
            ticker: None,
        }
    }

    /// Customers done so far (from the first), rows and failures.
    pub fn update(&self, done: u64, rows: u64, failed: u64) {
        self.counts.done.store(done, Relaxed);
        self.counts.rows.store(rows, Relaxed);
        self.counts.failed.store(failed, Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!(
                "{rows} rows · {failed} failed · {:.1}/s",
                bar.per_sec()
            ));
        }
    }

    /// Remove the bar (or stop the log lines) before the summary is printed.
    pub fn finish(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        if let Some(bar) = &self.bar {
            crate::logging::clear_bar();
            bar.finish_and_clear();
        }
    }
}

/// Log a progress line every [`LOG_INTERVAL`] until the task is aborted.
fn spawn_log_ticker(
    counts: Arc<Counts>,
    total: u64,
    requests: impl Fn() -> u64 + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(start + LOG_INTERVAL, LOG_INTERVAL);
        loop {
            tick.tick().await;
            let done = counts.done.load(Relaxed);
            let secs = start.elapsed().as_secs_f64();
            let rate = done as f64 / secs.max(1e-9);
            let eta = if rate > 0.0 {
                humantime::format_duration(Duration::from_secs(
                    (total.saturating_sub(done) as f64 / rate) as u64,
                ))
                .to_string()
            } else {
                "unknown".into()
            };
            tracing::info!(
                done,
                total,
                rows = counts.rows.load(Relaxed),
                failed = counts.failed.load(Relaxed),
                requests = requests(),
                "progress: {done}/{total} customers, {rate:.1}/s, ETA {eta}"
            );
        }
    })
}
