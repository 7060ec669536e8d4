//! Progress: an indicatif bar on a terminal, or under cron (no terminal) one
//! log line every 10 seconds (`--progress-interval`). Both count customers
//! answered, with the in-order written count beside (see [`Counts`]).

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

/// How often a progress line is logged when no bar is drawn, unless
/// `--progress-interval` says otherwise.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What the progress shows. Customers are counted when *answered*
/// (exported, empty or failed), in whatever order the answers come: that
/// is the work done, and what the rate and the ETA come from. They are
/// written in input order, so one customer waiting on retries holds the
/// written count back while the run goes on at full pace; the written
/// count is shown beside, as a second figure.
#[derive(Debug, Default)]
struct Counts {
    answered: AtomicU64,
    written: AtomicU64,
    rows: AtomicU64,
    failed: AtomicU64,
}

/// Where a run starts: what earlier runs of it committed (a resume).
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub customers: u64,
    pub rows: u64,
    pub failed: u64,
}

/// The run's progress display: a bar, or a log line every interval.
pub struct Progress {
    bar: Option<ProgressBar>,
    counts: Arc<Counts>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Progress over `total` customers from `start`: a bar when `mode` and
    /// the terminal allow one, else a log line every `interval` (which also
    /// reports `requests()`). Must be called inside a tokio runtime.
    pub fn start(
        mode: ProgressMode,
        interval: Duration,
        total: u64,
        start: Start,
        requests: impl Fn() -> u64 + Send + 'static,
    ) -> Progress {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        let counts = Arc::new(Counts {
            answered: AtomicU64::new(start.customers),
            written: AtomicU64::new(start.customers),
            rows: AtomicU64::new(start.rows),
            failed: AtomicU64::new(start.failed),
        });
        if !show {
            let ticker = spawn_log_ticker(counts.clone(), total, interval, requests);
            return Progress {
                bar: None,
                counts,
                ticker: Some(ticker),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} answered · {msg} · ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_position(start.customers);
        bar.reset_eta();
        let progress = Progress {
            bar: Some(bar.clone()),
            counts,
            ticker: None,
        };
        progress.redraw();
        bar.enable_steady_tick(Duration::from_millis(200));
        crate::console::logging::set_bar(bar);
        progress
    }

    /// A customer was answered: exported with `rows` rows, or failed.
    pub fn answered(&self, rows: u64, failed: bool) {
        self.counts.answered.fetch_add(1, Relaxed);
        self.counts.rows.fetch_add(rows, Relaxed);
        if failed {
            self.counts.failed.fetch_add(1, Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            self.redraw();
        }
    }

    /// Customers written so far, in input order (from the first).
    pub fn written(&self, written: u64) {
        if self.counts.written.swap(written, Relaxed) != written {
            self.redraw();
        }
    }

    fn redraw(&self) {
        let Some(bar) = &self.bar else {
            return;
        };
        let c = &self.counts;
        let written = c.written.load(Relaxed);
        let lag = if written < c.answered.load(Relaxed) {
            format!(" · written {written}")
        } else {
            String::new()
        };
        bar.set_message(format!(
            "{} rows · {} failed · {:.1}/s{lag}",
            c.rows.load(Relaxed),
            c.failed.load(Relaxed),
            bar.per_sec()
        ));
    }

    /// Remove the bar (or stop the log lines) before the summary is printed.
    pub fn finish(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        if let Some(bar) = &self.bar {
            crate::console::logging::clear_bar();
            bar.finish_and_clear();
        }
    }
}

/// Log a progress line every `interval` until the task is aborted.
fn spawn_log_ticker(
    counts: Arc<Counts>,
    total: u64,
    interval: Duration,
    requests: impl Fn() -> u64 + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let first = counts.answered.load(Relaxed);
        let mut tick = tokio::time::interval_at(start + interval, interval);
        loop {
            tick.tick().await;
            let answered = counts.answered.load(Relaxed);
            let written = counts.written.load(Relaxed);
            let secs = start.elapsed().as_secs_f64();
            let rate = (answered - first) as f64 / secs.max(1e-9);
            let eta = if rate > 0.0 {
                humantime::format_duration(Duration::from_secs(
                    (total.saturating_sub(answered) as f64 / rate) as u64,
                ))
                .to_string()
            } else {
                "unknown".into()
            };
            let rows = counts.rows.load(Relaxed);
            let failed = counts.failed.load(Relaxed);
            tracing::info!(
                answered,
                written,
                total,
                rows,
                failed,
                requests = requests(),
                "progress: {answered}/{total} customers answered ({written} written), {rows} \
                 rows, {failed} failed, {rate:.1}/s, ETA {eta}"
            );
        }
    })
}
