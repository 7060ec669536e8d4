//! The fingerprint of a run (its IDs, query, columns, format, compression
//! and address), as the resume journal keeps it: made here from the
//! validated settings, so the journal itself knows nothing of them.

use chrono::NaiveDateTime;

use crate::api::query::{Query, WIRE_TIME_FORMAT};
use crate::config::shard::fnv1a;
use crate::config::ExportConfig;
use crate::output::Format;
use crate::store::input::IdList;
use crate::store::journal::Fingerprint;

impl Fingerprint {
    pub fn of(config: &ExportConfig, ids: &IdList) -> Fingerprint {
        Fingerprint::with_query(config, &config.query, ids)
    }

    /// The fingerprint of `config` run with another `query`.
    fn with_query(config: &ExportConfig, query: &Query, ids: &IdList) -> Fingerprint {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for id in ids.iter() {
            h = (h ^ fnv1a(id.as_bytes())).wrapping_mul(0x0100_0000_01b3);
        }
        let body = query.body("");
        Fingerprint {
            relative_window: config.relative_window.clone(),
            start_time: body.start_time.clone(),
            end_time: body.end_time.clone(),
            ids: format!("{} IDs, hash {h:016x}", ids.len()),
            query: format!(
                "days={:?} start={:?} end={:?} chat_source={:?} chat_robot={:?} seat_member={:?}",
                body.days,
                body.start_time,
                body.end_time,
                body.chat_source,
                body.chat_robot,
                body.seat_member
            ),
            columns: config
                .columns
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(","),
            format: format!(
                "{}{}{}{}",
                format!("{:?}", config.format).to_lowercase(),
                if config.format == Format::Parquet {
                    format!("+row-group-rows={}", config.parquet_row_group_rows)
                } else {
                    String::new()
                },
                if config.csv_bom { "+bom" } else { "" },
                if config.csv_formula_guard {
                    "+formula-guard"
                } else {
                    ""
                }
            ),
            compression: config.compression.name().into(),
            base_url: {
                let u = &config.base_url;
                format!("{}{}", crate::api::endpoint::origin(u), u.path())
            },
            mask: [
                config.mask.as_ref().map(|m| m.describe()),
                config
                    .pseudonym
                    .as_ref()
                    .map(|p| format!("pseudonyms {}", p.describe())),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; "),
        }
    }

    /// Resuming `journal`'s run with `config`: the query to send and what
    /// differs (nothing, when resuming is allowed). When both runs gave
    /// the same relative window (`--start -24h`), the interrupted run's
    /// resolved times are kept, so that a resume next hour still exports
    /// the window the partial output holds.
    pub fn resume_query(
        config: &ExportConfig,
        ids: &IdList,
        journal: &Fingerprint,
    ) -> (Query, Vec<String>) {
        let now = Fingerprint::of(config, ids);
        let diffs = now.differences(journal);
        if diffs.is_empty()
            || now.relative_window.is_empty()
            || now.relative_window != journal.relative_window
        {
            return (config.query.clone(), diffs);
        }
        let then = |wire: &str| -> Result<Option<NaiveDateTime>, ()> {
            match wire {
                "" => Ok(None),
                t => NaiveDateTime::parse_from_str(t, WIRE_TIME_FORMAT)
                    .map(Some)
                    .map_err(|_| ()),
            }
        };
        let (Ok(start), Ok(end)) = (then(&journal.start_time), then(&journal.end_time)) else {
            return (config.query.clone(), diffs);
        };
        // Only the relative bounds are the interrupted run's; a fixed bound
        // given differently is a different run.
        let (start_relative, end_relative) = config.relative_bounds;
        let query = Query {
            start: if start_relative {
                start
            } else {
                config.query.start
            },
            end: if end_relative { end } else { config.query.end },
            ..config.query.clone()
        };
        let kept = Fingerprint::with_query(config, &query, ids);
        let kept_diffs = kept.differences(journal);
        if kept_diffs.is_empty() {
            (query, kept_diffs)
        } else {
            (config.query.clone(), diffs)
        }
    }
}
