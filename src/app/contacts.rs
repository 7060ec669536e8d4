//! `yuju-export contacts`: the platform's contact list as a table (`id`
//! and `name` unless `--columns` asks for the personal data), through the
//! same client, limiter, retries, envelope classes, atomic output, file
//! modes and reports as `export`.

use std::time::Instant;

use crate::config::ExportConfig;
use crate::error::{Exit, RunError};
use crate::export::contact_list;
use crate::export::end::contacts::ContactsSummary;
use crate::export::end::exit::Status;
use crate::output::sink::Sink;
use crate::record::contact::ContactList;
use crate::shutdown::Shutdown;
use crate::store::lock::OutputLock;

/// Run the command to its exit code.
pub async fn run(config: ExportConfig, mut shutdown: Shutdown) -> Exit {
    let started = Instant::now();
    let rows = || crate::export::format_encoder(&config);
    let _lock = match config.files.out.file() {
        Some(out) => match OutputLock::acquire(out, config.file_mode) {
            Ok(lock) => Some(lock),
            Err(e) => return usage(e),
        },
        None => None,
    };
    let sink = match crate::export::open::fresh_sink(&config, &*rows()) {
        Ok(sink) => sink,
        Err(e) => return usage(e),
    };
    let source = ContactList::new(
        config.contacts.request.clone(),
        config.mask.clone(),
        config.pseudonym.clone(),
    );
    let mut summary = ContactsSummary {
        status: Status::Complete,
        exit_code: 0,
        error: None,
        contacts: 0,
        columns: config.columns.iter().map(|c| c.name()).collect(),
        filters: config
            .contacts
            .request
            .filters
            .iter()
            .map(|f| f.to_string())
            .collect(),
        requests: 0,
        retries: 0,
        retries_by_cause: crate::api::Cause::ALL
            .iter()
            .map(|c| (c.name(), 0))
            .collect(),
        api_codes: Vec::new(),
        masked: Default::default(),
        elapsed_secs: 0.0,
        output: None,
    };
    let exit = match contact_list::fetch(&config, source, rows(), &mut shutdown).await {
        Ok(fetched) => {
            summary.requests = fetched.fetcher.stats.requests();
            summary.retries_by_cause =
                crate::export::end::summary::Summary::retries_by_cause(&fetched.fetcher.stats);
            summary.retries = summary.retries_by_cause.values().sum();
            summary.api_codes = fetched.fetcher.stats.codes().0;
            summary.masked = fetched.encoded.masked.clone();
            summary.contacts = fetched.encoded.rows;
            match contact_list::check_guards(&config, fetched.encoded.rows) {
                Ok(()) => write_out(
                    &config,
                    sink,
                    &fetched.bytes,
                    fetched.encoded.rows,
                    &mut summary,
                ),
                Err(e) => {
                    discard(sink);
                    failed(&mut summary, &e)
                }
            }
        }
        Err(e) => {
            discard(sink);
            failed(&mut summary, &RunError::from(e))
        }
    };
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    report(&config, summary, exit)
}

/// Set the summary's ending to `exit`.
fn ended(summary: &mut ContactsSummary, exit: Exit) {
    summary.exit_code = exit.code();
    summary.status = match exit {
        Exit::Success => Status::Complete,
        Exit::Interrupted | Exit::Terminated => Status::Interrupted,
        _ => Status::Stopped,
    };
}

/// Write the metrics and the summary of a run that ended with `exit`, and
/// log it; the exit code, 4 when a report could not be written (said by
/// the other report too).
fn report(config: &ExportConfig, mut summary: ContactsSummary, mut exit: Exit) -> Exit {
    ended(&mut summary, exit);
    let metrics = |summary: &ContactsSummary| match &config.files.metrics {
        Some(path) => summary.write_metrics(path, chrono::Utc::now()),
        None => Ok(()),
    };
    let mut metrics_written = true;
    if let Err(e) = metrics(&summary) {
        tracing::error!("{e:#}");
        metrics_written = false;
        exit = worse(exit);
        ended(&mut summary, exit);
    }
    if let Some(path) = &config.files.summary {
        if let Err(e) = summary.write(path, config.file_mode) {
            tracing::error!("{e:#}");
            exit = worse(exit);
            ended(&mut summary, exit);
            if metrics_written {
                if let Err(e) = metrics(&summary) {
                    tracing::error!("{e:#}");
                }
            }
        }
    }
    match summary.status {
        Status::Complete => tracing::info!("{summary}"),
        _ => tracing::warn!("{summary}"),
    }
    exit
}

/// A report not written turns a success into exit 4.
fn worse(exit: Exit) -> Exit {
    match exit {
        Exit::Success => Exit::OutputError,
        other => other,
    }
}

/// Write the list and put the output in place.
fn write_out(
    config: &ExportConfig,
    mut sink: Sink,
    bytes: &[u8],
    rows: u64,
    summary: &mut ContactsSummary,
) -> Exit {
    let written = sink
        .write_rows(bytes, rows)
        .map_err(anyhow::Error::from)
        .and_then(|()| sink.commit());
    match written {
        Ok(()) => {
            summary.output = config.files.out.file().map(|p| p.display().to_string());
            Exit::Success
        }
        Err(e) => {
            let e = format!(
                "cannot write the contact list to {}: {e:#}",
                config.files.out.describe()
            );
            tracing::error!("{e}");
            summary.error = Some(e);
            Exit::OutputError
        }
    }
}

/// A list that could not be had: said, and its exit code.
fn failed(summary: &mut ContactsSummary, e: &RunError) -> Exit {
    match e {
        RunError::Usage(_) => eprintln!("yuju-export: error: {e}"),
        _ => tracing::error!("{e}"),
    }
    summary.error = Some(e.to_string());
    e.exit()
}

fn discard(sink: Sink) {
    if let Err(e) = sink.discard() {
        tracing::warn!("{e:#}");
    }
}

fn usage(e: impl std::fmt::Display) -> Exit {
    eprintln!("yuju-export: error: {e}");
    Exit::Usage
}

/// `--dry-run`: the request as it would be sent, and where the rows go.
pub fn print_plan(config: &ExportConfig, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use crate::api::Request as _;
    let request = &config.contacts.request;
    let url = request.endpoint().shown_url(&config.base_url);
    let body = String::from_utf8_lossy(&request.body("")).into_owned();
    let columns: Vec<&str> = config.columns.iter().map(|c| c.name()).collect();
    let mut text = String::from("dry run: no request is made, nothing is written\n");
    text.push_str(&format!("  request  POST {url}?apiKey=<redacted>\n"));
    text.push_str(&format!("  body     {body}\n"));
    text.push_str("  key      present (redacted)\n");
    text.push_str(&format!(
        "  output   {} ({}, compression {})\n",
        config.files.out.describe(),
        format!("{:?}", config.format).to_lowercase(),
        config.compression.name()
    ));
    text.push_str(&format!("  columns  {}\n", columns.join(",")));
    out.write_all(text.as_bytes())?;
    out.flush()
}
