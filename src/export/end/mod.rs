//! The end of a run, in one place: commit the files ([`commit`]), decide
//! the exit ([`exit`]), then write the `--state` watermark, the
//! `--metrics` file ([`metrics`]) and the `--summary` ([`summary`]), all
//! from that one decision of [`exit_for`], so the exit code, the status,
//! the state file, the metrics and the summary always say the same thing.
//! What the operator is told is worded by the front doors
//! (`crate::app::explain`).
//!
//! The decision depends on whether those files can be written (one that
//! cannot makes the run exit 4). So the files are written from the
//! decision, and a file that fails to be written changes the gathered
//! outcomes: the decision is taken again from them, and every file
//! already written is written again to match. Each file can fail once, so
//! this ends after at most four rounds; in the usual run it is one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub mod commit;
pub mod contacts;
pub mod exit;
pub mod metrics;
pub mod summary;

use commit::Committed;
use exit::{exit_for, Ending};
use summary::{Customers, Summary};

use super::control::Control;
use super::fetch::Fetcher;
use super::outcome::StopCause;
use super::writer::Written;
use super::Report;
use crate::config::shard::Shard;
use crate::config::ExportConfig;
use crate::error::{Exit, RunError};
use crate::store::journal::Tally;
use crate::store::safefs::FileMode;
use crate::store::state::{RunEnd, Share, StateSettings};

/// What the run knows of itself besides its files.
pub struct RunFacts {
    pub total: usize,
    pub duplicates: u64,
    pub resumed_from: usize,
    pub stall: Duration,
    pub started: Instant,
}

/// Which of the end's files could not be written.
#[derive(Debug, Default, Clone, Copy)]
struct NotWritten {
    state: bool,
    metrics: bool,
    summary: bool,
}

/// The files written at the end from the decision, and how.
pub struct EndFiles<'a> {
    /// `--state`, and the run as the watermark sees it (its exit code is
    /// the decision's).
    pub state: Option<(&'a StateSettings, RunEnd<'a>)>,
    pub metrics: Option<&'a Path>,
    pub summary: Option<&'a Path>,
    pub mode: FileMode,
    pub shard: Option<Shard>,
    /// When the run ended, the same in every round.
    pub ended: DateTime<Utc>,
}

/// Commit the files, decide the ending, and write the state, the metrics
/// and the summary from that one decision.
pub fn finish(
    config: &ExportConfig,
    fetcher: &Fetcher,
    control: &Control,
    written: Written,
    run: RunFacts,
) -> Report {
    let done = written.done();
    let tally = written.tally().clone();
    let mut committed = commit::commit(written, run.total, &config.files.out);
    let output_error = committed.error.take();
    let gathered = Ending {
        complete: committed.complete,
        failed: tally.failed,
        stop: control.reason(),
        output_error: output_error.is_some(),
        state_error: false,
        report_error: false,
        empty_night: false,
    };
    let end = run_end(config, &committed, &tally);
    let gathered = Ending {
        empty_night: end.empty_night.is_some(),
        ..gathered
    };
    let window_done = end.kept_because().is_none();
    let files = EndFiles {
        state: config.state.as_ref().map(|settings| (settings, end)),
        metrics: config.files.metrics.as_deref(),
        summary: config.files.summary.as_deref(),
        mode: config.file_mode,
        shard: config.shard,
        ended: chrono::Utc::now(),
    };
    let facts = || summary_facts(config, fetcher, &committed, &tally, &run, done);
    Report {
        window_done,
        window_end: config.query.end,
        ..conclude(gathered, &files, output_error, facts)
    }
}

