//! `--state`: the watermark of a scheduled export.
//!
//! A small JSON file records where the last completed window ended (an RFC
//! 3339 instant), when that run ended, which output it wrote and how many
//! rows. The next run's window starts there (minus `--lookback`), so a
//! missed night is caught up by the next one instead of being lost.
//!
//! The file is written atomically ([`crate::store::safefs::write_atomic`]), and
//! only after the output is committed, by a run that completed with no
//! failure but the platform's definitive answers
//! ([`crate::export::FailureKind::is_definitive`]). Any other run leaves
//! it as it was, and the next run covers the same window again.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::api::query::Zone;
use crate::error::UsageError;
use crate::store::safefs::FileMode;

/// Most bytes read from a state file: it holds a few lines.
const MAX_STATE_BYTES: u64 = 64 * 1024;

/// `--state`, validated: the file and what it recorded when the run
/// started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub path: PathBuf,
    /// The end of the last completed window; `None` while the file does
    /// not exist (the first run, whose window starts at `--start`).
    pub recorded: Option<DateTime<FixedOffset>>,
    /// How many customers the last completed window asked, and how many
    /// of them had chats; `None` before a version that kept them.
    pub last_share: Option<Share>,
    /// How far before the recorded end the window starts.
    pub lookback: Duration,
    /// `--accept-empty`: take a night with no chat anywhere as real.
    pub accept_empty: bool,
    /// How many contacts the last completed `--all-contacts` window's
    /// list held.
    pub last_contacts: Option<u64>,
}

/// Customers a window asked, and how many of them had chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub customers: u64,
    pub with_chats: u64,
}

impl Share {
    /// The share of customers with chats, in percent.
    pub fn percent(self) -> f64 {
        100.0 * self.with_chats as f64 / self.customers.max(1) as f64
    }
}

/// A night is suspect when at least this many customers were asked ...
pub const EMPTY_NIGHT_CUSTOMERS: u64 = 50;
/// ... none had a chat, and the last completed window had chats for at
/// least this share of its customers (in percent).
pub const EMPTY_NIGHT_LAST_PERCENT: f64 = 10.0;

impl StateSettings {
    /// Read the state file at `path` (none yet is not an error).
    pub fn load(path: PathBuf, lookback: Duration) -> Result<StateSettings, UsageError> {
        let recorded = load_record(&path)?;
        Ok(StateSettings {
            path,
            recorded: recorded.map(|r| r.end),
            last_share: recorded.and_then(|r| r.share),
            last_contacts: recorded.and_then(|r| r.contacts),
            lookback,
            accept_empty: false,
        })
    }

    /// Whether a window in which `now` was asked looks empty everywhere
    /// while the last completed one did not: a platform whose database is
    /// down can answer every customer with an empty `Data`. Returns the
    /// words for the operator. `--accept-empty` takes such a night as real.
    pub fn empty_night(&self, now: Share) -> Option<String> {
        let last = self.last_share?;
        let suspect = !self.accept_empty
            && now.customers >= EMPTY_NIGHT_CUSTOMERS
            && now.with_chats == 0
            && last.percent() >= EMPTY_NIGHT_LAST_PERCENT;
        suspect.then(|| {
            format!(
                "no customer had a chat in this window (0 % of {}), while {:.1} % of {} had \
                 in the last completed window: the platform may have answered empty for \
                 everyone",
                now.customers,
                last.percent(),
                last.customers
            )
        })
    }

    /// The window's start as the state sets it, on the wall clock of
    /// `zone`; `None` on the first run.
    pub fn start(&self, zone: Zone) -> Result<Option<NaiveDateTime>, UsageError> {
        let Some(end) = self.recorded else {
            return Ok(None);
        };
        let back = chrono::Duration::from_std(self.lookback)
            .ok()
            .and_then(|d| end.to_utc().checked_sub_signed(d))
            .ok_or_else(|| UsageError::invalid("--lookback is too long"))?;
        Ok(Some(zone.wall(back)))
    }

