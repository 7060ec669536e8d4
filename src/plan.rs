//! `--dry-run`: read and check everything a run would need — IDs, settings,
//! key, output paths, lock and journal — and print the plan. No request is
//! made and nothing is written.

use std::io::Write;
use std::time::Duration;

use crate::config::{append_ext, ExportConfig, ResumeMode, Source, Target};
use crate::error::UsageError;
use crate::input::read_ids;
use crate::journal::{self, Fingerprint};
use crate::lock::OutputLock;
use crate::output::check_creatable;
use crate::output::failed::FailedFile;

/// Check that a file could be created at `path` (without leaving one).
fn duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(1))).to_string()
}

/// Print the plan of `config` to `out`; an error means the run would fail.
pub fn print_plan(config: &ExportConfig, out: &mut dyn Write) -> Result<(), UsageError> {
    let mut ids = read_ids(&config.ids)?;
    let distinct = ids.len();
    if let Some(shard) = config.shard {
        ids.retain(|id| shard.contains(id));
    }
    let n = ids.len();
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut line = |k: &str, v: String| lines.push((k.to_string(), v));

    let source = match &config.ids {
        Source::Stdin => "stdin".to_string(),
        Source::File(p) => p.display().to_string(),
    };
    let mut customers = format!("{distinct} distinct from {source}");
    if ids.duplicates > 0 {
        customers.push_str(&format!(", {} duplicate line(s) dropped", ids.duplicates));
    }
    if let Some(shard) = config.shard {
        customers.push_str(&format!("; shard {shard}: {n} of them"));
    }
    line("customers", customers);
    line("invalid lines", "none".into());

    let mut url = crate::api::client::endpoint_url(&config.base_url, &config.api_key);
    url.set_query(None);
    line("request", format!("POST {url}?apiKey=<redacted>"));
    let example = if n > 0 { ids.get(0) } else { "<customer_id>" };
    let body = serde_json::to_string(&config.query.body(example)).expect("the body serialises");
    line("body", body);
    line("key", "present (redacted)".into());

    match &config.out {
        Target::Stdout => line(
            "output",
            format!(
                "stdout ({:?}, {})",
                config.format,
                config.compression.name()
            ),
        ),
        Target::File(p) => {
            check_creatable(&append_ext(p, ".partial"), "output")?;
            // Only test an existing lock: a dry run creates no file.
            let _lock = if crate::lock::lock_path(p).exists() {
                Some(OutputLock::acquire(p)?)
            } else {
                None
            };
            line(
                "output",
                format!(
                    "{} ({}, compression {}), written as {} until complete",
                    p.display(),
                    format!("{:?}", config.format).to_lowercase(),
                    config.compression.name(),
                    append_ext(p, ".partial").display()
                ),
            );
            let partial_len = std::fs::metadata(append_ext(p, ".partial")).map_or(0, |m| m.len());
            let failed_len = FailedFile::partial_len(config.failed.as_deref());
            let jpath = journal::journal_path(p);
            let partial_exists = append_ext(p, ".partial").exists();
            // The same verdicts as the real run, so a dry run that passes
            // means the run will start.
            let state = match journal::load(&jpath, partial_len, failed_len) {
                Ok(Some(_)) if !partial_exists => {
                    "a stale journal whose partial output is gone: removed, a fresh start"
                        .to_string()
                }
                Ok(None) => "no interrupted run: a fresh start".to_string(),
                Ok(Some(found)) => {
                    let done = format!(
                        "an interrupted run is pending ({} of {} customers done)",
                        found.checkpoint.next, found.total
                    );
                    match config.resume {
                        ResumeMode::Refuse => {
                            return Err(UsageError::invalid(format!(
                                "{done}: pass --resume to continue it or --restart to discard it"
                            )))
                        }
                        ResumeMode::Restart => format!("{done}; --restart discards it"),
                        ResumeMode::Resume => {
                            let (query, diffs) =
                                Fingerprint::resume_query(config, &ids, &found.fingerprint);
                            if !diffs.is_empty() {
                                return Err(UsageError::invalid(format!(
                                    "{done}, but --resume cannot continue it: it was a \
                                     different run.\n  {}\nRun it with its original settings, \
                                     or pass --restart to discard it",
                                    diffs.join("\n  ")
                                )));
                            }
                            if query == config.query {
                                format!("{done}; --resume continues it")
                            } else {
                                let kept = query.body("");
                                format!(
                                    "{done}; --resume continues it, keeping its window \
                                     (start_time {:?}, end_time {:?}) instead of the body above",
                                    kept.start_time, kept.end_time
                                )
                            }
                        }
                    }
                }
                Err(_) if !partial_exists => {
                    "a stale journal whose partial output is gone: removed, a fresh start"
                        .to_string()
                }
                Err(e) if config.resume == ResumeMode::Restart => {
                    format!("damaged ({e:#}); --restart discards it")
                }
                Err(e) => {
                    return Err(UsageError::invalid(format!(
                        "{e:#}. Pass --restart to discard the interrupted run and start afresh"
                    )))
                }
            };
            line("journal", format!("{} — {state}", jpath.display()));
        }
    }
    match &config.failed {
        Some(f) => {
            check_creatable(f, "failed file")?;
            line(
                "failed file",
                format!("{} (only if some customer fails)", f.display()),
            );
        }
        None => line("failed file", "none".into()),
    }
    match &config.summary {
        Some(s) => {
            check_creatable(s, "summary")?;
            line("summary", s.display().to_string());
        }
        None => line("summary", "none".into()),
    }

    let estimate = match config.rate {
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
    };
    line("estimate", estimate);

    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::from("dry run: no request is made, nothing is written\n");
    for (k, v) in lines {
        text.push_str(&format!("  {k:<width$}  {v}\n"));
    }
    out.write_all(text.as_bytes())
        .map_err(|e| UsageError::invalid(format!("cannot print the plan: {e}")))
}
