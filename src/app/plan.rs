//! `--dry-run`: read and check everything a run would need — IDs, settings,
//! key, output paths, lock and journal — and print the plan. No request is
//! made and nothing is written.

use std::io::Write;
use std::time::Duration;

use crate::config::ExportConfig;
use crate::error::UsageError;
use crate::export::pending::{self, Pending};
use crate::output::check_creatable;
use crate::output::Target;
use crate::store::input::{read_ids, IdList, Source};
use crate::store::journal;
use crate::store::lock::OutputLock;

fn duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(1))).to_string()
}

/// The plan's lines, label and value.
type Lines = Vec<(String, String)>;

/// Print the plan of `config` to `out`; an error means the run would fail.
pub fn print_plan(config: &ExportConfig, out: &mut dyn Write) -> Result<(), UsageError> {
    if let Some(words) = &config.up_to_date {
        let text = format!("dry run: no request is made, nothing is written\n  {words}\n");
        return out
            .write_all(text.as_bytes())
            .map_err(|e| UsageError::invalid(format!("cannot print the plan: {e}")));
    }
    let mut lines = Lines::new();
    let ids = customers(config, &mut lines)?;
    let _locks = test_locks(config)?;
    request(config, &ids, &mut lines);
    window(config, &mut lines)?;
    output(config, &ids, &mut lines)?;
    side_files(config, &mut lines)?;
    let estimate = if ids.is_empty() && config.files.ids == Source::Contacts {
        "known once the contact list is fetched".to_string()
    } else {
        estimate(config, ids.len())
    };
    lines.push(("estimate".into(), estimate));

    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::from("dry run: no request is made, nothing is written\n");
    for (k, v) in lines {
        text.push_str(&format!("  {k:<width$}  {v}\n"));
    }
    out.write_all(text.as_bytes())
        .map_err(|e| UsageError::invalid(format!("cannot print the plan: {e}")))
}

/// Read the IDs (an error is the run's), keep the shard's, describe them.
fn customers(config: &ExportConfig, lines: &mut Lines) -> Result<IdList, UsageError> {
    if config.files.ids == Source::Contacts {
        return contact_list(config, lines);
    }
    let mut ids = read_ids(&config.files.ids)?;
    crate::store::input::require_ids(&ids, &config.files.ids, config.allow_empty)?;
    let distinct = ids.len();
    if let Some(shard) = config.shard {
        ids.retain(|id| shard.contains(id));
    }
    let source = match &config.files.ids {
        Source::Stdin => "stdin".to_string(),
        Source::File(p) => p.display().to_string(),
        Source::Inline(_) => "the config's customer_ids".to_string(),
        Source::Contacts => "the contact list".to_string(),
    };
    let mut customers = format!("{distinct} distinct from {source}");
    if ids.duplicates > 0 {
        customers.push_str(&format!(", {} duplicate line(s) dropped", ids.duplicates));
    }
    if let Some(shard) = config.shard {
        customers.push_str(&format!("; shard {shard}: {} of them", ids.len()));
    }
    lines.push(("customers".into(), customers));
    lines.push(("invalid lines".into(), "none".into()));
    Ok(ids)
}

/// `--all-contacts`: the list's request, and the list an interrupted run
/// kept (the IDs a resume goes on with), if any.
fn contact_list(config: &ExportConfig, lines: &mut Lines) -> Result<IdList, UsageError> {
    use crate::api::Request as _;
    let request = &config.contacts.request;
    let url = request.endpoint().shown_url(&config.base_url);
    let body = String::from_utf8_lossy(&request.body("")).into_owned();
    lines.push((
        "customers".into(),
        format!(
            "the contact list, fetched when the run starts: POST {url}?apiKey=<redacted> {body}"
        ),
    ));
    let mut guards = vec![if config.contacts.allow_empty {
        "an empty list is a run of nothing".to_string()
    } else {
        "an empty list stops the run (exit 3)".to_string()
    }];
    if let Some(min) = config.contacts.min {
        guards.push(format!("fewer than {min} contacts stop it"));
    }
    lines.push(("list guards".into(), guards.join("; ")));
    let kept = config
        .files
        .out
        .file()
        .map(crate::store::paths::contact_list)
        .filter(|_| config.resume != crate::config::ResumeMode::Restart);
    let ids = match &kept {
        Some(kept) => crate::export::contact_list::read_kept(kept)?,
        None => None,
    };
    match (kept, ids) {
        (Some(kept), Some(mut ids)) => {
            lines.push((
                "kept list".into(),
                format!(
                    "{} ({} contacts, of the interrupted run)",
                    kept.display(),
                    ids.len()
                ),
            ));
            if let Some(shard) = config.shard {
                ids.retain(|id| shard.contains(id));
            }
            Ok(ids)
        }
        _ => Ok(IdList::default()),
    }
}

/// The request as it would be sent, the key redacted.
fn request(config: &ExportConfig, ids: &IdList, lines: &mut Lines) {
    let url = crate::api::chat_record::ENDPOINT.shown_url(&config.base_url);
    lines.push(("request".into(), format!("POST {url}?apiKey=<redacted>")));
    let example = if ids.is_empty() {
        "<customer_id>"
    } else {
        ids.get(0)
    };
    let body = serde_json::to_string(&config.query.body(example)).expect("the body serialises");
    lines.push(("body".into(), body));
    lines.push(("key".into(), "present (redacted)".into()));
}