    /// Where the window's start comes from, in words.
    pub fn start_origin(&self) -> String {
        match self.recorded {
            Some(end) if self.lookback.is_zero() => format!(
                "the end of the last completed window ({}), from the state file {}",
                rfc3339(end),
                self.path.display()
            ),
            Some(end) => format!(
                "the end of the last completed window ({}) minus --lookback {}, from the \
                 state file {}",
                rfc3339(end),
                humantime::format_duration(self.lookback),
                self.path.display()
            ),
            None => format!(
                "--start (the state file {} does not exist yet: this is its first run)",
                self.path.display()
            ),
        }
    }
}

/// What the file holds: the window's end is what runs read back; the rest
/// is for people.
#[derive(Debug, Serialize)]
struct Record<'a> {
    window_start: Option<String>,
    window_end: String,
    run_ended_at: String,
    output: Option<&'a str>,
    rows: u64,
    exit_code: u8,
    /// Customers the window asked, and how many had chats: what tells a
    /// later night that is empty everywhere from a quiet one.
    customers: u64,
    customers_with_chats: u64,
    /// How many contacts the list held (`--all-contacts` only): what tells
    /// a list cut short from one that shrank.
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<u64>,
}

#[derive(Deserialize)]
struct ReadBack {
    window_end: String,
    #[serde(default)]
    customers: Option<u64>,
    #[serde(default)]
    customers_with_chats: Option<u64>,
    #[serde(default)]
    contacts: Option<u64>,
}

/// What a state file records, as runs read it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The end of the last completed window.
    pub end: DateTime<FixedOffset>,
    /// Its customers and how many had chats, when the file says.
    pub share: Option<Share>,
    /// How many contacts its list held, when it took the contact list.
    pub contacts: Option<u64>,
}

/// The recorded window end in `path`, or `None` when there is no file.
/// Errors name the file (and the line, for a damaged one): a damaged state
/// is never taken for a missing one, which would restart from `--start`.
pub fn load(path: &Path) -> Result<Option<DateTime<FixedOffset>>, UsageError> {
    Ok(load_record(path)?.map(|r| r.end))
}

