//! Progress: an indicatif bar on a terminal, or under cron (no terminal) one
//! log line every 10 seconds.

use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressMode;
use crate::summary::LiveStats;

/// How often a progress line is logged when no bar is drawn.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The run's progress display.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` customers, when `mode` and the terminal allow one.
    pub fn new(mode: ProgressMode, total: u64) -> Progress {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        if !show {
            return Progress { bar: None };
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
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is drawn (otherwise, progress goes to the log).
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Customers written so far, rows and failures.
    pub fn update(&self, done: u64, rows: u64, failed: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!(
                "{rows} rows · {failed} failed · {:.1}/s",
                bar.per_sec()
            ));
        }
    }

    /// Remove the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            crate::logging::clear_bar();
            bar.finish_and_clear();
        }
    }
}

/// Log a progress line every [`LOG_INTERVAL`] until the task is aborted.
pub fn spawn_log_ticker(stats: Arc<LiveStats>, total: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval_at(start + LOG_INTERVAL, LOG_INTERVAL);
        loop {
            tick.tick().await;
            let done = stats.done.load(Relaxed);
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
                rows = stats.rows.load(Relaxed),
                failed = stats.failed.load(Relaxed),
                requests = stats.requests.load(Relaxed),
                "progress: {done}/{total} customers, {rate:.1}/s, ETA {eta}"
            );
        }
    })
}
