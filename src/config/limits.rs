//! The numeric settings and their limits: concurrency, rate, retries,
//! timeouts, the progress interval. A whole-number setting's range is a
//! [`Limit`], declared once here: the validation checks it and `--help`
//! shows it (see [`crate::app::cli::command`]).

use std::time::Duration;

use crate::config::options::ExportOptions;
use crate::error::UsageError;
use crate::pace::retry::RetryPolicy;

use super::defaulted;

/// The range of a whole-number setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The setting's field in [`ExportOptions`] (its flag, kebab-cased).
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
}

/// `--concurrency`: requests in flight.
pub const CONCURRENCY: Limit = Limit {
    field: "concurrency",
    min: 1,
    max: 1024,
};

/// `--retries`: retries of one customer after faults.
pub const RETRIES: Limit = Limit {
    field: "retries",
    min: 0,
    max: 100,
};

/// `--parquet-row-group-rows`: rows in one Parquet row group.
pub const ROW_GROUP_ROWS: Limit = Limit {
    field: "parquet_row_group_rows",
    min: 1,
    max: 1 << 20,
};

/// Every whole-number setting with a range.
pub const LIMITS: [Limit; 3] = [CONCURRENCY, RETRIES, ROW_GROUP_ROWS];

impl Limit {
    /// The flag, as the user writes it.
    pub fn flag(&self) -> String {
        format!("--{}", self.field.replace('_', "-"))
    }

    /// The range, as `--help` shows it.
    pub fn shown(&self) -> String {
        format!("{} to {}", self.min, self.max)
    }

    /// `value`, when it is within the range.
    pub fn check<T: Copy + Into<u64>>(&self, value: T) -> Result<T, UsageError> {
        let v: u64 = value.into();
        if (self.min..=self.max).contains(&v) {
            Ok(value)
        } else {
            Err(UsageError::invalid(format!(
                "{} must be from {}, got {v}",
                self.flag(),
                self.shown()
            )))
        }
    }
}

/// Bounds of `--rate`, requests per second: slower than one a minute is
/// a mistake, and the pacing arithmetic stays far from overflow.
pub(super) const MIN_RATE: f64 = 1.0 / 60.0;
pub(super) const MAX_RATE: f64 = 100_000.0;

/// `--concurrency` and `--rate`.
pub(super) fn pace(o: &ExportOptions) -> Result<(usize, Option<f64>), UsageError> {
    let concurrency = o.concurrency.unwrap_or_else(|| defaulted("concurrency"));
    CONCURRENCY.check(concurrency as u64)?;
    if let Some(r) = o.rate {
        if !(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r)) {
            return Err(UsageError::invalid(format!(
                "--rate must be a number of requests per second from {MIN_RATE:.4} \
                 (one a minute) to {MAX_RATE}, got {r}"
            )));
        }
    }
    Ok((concurrency, o.rate))
}

/// How often a progress line is logged: at least a tenth of a second.
pub(super) fn progress_interval(o: &ExportOptions) -> Result<Duration, UsageError> {
    let interval = o
        .progress_interval
        .map_or_else(|| defaulted("progress_interval"), |d| d.0);
    if interval < Duration::from_millis(100) {
        return Err(UsageError::invalid(format!(
            "--progress-interval must be at least 100ms, got {}",
            humantime::format_duration(interval)
        )));
    }
    Ok(interval)
}

/// The timeouts and the retry policy.
pub(super) fn timing(o: &ExportOptions) -> Result<(Duration, Duration, RetryPolicy), UsageError> {
    let duration = |d: Option<crate::config::options::HumanDuration>, name: &str| -> Duration {
        d.map_or_else(|| defaulted(name), |d| d.0)
    };
    let timeout = duration(o.timeout, "timeout");
    let connect_timeout = duration(o.connect_timeout, "connect_timeout");
    if timeout.is_zero() || connect_timeout.is_zero() {
        return Err(UsageError::invalid(
            "--timeout and --connect-timeout must be above zero",
        ));
    }
    let retries = RETRIES.check(o.retries.unwrap_or_else(|| defaulted("retries")))?;
    let base = duration(o.retry_base, "retry_base");
    let cap = duration(o.retry_cap, "retry_cap");
    if cap < base {
        return Err(UsageError::invalid(format!(
            "--retry-cap ({}) is below --retry-base ({})",
            humantime::format_duration(cap),
            humantime::format_duration(base)
        )));
    }
    let retry = RetryPolicy {
        max_retries: retries,
        max_retry_after: duration(o.max_retry_after, "max_retry_after"),
        base,
        cap,
        ..RetryPolicy::default()
    };
    Ok((timeout, connect_timeout, retry))
}