/// What the state file at `path` records, or `None` when there is none.
pub fn load_record(path: &Path) -> Result<Option<Recorded>, UsageError> {
    let read = |e: std::io::Error| UsageError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    // Judged by name first: a FIFO would block the open, and a link is
    // not a file of ours.
    if let crate::store::safefs::Occupant::Refused(what) =
        crate::store::safefs::occupant(path).map_err(read)?
    {
        return Err(UsageError::invalid(format!(
            "--state: {}",
            crate::store::safefs::refused(path, what)
        )));
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read(e)),
    };
    if !file.metadata().map_err(read)?.is_file() {
        return Err(UsageError::invalid(format!(
            "--state {}: not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(UsageError::invalid(format!(
            "--state {}: larger than {MAX_STATE_BYTES} bytes, not a state file",
            path.display()
        )));
    }
    let back: ReadBack = serde_json::from_slice(&bytes).map_err(|e| {
        let what = e.to_string();
        // serde_json ends its message with " at line L column C".
        let what = what.split(" at line ").next().unwrap_or(&what).to_string();
        UsageError::invalid(format!(
            "--state {}, line {}, column {}: {what}. Fix or remove the file (without it the \
             next run starts at --start)",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    let share = match (back.customers, back.customers_with_chats) {
        (Some(customers), Some(with_chats)) if with_chats <= customers => Some(Share {
            customers,
            with_chats,
        }),
        _ => None,
    };
    DateTime::parse_from_rfc3339(back.window_end.trim())
        .map(|end| {
            Some(Recorded {
                end,
                share,
                contacts: back.contacts,
            })
        })
        .map_err(|_| {
            // The line of the key, for the message (the file is small).
            let text = String::from_utf8_lossy(&bytes);
            let line = text
                .lines()
                .position(|l| l.contains("\"window_end\""))
                .map_or(1, |i| i + 1);
            UsageError::invalid(format!(
                "--state {}, line {line}: window_end is not an RFC 3339 time such as \
                 \"2026-11-26T00:00:00+08:00\". Fix or remove the file (without it the next \
                 run starts at --start)",
                path.display()
            ))
        })
}

/// An instant as the state file and the summary write it.
pub fn rfc3339(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Why the watermark stayed where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeptBecause {
    /// The run did not complete: stopped, interrupted, or an output error.
    #[serde(rename = "incomplete")]
    Incomplete,
    /// Some customers failed for a reason a later run may not meet (a
    /// transient fault, a long Retry-After, a 3xx, a too large answer, a
    /// `Code` nobody has classified).
    #[serde(rename = "transient_failures")]
    TransientFailures,
    /// The state file could not be written.
    #[serde(rename = "state_not_written")]
    NotWritten,
    /// Every customer of the run failed, whatever the classes: nothing
    /// says the window was read.
    #[serde(rename = "all_failed")]
    AllFailed,
    /// No customer had a chat, while the last completed window had chats
    /// for many (see [`StateSettings::empty_night`]).
    #[serde(rename = "empty_everywhere")]
    EmptyEverywhere,
    /// Nothing to export: the last completed window ends at or after
    /// `--end`.
    #[serde(rename = "up_to_date")]
    UpToDate,
}

/// What became of the watermark, for the summary, the log and the metrics.
#[derive(Debug, Clone, Serialize)]
pub struct StateReport {
    /// The state file.
    pub file: String,
    /// Whether this run moved the watermark to its window's end.
    pub moved: bool,
    /// Why it did not, if it did not.
    pub kept_because: Option<KeptBecause>,
    /// This run's window (RFC 3339).
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// The watermark after this run: where the next window starts (before
    /// `--lookback`); null while none was ever recorded.
    pub watermark: Option<String>,
    /// The same, as an instant (for the metrics).
    #[serde(skip)]
    pub watermark_at: Option<DateTime<Utc>>,
    /// Why a night empty everywhere is suspect, in words.
    #[serde(skip)]
    pub empty_night: Option<String>,
}

impl fmt::Display for StateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.watermark.as_deref().unwrap_or("none yet");
        match self.kept_because {
            None => write!(f, "watermark moved to {at}"),
            Some(why) => {
                let why = match why {
                    KeptBecause::Incomplete => "the run did not complete",
                    KeptBecause::TransientFailures => {
                        "customers failed for reasons a later run may not meet"
                    }
                    KeptBecause::NotWritten => "the state file could not be written",
                    KeptBecause::AllFailed => "every customer failed",
                    KeptBecause::EmptyEverywhere => {
                        "no customer had a chat, which looks like the platform's fault"
                    }
                    KeptBecause::UpToDate => "up to date: nothing to export",
                };
                write!(f, "watermark kept at {at} ({why})")
            }
        }
    }
}

/// What became of the watermark in a run with nothing to export: it stays
/// where the last completed window ended, which is at or after `end`.
pub fn up_to_date(
    settings: &StateSettings,
    start: Option<NaiveDateTime>,
    end: Option<NaiveDateTime>,
    zone: Zone,
) -> StateReport {
    let at = |t: Option<NaiveDateTime>| t.map(|t| rfc3339(zone.instant(t)));
    StateReport {
        file: settings.path.display().to_string(),
        moved: false,
        kept_because: Some(KeptBecause::UpToDate),
        window_start: at(start),
        window_end: at(end),
        watermark: settings.recorded.map(rfc3339),
        watermark_at: settings.recorded.map(|t| t.to_utc()),
        empty_night: None,
    }
}

/// How the run that is ending went, as far as the watermark cares.
#[derive(Debug, Clone)]
pub struct RunEnd<'a> {
    /// Every customer done and the files committed.
    pub complete: bool,
    /// Failed customers whose failure was not definitive.
    pub failed_not_definitive: u64,
    /// Customers the window asked (exported, empty or failed), and how
    /// many had chats.
    pub share: Share,
    /// Failed customers, whatever the class.
    pub failed: u64,
    /// The window looks empty everywhere: why, in words
    /// ([`StateSettings::empty_night`]).
    pub empty_night: Option<String>,
    /// The window the run exported, on the wall clock of `zone`.
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    pub zone: Zone,
    pub output: Option<&'a Path>,
    pub rows: u64,
    pub exit_code: u8,
    /// How many contacts the run's list held (`--all-contacts`).
    pub contacts: Option<u64>,
}

impl RunEnd<'_> {
    /// Why the run's window is not done, if it is not: the watermark's one
    /// rule (a pipeline's bookmark follows it too).
    pub fn kept_because(&self) -> Option<KeptBecause> {
        if !self.complete || self.end.is_none() {
            Some(KeptBecause::Incomplete)
        } else if self.failed > 0 && self.failed >= self.share.customers {
            Some(KeptBecause::AllFailed)
        } else if self.failed_not_definitive > 0 {
            Some(KeptBecause::TransientFailures)
        } else if self.empty_night.is_some() {
            Some(KeptBecause::EmptyEverywhere)
        } else {
            None
        }
    }
}

