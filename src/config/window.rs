//! The time window and the `--state` watermark: where the run's window
//! starts and ends, and what the state file recorded.

use crate::api::query::{is_relative, parse_time, Query, Zone};
use crate::config::options::ExportOptions;
use crate::config::shard::Shard;
use crate::config::template;
use crate::error::UsageError;
use crate::store::state::StateSettings;

use super::defaulted;

/// The time window and filters the API is asked for.
pub(super) struct TimeWindow {
    pub(super) query: Query,
    pub(super) zone: Zone,
    /// Now, on the wall clock of `zone`.
    pub(super) now: chrono::NaiveDateTime,
    /// The relative `--start`/`--end` as given (see the config field).
    pub(super) relative: String,
    pub(super) relative_bounds: (bool, bool),
    /// A `--state` run with nothing to export, in words.
    pub(super) up_to_date: Option<String>,
}

impl TimeWindow {
    pub(super) fn resolve(
        o: &ExportOptions,
        state: Option<&StateSettings>,
    ) -> Result<TimeWindow, UsageError> {
        check_days_alone(o, state)?;
        let name = o.tz.as_deref().unwrap_or_else(|| defaulted("tz"));
        let zone = Zone::parse(name).map_err(|e| UsageError::invalid(format!("--tz: {e}")))?;
        let now = zone.wall(chrono::Utc::now());
        let from_state = match state {
            Some(state) => state.start(zone)?,
            None => None,
        };
        // The state's start replaces --start; --end defaults to now.
        let start_spec = o.start.as_deref().filter(|_| from_state.is_none());
        let end_spec = o.end.as_deref().or(state.map(|_| "now"));
        // --start is checked even when the state replaces it: a typo in a
        // crontab shows the first night, not when the state is lost.
        let given_start = pick_time(o.start.as_deref(), "--start", zone, now)?;
        let start = from_state.or(given_start);
        let end = pick_time(end_spec, "--end", zone, now)?;
        let up_to_date = match state {
            Some(state) => check_state_window(o, state, start, end)?,
            None => None,
        };
        if let (Some(s), Some(e), None) = (start, end, &up_to_date) {
            if s > e {
                return Err(UsageError::invalid(format!(
                    "--start ({s}) is after --end ({e}): the window is empty"
                )));
            }
        }
        let (relative, relative_bounds) = relative_window(start_spec, end_spec, state, zone);
        let days = match o.days {
            Some(0) => return Err(UsageError::invalid("--days must be at least 1")),
            Some(d) => Some(d),
            None if start.is_none() && end.is_none() => Some(30),
            None => None,
        };
        Ok(TimeWindow {
            query: Query {
                days,
                start,
                end,
                chat_source: o.chat_source.clone(),
                chat_robot: o.chat_robot.clone(),
                seat_member: o.seat_member.clone(),
            },
            zone,
            now,
            relative,
            relative_bounds,
            up_to_date,
        })
    }
}

/// `--days` sets the window alone: with `--start` or `--end` the platform
/// would be sent both (a `--state` run refuses `--days` by itself).
fn check_days_alone(o: &ExportOptions, state: Option<&StateSettings>) -> Result<(), UsageError> {
    let (Some(days), None) = (o.days, state) else {
        return Ok(());
    };
    let other = [("--start", &o.start), ("--end", &o.end)]
        .into_iter()
        .find_map(|(flag, v)| v.as_ref().map(|_| flag));
    match other {
        Some(flag) => Err(UsageError::invalid(format!(
            "--days {days} and {flag} both set the window, and the platform would be sent \
             both: give --days N alone (the last N days), or --start and --end"
        ))),
        None => Ok(()),
    }
}

/// The relative bounds as given (`start="-24h" in UTC`), and which of the
/// two are relative: a resume keeps what they resolved to. A `--state`
/// run's end always counts as relative: a resume keeps the interrupted
/// run's window, whatever `--end` says this time.
fn relative_window(
    start_spec: Option<&str>,
    end_spec: Option<&str>,
    state: Option<&StateSettings>,
    zone: Zone,
) -> (String, (bool, bool)) {
    let start_relative = start_spec.filter(|s| is_relative(s));
    let end_relative = end_spec.filter(|s| is_relative(s) || state.is_some());
    let mut relative = Vec::new();
    if let Some(s) = start_relative {
        relative.push(format!("start={:?}", s.trim()));
    }
    match (state, end_relative) {
        (Some(_), _) => relative.push("end=<the interrupted --state run's>".to_string()),
        (None, Some(s)) => relative.push(format!("end={:?}", s.trim())),
        (None, None) => {}
    }
    let text = if relative.is_empty() {
        String::new()
    } else {
        format!("{} in {}", relative.join(" "), zone.name())
    };
    (text, (start_relative.is_some(), end_relative.is_some()))
}

/// `--state` and `--lookback`: the state path (which may hold `{shard}`
/// only) and what the file recorded.
pub(super) fn state_settings(
    o: &ExportOptions,
    shard: Option<Shard>,
) -> Result<Option<StateSettings>, UsageError> {
    let lookback = o.lookback.map(|d| d.0);
    let Some(path) = &o.state else {
        if o.accept_empty {
            return Err(UsageError::invalid(
                "--accept-empty needs --state: only a --state run compares a window with the \
                 last one",
            ));
        }
        if lookback.is_some() {
            return Err(UsageError::invalid(
                "--lookback needs --state: it moves back the start the state file records",
            ));
        }
        return Ok(None);
    };
    let path = template::expand_fixed(path, "--state", shard)?;
    let mut settings = StateSettings::load(path, lookback.unwrap_or_default())?;
    settings.accept_empty = o.accept_empty;
    Ok(Some(settings))
}

/// The window of a `--state` run: no `--days`; a start from the file or,
/// on the first run, from `--start`. When the last completed window ends
/// at or after `--end`, the run is up to date: the words that say so.
pub(super) fn check_state_window(
    o: &ExportOptions,
    state: &StateSettings,
    start: Option<chrono::NaiveDateTime>,
    end: Option<chrono::NaiveDateTime>,
) -> Result<Option<String>, UsageError> {
    if o.days.is_some() {
        return Err(UsageError::invalid(
            "--days cannot be used with --state: the state file sets where the window \
             starts; --end closes it (default: now)",
        ));
    }
    let Some(start) = start else {
        return Err(UsageError::invalid(format!(
            "the state file {} does not exist yet: pass --start for the first run's window \
             (later runs start where the last completed one ended)",
            state.path.display()
        )));
    };
    match end {
        Some(end) if start >= end && state.recorded.is_some() => Ok(Some(format!(
            "up to date: the last completed window ends at {} (--end is {end}); nothing to \
             export",
            state
                .recorded
                .map(crate::store::state::rfc3339)
                .unwrap_or_default()
        ))),
        _ => Ok(None),
    }
}

pub(super) fn pick_time(
    given: Option<&str>,
    flag: &str,
    zone: Zone,
    now: chrono::NaiveDateTime,
) -> Result<Option<chrono::NaiveDateTime>, UsageError> {
    given
        .map(|t| parse_time(t, zone, now).map_err(|e| UsageError::invalid(format!("{flag}: {e}"))))
        .transpose()
}