/// Decide the ending from what was `gathered`, and write the end's files
/// from the decision, deciding again whenever one fails (see the module
/// notes). `facts` gives the summary's figures; `error` is the commit's.
pub fn conclude(
    gathered: Ending,
    files: &EndFiles,
    error: Option<anyhow::Error>,
    facts: impl Fn() -> Summary,
) -> Report {
    let mut failed = NotWritten::default();
    let mut errors: Vec<anyhow::Error> = error.into_iter().collect();
    loop {
        let ending = Ending {
            state_error: failed.state,
            report_error: failed.metrics || failed.summary,
            ..gathered
        };
        let (exit, status, stopped_because) = exit_for(ending);
        let state = match &files.state {
            Some((settings, end)) => {
                let end = RunEnd {
                    exit_code: exit.code(),
                    ..end.clone()
                };
                let (report, error) =
                    crate::store::state::settle(settings, &end, files.mode, !failed.state);
                if let Some(e) = error {
                    failed.state = true;
                    errors.push(e);
                    continue;
                }
                Some(report)
            }
            None => None,
        };
        let base = facts();
        let summary = Summary {
            status,
            exit_code: exit.code(),
            stopped_because,
            state: state.or_else(|| base.state.clone()),
            ..base
        };
        if let (Some(path), false) = (files.metrics, failed.metrics) {
            let metrics = crate::export::end::metrics::RunMetrics {
                summary: &summary,
                shard: files.shard,
                ended: files.ended,
            };
            if let Err(e) = crate::export::end::metrics::write(path, &metrics, FileMode::METRICS) {
                failed.metrics = true;
                errors.push(e);
                continue;
            }
        }
        if let (Some(path), false) = (files.summary, failed.summary) {
            if let Err(e) = summary.write(path, files.mode) {
                failed.summary = true;
                errors.push(e);
                continue;
            }
        }
        let mut errors = errors.into_iter();
        let error = errors.next();
        for later in errors {
            tracing::warn!("{later:#}");
        }
        return Report {
            window_done: false,
            window_end: None,
            summary,
            exit,
            error,
        };
    }
}

/// How the run ended, as far as the watermark cares (the exit code is
/// set by each round of [`conclude`]).
fn run_end<'a>(config: &ExportConfig, committed: &'a Committed, tally: &Tally) -> RunEnd<'a> {
    let share = Share {
        customers: tally.ok + tally.empty + tally.failed,
        with_chats: tally.ok,
    };
    let empty_night = config
        .state
        .as_ref()
        .filter(|_| committed.complete)
        .and_then(|state| state.empty_night(share));
    RunEnd {
        complete: committed.complete,
        failed_not_definitive: tally.failed_not_definitive,
        share,
        failed: tally.failed,
        empty_night,
        start: config.query.start,
        end: config.query.end,
        zone: config.zone,
        output: committed.output.as_deref(),
        rows: tally.rows,
        exit_code: Exit::OutputError.code(),
        contacts: config.contacts.fetched.as_ref().map(|f| f.contacts),
    }
}