/// Take the locks the run would take (see
/// [`crate::config::FilePlan::locked`]), where a lock file exists (a dry
/// run creates no file): another run at work makes the dry run fail as
/// the run would. They are held while the journal is read.
fn test_locks(config: &ExportConfig) -> Result<Vec<OutputLock>, UsageError> {
    config
        .files
        .locked()
        .into_iter()
        .filter(|path| crate::store::paths::lock(path).exists())
        .map(|path| OutputLock::acquire(path, config.file_mode))
        .collect()
}

/// The window and where its start comes from.
fn window(config: &ExportConfig, lines: &mut Lines) -> Result<(), UsageError> {
    let q = &config.query;
    let at = |t: Option<chrono::NaiveDateTime>| {
        t.map_or("-".to_string(), |t| {
            t.format(crate::api::query::WIRE_TIME_FORMAT).to_string()
        })
    };
    let span = match (q.days, q.start, q.end) {
        (Some(days), None, None) => format!("the last {days} days, counted by the platform"),
        _ => format!("{} to {} ({})", at(q.start), at(q.end), config.zone.name()),
    };
    lines.push(("window".into(), span));
    let origin = match &config.state {
        Some(state) => state.start_origin(),
        None if q.start.is_some() => "--start".into(),
        None => "none (--days)".into(),
    };
    lines.push(("window start".into(), origin));
    Ok(())
}

/// The output, its lock and what its journal holds.
fn output(config: &ExportConfig, ids: &IdList, lines: &mut Lines) -> Result<(), UsageError> {
    let p = match &config.files.out {
        Target::Stdout => {
            lines.push((
                "output".into(),
                format!(
                    "stdout ({:?}, {})",
                    config.format,
                    config.compression.name()
                ),
            ));
            return Ok(());
        }
        Target::Special(p) => {
            lines.push((
                "output".into(),
                format!(
                    "{} ({}, compression {}), streamed in place: no partial file, journal or lock",
                    p.display(),
                    format!("{:?}", config.format).to_lowercase(),
                    config.compression.name()
                ),
            ));
            return Ok(());
        }
        Target::File(p) => p,
    };
    check_creatable(&crate::store::paths::partial(p), "output")?;
    lines.push((
        "output".into(),
        format!(
            "{} ({}, compression {}), written as {} until complete",
            p.display(),
            format!("{:?}", config.format).to_lowercase(),
            config.compression.name(),
            crate::store::paths::partial(p).display()
        ),
    ));
    let state = match pending::examine(config, p, ids)? {
        Pending::Nothing => "no interrupted run: a fresh start".to_string(),
        Pending::Discarded(what) => format!("{what}: a fresh start"),
        Pending::Resume { found, query } => {
            let done = format!(
                "an interrupted run ({} of {} customers done); --resume continues it",
                found.checkpoint.next, found.total
            );
            if query == config.query {
                done
            } else {
                let kept = query.body("");
                let then = if config.state.is_some() && query.end < config.query.end {
                    "; once it is done, the run goes on with the next window up to --end"
                } else {
                    ""
                };
                format!(
                    "{done}, keeping its window (start_time {:?}, end_time {:?}) \
                     instead of the body above{then}",
                    kept.start_time, kept.end_time
                )
            }
        }
    };
    let journal = journal::journal_path(p);
    lines.push(("journal".into(), format!("{} — {state}", journal.display())));
    Ok(())
}

/// The files written at the end or when needed, checked creatable as the
/// run checks them.
fn side_files(config: &ExportConfig, lines: &mut Lines) -> Result<(), UsageError> {
    config.files.check_reports_creatable()?;
    let shown = |p: Option<&std::path::Path>| p.map_or("none".into(), |p| p.display().to_string());
    let failed = match &config.files.failed {
        Some(f) => format!("{} (only if some customer fails)", f.display()),
        None => "none".into(),
    };
    lines.push(("failed file".into(), failed));
    lines.push(("summary".into(), shown(config.files.summary.as_deref())));
    if let Some(m) = &config.files.metrics {
        lines.push(("metrics".into(), m.display().to_string()));
    }
    if let Some(state) = &config.state {
        let when = if state.recorded.is_some() {
            "moved to the window's end after a complete run"
        } else {
            "created after the first complete run"
        };
        lines.push(("state".into(), format!("{} ({when})", state.path.display())));
    }
    Ok(())
}

/// How long the run may take.
fn estimate(config: &ExportConfig, n: usize) -> String {
    match config.rate {
        Some(rate) => format!(
            "about {} at --rate {rate}/s (more if the platform's limit is lower)",
            duration(Duration::from_secs_f64(n as f64 / rate))
        ),
        None => {
            let at = |latency_ms: u64| {
                duration(Duration::from_millis(
                    latency_ms * n as u64 / config.concurrency as u64,
                ))
            };
            format!(
                "{} at 100 ms per request, {} at 1 s, with --concurrency {} (the platform's rate limit may slow it; --rate caps it)",
                at(100),
                at(1000),
                config.concurrency
            )
        }
    }
}