/// Move the watermark to the end of `run`'s window when the run allows it,
/// writing the state file; report what became of it, and the error when
/// the file could not be written. `may_write` false: the file could not be
/// written earlier in this ending, so it is reported as not written.
pub fn settle(
    settings: &StateSettings,
    run: &RunEnd,
    mode: FileMode,
    may_write: bool,
) -> (StateReport, Option<anyhow::Error>) {
    let at = |t: Option<NaiveDateTime>| t.map(|t| run.zone.instant(t));
    let (start, end) = (at(run.start), at(run.end));
    let mut report = StateReport {
        file: settings.path.display().to_string(),
        moved: false,
        kept_because: None,
        window_start: start.map(rfc3339),
        window_end: end.map(rfc3339),
        watermark: settings.recorded.map(rfc3339),
        watermark_at: settings.recorded.map(|t| t.to_utc()),
        empty_night: None,
    };
    let kept = run
        .kept_because()
        .or((!may_write).then_some(KeptBecause::NotWritten));
    if let Some(why) = kept {
        report.kept_because = Some(why);
        if why == KeptBecause::EmptyEverywhere {
            report.empty_night = run.empty_night.clone();
        }
        return (report, None);
    }
    let end = end.expect("checked above");
    let output = run.output.map(|p| p.display().to_string());
    let record = Record {
        window_start: report.window_start.clone(),
        window_end: rfc3339(end),
        run_ended_at: rfc3339(run.zone.instant(run.zone.wall(Utc::now()))),
        output: output.as_deref(),
        rows: run.rows,
        exit_code: run.exit_code,
        customers: run.share.customers,
        customers_with_chats: run.share.with_chats,
        contacts: run.contacts,
    };
    let mut json = serde_json::to_vec_pretty(&record).expect("the state serialises");
    json.push(b'\n');
    match crate::store::safefs::write_atomic(&settings.path, &json, mode) {
        Ok(()) => {
            report.moved = true;
            report.watermark = Some(rfc3339(end));
            report.watermark_at = Some(end.to_utc());
            (report, None)
        }
        Err(e) => {
            report.kept_because = Some(KeptBecause::NotWritten);
            let e = anyhow::Error::new(e).context(format!(
                "cannot write the state file {} (the export is complete; the next run \
                 exports its window again)",
                settings.path.display()
            ));
            (report, Some(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, crate::api::query::WIRE_TIME_FORMAT).unwrap()
    }

    fn run(complete: bool, not_definitive: u64) -> RunEnd<'static> {
        RunEnd {
            complete,
            failed_not_definitive: not_definitive,
            share: Share {
                customers: 10,
                with_chats: 4,
            },
            failed: not_definitive,
            empty_night: None,
            start: Some(wall("2026-11-25 00:00:00")),
            end: Some(wall("2026-11-26 00:00:00")),
            zone: Zone::parse("Asia/Shanghai").unwrap(),
            output: Some(Path::new("chats.csv")),
            rows: 12,
            exit_code: 0,
            contacts: None,
        }
    }

    /// A complete run writes the state; the next load reads its end back,
    /// and the window after it starts there (less the lookback).
    #[test]
    fn a_complete_run_moves_the_watermark_and_it_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let settings = StateSettings::load(path.clone(), Duration::ZERO).unwrap();
        assert_eq!(settings.recorded, None);
        let (report, err) = settle(&settings, &run(true, 0), FileMode::default(), true);
        assert!(err.is_none() && report.moved, "{report:?}");
        assert_eq!(
            report.watermark.as_deref(),
            Some("2026-11-26T00:00:00+08:00")
        );
        let text: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(text["window_end"], "2026-11-26T00:00:00+08:00");
        assert_eq!(text["output"], "chats.csv");
        assert_eq!(text["rows"], 12);

        let utc = Zone::parse("UTC").unwrap();
        let again = StateSettings::load(path.clone(), Duration::from_secs(7200)).unwrap();
        assert_eq!(
            again.start(utc).unwrap(),
            Some(wall("2026-11-25 14:00:00")),
            "midnight in Shanghai, two hours back, in UTC"
        );
        assert!(again.start_origin().contains("--lookback 2h"));
    }

    #[test]
    fn an_incomplete_or_transiently_failed_run_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let settings = StateSettings::load(path.clone(), Duration::ZERO).unwrap();
        for (r, why) in [
            (run(false, 0), KeptBecause::Incomplete),
            (run(true, 1), KeptBecause::TransientFailures),
        ] {
            let (report, err) = settle(&settings, &r, FileMode::default(), true);
            assert!(err.is_none());
            assert_eq!((report.moved, report.kept_because), (false, Some(why)));
            assert!(!path.exists());
        }
    }

    #[test]
    fn a_run_whose_every_customer_failed_keeps_it_whatever_the_class() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StateSettings::load(dir.path().join("s.json"), Duration::ZERO).unwrap();
        let all = RunEnd {
            failed: 10,
            failed_not_definitive: 0,
            ..run(true, 0)
        };
        assert_eq!(all.kept_because(), Some(KeptBecause::AllFailed));
        let (report, _) = settle(&settings, &all, FileMode::default(), true);
        assert!(!report.moved);
        let some = RunEnd {
            failed: 9,
            failed_not_definitive: 0,
            ..run(true, 0)
        };
        assert_eq!(some.kept_because(), None, "one customer was answered");
    }

    /// The share is written and read back; a night with no chat among 50
    /// customers after one with chats for 10 % is suspect, unless accepted.
    #[test]
    fn an_empty_night_after_a_busy_one_is_suspect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = StateSettings::load(path.clone(), Duration::ZERO).unwrap();
        let busy = RunEnd {
            share: Share {
                customers: 50,
                with_chats: 5,
            },
            ..run(true, 0)
        };
        let empty = |customers| Share {
            customers,
            with_chats: 0,
        };
        assert_eq!(first.empty_night(empty(500)), None, "no state: no history");
        settle(&first, &busy, FileMode::default(), true);
        let mut next = StateSettings::load(path.clone(), Duration::ZERO).unwrap();
        assert_eq!(
            next.last_share,
            Some(Share {
                customers: 50,
                with_chats: 5
            })
        );
        let why = next.empty_night(empty(50)).expect("suspect");
        assert!(
            why.contains("0 % of 50") && why.contains("10.0 % of 50"),
            "{why}"
        );
        assert_eq!(
            next.empty_night(empty(49)),
            None,
            "too few customers to tell"
        );
        let one = Share {
            customers: 80,
            with_chats: 1,
        };
        assert_eq!(next.empty_night(one), None, "one customer had chats");
        next.accept_empty = true;
        assert_eq!(next.empty_night(empty(80)), None, "--accept-empty");
        // A quiet last window makes an empty one unremarkable.
        let quiet = RunEnd {
            share: Share {
                customers: 100,
                with_chats: 9,
            },
            ..run(true, 0)
        };
        settle(&first, &quiet, FileMode::default(), true);
        let next = StateSettings::load(path.clone(), Duration::ZERO).unwrap();
        assert_eq!(next.empty_night(empty(100)), None);
        let held = RunEnd {
            empty_night: Some("why".into()),
            ..run(true, 0)
        };
        assert_eq!(held.kept_because(), Some(KeptBecause::EmptyEverywhere));
    }

    /// A state file of an earlier version, without the share, still reads.
    #[test]
    fn a_state_without_the_share_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            "{\n  \"window_start\": null,\n  \"window_end\": \"2026-11-26T00:00:00+08:00\",\n  \
             \"run_ended_at\": \"2026-11-26T03:12:00+08:00\",\n  \"output\": \"a.csv\",\n  \
             \"rows\": 3,\n  \"exit_code\": 0\n}\n",
        )
        .unwrap();
        let s = StateSettings::load(path, Duration::ZERO).unwrap();
        assert!(s.recorded.is_some());
        assert_eq!(s.last_share, None);
    }

    #[test]
    fn a_damaged_state_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\n  \"window_end\": \"yesterday\"\n}\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("s.json, line 2"), "{err}");
        assert!(err.contains("RFC 3339"), "{err}");
        std::fs::write(&path, "{\"rows\": 1}").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("window_end"), "{err}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(load(&path).is_err());
    }
}