/// The end of a `--state` run with nothing to export: the last completed
/// window ends at or after `--end` (a rerun of a night already exported, a
/// catch-up after boot). A success that exported nothing: the metrics and
/// the summary say so, the state file is not touched.
pub fn up_to_date(config: &ExportConfig, started: Instant) -> Report {
    let state = config.state.as_ref().map(|settings| {
        crate::store::state::up_to_date(settings, config.query.start, config.query.end, config.zone)
    });
    let gathered = Ending {
        complete: true,
        failed: 0,
        stop: None,
        output_error: false,
        state_error: false,
        report_error: false,
        empty_night: false,
    };
    let files = EndFiles {
        state: None,
        metrics: config.files.metrics.as_deref(),
        summary: config.files.summary.as_deref(),
        mode: config.file_mode,
        shard: config.shard,
        ended: chrono::Utc::now(),
    };
    let facts = || Summary {
        state: state.clone(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        shard: config.shard.map(|s| s.to_string()),
        ..Summary::nothing()
    };
    conclude(gathered, &files, None, facts)
}

/// The summary's figures, all but the ending's fields and the state.
fn summary_facts(
    config: &ExportConfig,
    fetcher: &Fetcher,
    committed: &Committed,
    tally: &Tally,
    run: &RunFacts,
    done: usize,
) -> Summary {
    let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let (api_codes, api_codes_unlisted) = fetcher.stats.codes();
    Summary {
        status: exit::Status::Stopped,
        exit_code: Exit::OutputError.code(),
        stopped_because: None,
        customers: Customers {
            total: run.total as u64,
            ok: tally.ok,
            empty: tally.empty,
            failed: tally.failed,
            duplicate: run.duplicates,
            not_done: (run.total - done) as u64,
        },
        resumed_from: run.resumed_from as u64,
        chats: tally.chats,
        rows: tally.rows,
        requests: fetcher.stats.requests(),
        retries: crate::api::Cause::ALL
            .iter()
            .map(|&c| fetcher.stats.retries(c))
            .sum(),
        retries_by_cause: Summary::retries_by_cause(&fetcher.stats),
        failed_by_kind: tally.failed_by_kind.clone(),
        api_codes,
        api_codes_unlisted,
        masked: tally.masked.clone(),
        drift: tally.drift.clone(),
        throttled_secs: fetcher.limiter.throttled().as_secs_f64(),
        reorder_stall_secs: run.stall.as_secs_f64(),
        settled_rate: fetcher.limiter.estimate(),
        elapsed_secs: run.started.elapsed().as_secs_f64(),
        output: shown(&committed.output),
        partial_output: shown(&committed.partial_output),
        failed_file: shown(&committed.failed_file),
        resumable: !committed.complete && committed.partial_output.is_some(),
        shard: config.shard.map(|s| s.to_string()),
        state: None,
        contact_list: config.contacts.fetched.clone(),
    }
}

impl RunError {
    /// The exit code of a run that ended before it could report: the same
    /// decision as every other ending's ([`exit_for`]).
    pub fn exit(&self) -> Exit {
        match self {
            RunError::Usage(_) => Exit::Usage,
            RunError::ContactList(_) => Exit::StoppedByApi,
            RunError::Interrupted(signal) | RunError::Abandoned(signal) => {
                exit_for(Ending::stopped(StopCause::Signal(*signal))).0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exit::{Status, StoppedBecause};
    use super::*;
    use crate::api::query::Zone;
    use crate::api::StopReason;
    use crate::shutdown::Signal;
    use crate::store::state::KeptBecause;

    fn blank() -> Summary {
        Summary {
            status: Status::Stopped,
            exit_code: 99,
            ..Summary::nothing()
        }
    }

    fn ending(complete: bool, failed: u64, stop: Option<StopCause>) -> Ending {
        Ending {
            complete,
            failed,
            stop,
            output_error: false,
            state_error: false,
            report_error: false,
            empty_night: false,
        }
    }

    /// One ending, with the state, the metrics and the summary in a fresh
    /// directory; `blocked` names the files a directory stands in for, so
    /// they cannot be written.
    struct Case {
        dir: tempfile::TempDir,
        report: Report,
    }

    fn conclude_in(gathered: Ending, not_definitive: u64, blocked: &[&str]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        for name in blocked {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let settings = StateSettings {
            path: dir.path().join("state.json"),
            recorded: None,
            last_share: None,
            lookback: Duration::ZERO,
            accept_empty: false,
            last_contacts: None,
        };
        let wall = |s| {
            chrono::NaiveDateTime::parse_from_str(s, crate::api::query::WIRE_TIME_FORMAT).unwrap()
        };
        let end = RunEnd {
            complete: gathered.complete,
            failed_not_definitive: not_definitive,
            share: Share {
                customers: 10,
                with_chats: 5,
            },
            failed: gathered.failed,
            empty_night: gathered.empty_night.then(|| "why".to_string()),
            start: Some(wall("2026-11-25 00:00:00")),
            end: Some(wall("2026-11-26 00:00:00")),
            zone: Zone::parse("UTC").unwrap(),
            contacts: None,
            output: None,
            rows: 0,
            exit_code: 0,
        };
        let metrics = dir.path().join("m.prom");
        let summary = dir.path().join("s.json");
        let files = EndFiles {
            state: Some((&settings, end)),
            metrics: Some(&metrics),
            summary: Some(&summary),
            mode: FileMode::default(),
            shard: None,
            ended: chrono::Utc::now(),
        };
        let error = gathered.output_error.then(|| anyhow::anyhow!("disk full"));
        let report = conclude(gathered, &files, error, blank);
        Case { dir, report }
    }

    impl Case {
        fn read(&self, name: &str) -> Option<String> {
            let path = self.dir.path().join(name);
            path.is_file()
                .then(|| std::fs::read_to_string(path).unwrap())
        }

        /// The exit code as each written file says it: state, metrics,
        /// summary (`None` where the file was not written).
        fn said(&self) -> [Option<u8>; 3] {
            let json = |name: &str| {
                self.read(name).map(|t| {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    v["exit_code"].as_u64().unwrap() as u8
                })
            };
            let metrics = self.read("m.prom").map(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("yuju_export_last_run_exit_code "))
                    .unwrap()
                    .parse()
                    .unwrap()
            });
            [json("state.json"), metrics, json("s.json")]
        }

        fn exit(&self) -> u8 {
            self.report.exit.code()
        }

        fn kept(&self) -> Option<KeptBecause> {
            self.report.summary.state.as_ref().unwrap().kept_because
        }
    }

    #[test]
    fn exit_0_every_customer_exported_and_the_watermark_moves() {
        let c = conclude_in(ending(true, 0, None), 0, &[]);
        assert_eq!(c.exit(), 0);
        assert_eq!(c.said(), [Some(0), Some(0), Some(0)]);
        assert_eq!(c.report.summary.status, Status::Complete);
        assert!(c.report.error.is_none());
    }

    #[test]
    fn exit_1_definitive_failures_move_the_watermark_others_hold_it() {
        let c = conclude_in(ending(true, 3, None), 0, &[]);
        assert_eq!(c.exit(), 1);
        assert_eq!(c.said(), [Some(1), Some(1), Some(1)]);
        let c = conclude_in(ending(true, 3, None), 1, &[]);
        assert_eq!(c.exit(), 1);
        assert_eq!(c.said(), [None, Some(1), Some(1)]);
        assert_eq!(c.kept(), Some(KeptBecause::TransientFailures));
    }

    #[test]
    fn exit_3_and_signals_hold_the_watermark() {
        for (stop, code) in [
            (StopCause::Api(StopReason::QuotaExhausted), 3),
            (StopCause::Signal(Signal::Interrupt), 130),
            (StopCause::Signal(Signal::Terminate), 143),
        ] {
            let c = conclude_in(ending(false, 0, Some(stop)), 0, &[]);
            assert_eq!(c.exit(), code, "{stop:?}");
            assert_eq!(c.said(), [None, Some(code), Some(code)], "{stop:?}");
            assert_eq!(c.kept(), Some(KeptBecause::Incomplete));
        }
    }

    #[test]
    fn exit_4_an_output_error_is_reported_with_the_summary() {
        let gathered = Ending {
            output_error: true,
            ..ending(false, 0, None)
        };
        let c = conclude_in(gathered, 0, &[]);
        assert_eq!(c.exit(), 4);
        assert_eq!(c.said(), [None, Some(4), Some(4)]);
        assert_eq!(
            c.report.summary.stopped_because,
            Some(StoppedBecause::OutputError)
        );
        assert!(c.report.error.is_some());
    }

    #[test]
    fn exit_4_a_state_file_not_written_is_said_by_every_report() {
        let c = conclude_in(ending(true, 0, None), 0, &["state.json"]);
        assert_eq!(c.exit(), 4);
        assert_eq!(c.said(), [None, Some(4), Some(4)]);
        assert_eq!(c.report.summary.status, Status::Complete);
        assert_eq!(
            c.report.summary.stopped_because,
            Some(StoppedBecause::StateError)
        );
        assert_eq!(c.kept(), Some(KeptBecause::NotWritten));
        assert!(c.report.error.is_some());
    }

    /// The summary fails after the state and the metrics were written with
    /// exit 0: both are written again, and say 4.
    #[test]
    fn exit_4_a_summary_not_written_is_said_by_the_state_and_the_metrics() {
        let c = conclude_in(ending(true, 0, None), 0, &["s.json"]);
        assert_eq!(c.exit(), 4);
        assert_eq!(c.said(), [Some(4), Some(4), None]);
        assert_eq!(c.report.summary.status, Status::Complete);
        assert_eq!(
            c.report.summary.stopped_because,
            Some(StoppedBecause::OutputError)
        );
        assert!(c.report.summary.state.as_ref().unwrap().moved);
        assert!(c.report.error.is_some());
    }

    #[test]
    fn exit_4_metrics_not_written_are_said_by_the_state_and_the_summary() {
        let c = conclude_in(ending(true, 2, None), 0, &["m.prom"]);
        assert_eq!(c.exit(), 4);
        assert_eq!(c.said(), [Some(4), None, Some(4)]);
        // Every file failing still ends, in exit 4.
        let c = conclude_in(
            ending(true, 0, None),
            0,
            &["state.json", "m.prom", "s.json"],
        );
        assert_eq!(c.exit(), 4);
        assert_eq!(c.said(), [None, None, None]);
    }

    #[test]
    fn errors_before_any_request_exit_2_or_by_their_signal() {
        let usage = RunError::Usage(crate::error::UsageError::invalid("x"));
        assert_eq!(usage.exit(), Exit::Usage);
        assert_eq!(
            RunError::Interrupted(Signal::Terminate).exit(),
            Exit::Terminated
        );
        assert_eq!(
            RunError::Abandoned(Signal::Interrupt).exit(),
            Exit::Interrupted
        );
    }
}
