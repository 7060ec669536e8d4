//! `source-yuju`: the export as an Airbyte source (airbytehq/
//! airbyte-protocol, `airbyte_protocol.yaml`). The commands are `spec`,
//! `check`, `discover` and `read`; standard output carries only
//! AirbyteMessages: SPEC, CONNECTION_STATUS, CATALOG, RECORD, STATE (per
//! stream), LOG, and TRACE for errors.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use super::config::{read_json, settings_schema, PipelineConfig};
use super::contacts;
use super::state::StreamState;
use super::stream::{self, Framing, CURSOR, KEY, STREAM};
use super::{message_line, run_sync, write_lines, SyncRequest};
use crate::api::StopReason;
use crate::error::{Exit, RunError, UsageError};
use crate::export::end::exit::StoppedBecause;

/// An Airbyte source for the Yuju AI (语聚AI) chat records: one stream,
/// `chat_messages`, incremental by export window.
#[derive(Debug, Parser)]
#[command(name = "source-yuju", version)]
pub struct SourceArgs {
    #[command(subcommand)]
    pub command: SourceCommand,
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Print the connector's specification.
    Spec,
    /// Check the config and the API key.
    Check {
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
    /// Print the catalog.
    Discover {
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
    /// Read the configured stream.
    Read {
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
        #[arg(long, value_name = "PATH")]
        catalog: PathBuf,
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
}

/// Airbyte's classes of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureType {
    Config,
    System,
    Transient,
}

impl FailureType {
    fn name(self) -> &'static str {
        match self {
            FailureType::Config => "config_error",
            FailureType::System => "system_error",
            FailureType::Transient => "transient_error",
        }
    }
}

/// The source's main: every outcome is a protocol message and an exit.
pub fn main() -> Exit {
    let args = match SourceArgs::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Exit::Success;
        }
        Err(e) => {
            trace(FailureType::Config, &e.to_string());
            return Exit::Usage;
        }
    };
    super::log::init_airbyte();
    match run(args.command) {
        Ok(exit) => exit,
        Err(e) => {
            let failure = match &e {
                RunError::Usage(_) => FailureType::Config,
                RunError::Interrupted(_) | RunError::Abandoned(_) | RunError::ContactList(_) => {
                    FailureType::Transient
                }
            };
            trace(failure, &e.to_string());
            e.exit()
        }
    }
}

fn run(command: SourceCommand) -> Result<Exit, RunError> {
    match command {
        SourceCommand::Spec => {
            emit(json!({"type": "SPEC", "spec": spec()}));
            Ok(Exit::Success)
        }
        SourceCommand::Check { config } => Ok(check(&config)),
        SourceCommand::Discover { config } => {
            PipelineConfig::load(&config)?;
            emit(json!({"type": "CATALOG", "catalog": catalog()}));
            Ok(Exit::Success)
        }
        SourceCommand::Read {
            config,
            catalog,
            state,
        } => read(&config, &catalog, state.as_deref()),
    }
}

/// The connector's specification.
pub fn spec() -> Value {
    json!({
        "connectionSpecification": settings_schema(),
        "supportsIncremental": true,
        "supported_destination_sync_modes": ["append", "append_dedup", "overwrite"],
    })
}

/// The catalog `discover` prints.
pub fn catalog() -> Value {
    json!({"streams": [{
        "name": STREAM,
        "json_schema": stream::schema(),
        "supported_sync_modes": ["full_refresh", "incremental"],
        "source_defined_cursor": true,
        "default_cursor_field": [CURSOR],
        "source_defined_primary_key": KEY.iter().map(|k| vec![*k]).collect::<Vec<_>>(),
        "is_resumable": true,
    }, {
        "name": contacts::NAME,
        "json_schema": contacts::schema(),
        "supported_sync_modes": ["full_refresh"],
        "source_defined_primary_key": [contacts::KEY],
        "is_resumable": false,
    }]})
}

/// `check`: the config, then the key, asked of the platform.
fn check(path: &std::path::Path) -> Exit {
    let status = |ok: bool, message: Option<String>| {
        let mut status = json!({"status": if ok { "SUCCEEDED" } else { "FAILED" }});
        if let Some(m) = message {
            status["message"] = json!(m);
        }
        emit(json!({"type": "CONNECTION_STATUS", "connectionStatus": status}));
        Exit::Success
    };
    let checked = PipelineConfig::load(path).and_then(|config| {
        let start = config.start_date.clone().ok_or_else(|| {
            UsageError::invalid(
                "the config has no start_date: the first sync's window starts there",
            )
        })?;
        let plan = super::Plan {
            start,
            end: Some("now".into()),
            resume: None,
        };
        super::export_config(&config, &plan)
    });
    let config = match checked {
        Ok(config) => config,
        Err(e) => return status(false, Some(e.to_string())),
    };
    let client = match crate::api::ApiClient::new(&config.base_url, &config.api_key, &config.client)
    {
        Ok(client) => client,
        Err(e) => return status(false, Some(format!("{e:#}"))),
    };
    let runtime = crate::shutdown::runtime();
    let probe = crate::api::chat_record::Records {
        query: config.query.clone(),
    };
    match runtime.block_on(client.check_key(&probe)) {
        Ok(_) => status(true, None),
        Err(why) => status(false, Some(why)),
    }
}

/// `read`: the configured stream, from the state.
fn read(
    config: &std::path::Path,
    catalog: &std::path::Path,
    state: Option<&std::path::Path>,
) -> Result<Exit, RunError> {
    let config = PipelineConfig::load(config)?;
    let catalog: Value = read_json(catalog, "catalog")?;
    let streams = catalog["streams"]
        .as_array()
        .ok_or_else(|| UsageError::invalid("the catalog has no streams list"))?;
    if let Some(entry) = streams
        .iter()
        .find(|s| s["stream"]["name"] == contacts::NAME)
    {
        let properties = entry["stream"]["json_schema"]["properties"].as_object();
        let selected =
            contacts::selected(|p| properties.is_some_and(|props| props.contains_key(p)));
        contacts::run(&config, &selected, Framing::Airbyte)?;
        emit(json!({"type": "STATE", "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": contacts::NAME}, "stream_state": {}},
        }}));
    }
    let Some(entry) = streams.iter().find(|s| s["stream"]["name"] == STREAM) else {
        tracing::info!("the catalog does not select {STREAM}: nothing more to read");
        return Ok(Exit::Success);
    };
    let properties = entry["stream"]["json_schema"]["properties"].as_object();
    let selected = stream::selected(|p| properties.is_some_and(|props| !props.contains_key(p)));
    let full_refresh = entry["sync_mode"] == "full_refresh";
    let state = match state {
        Some(path) => read_state(read_json::<Value>(path, "state")?)?,
        None => StreamState::default(),
    };
    let request = SyncRequest {
        config,
        state,
        selected,
        full_refresh,
        framing: Framing::Airbyte,
        state_line: Arc::new(state_message),
    };
    let Some(report) = run_sync(request)? else {
        return Ok(Exit::Success);
    };
    if let Some(failure) = failure_of(&report) {
        let s = &report.summary;
        let message = match s.stopped_because {
            Some(why) => format!("the sync stopped: {}", stop_message(why)),
            None => format!(
                "{} of {} customers failed (listed in the log above); the window is exported \
                 again by the next sync",
                s.customers.failed, s.customers.total
            ),
        };
        trace(failure, &message);
    }
    Ok(super::sync_exit(&report))
}

/// The TRACE a sync that did not end cleanly gets, if any.
fn failure_of(report: &crate::export::Report) -> Option<FailureType> {
    use StoppedBecause as Why;
    match report.summary.stopped_because {
        Some(Why::BadKey | Why::QuotaExhausted | Why::Certificate | Why::Misdirected) => {
            Some(FailureType::Config)
        }
        Some(Why::PlatformDown | Why::Interrupt | Why::Terminate) => Some(FailureType::Transient),
        Some(Why::OutputClosed) => None,
        Some(Why::OutputError | Why::Internal | Why::StateError) => Some(FailureType::System),
        // Only the platform's final answers: logged, and the sync succeeds.
        None if report.window_done => None,
        None if report.summary.customers.failed > 0 => Some(FailureType::Transient),
        None => None,
    }
}

fn stop_message(why: StoppedBecause) -> String {
    use StoppedBecause as Why;
    match why {
        Why::BadKey => StopReason::BadKey.message(),
        Why::QuotaExhausted => StopReason::QuotaExhausted.message(),
        Why::PlatformDown => StopReason::PlatformDown.message(),
        Why::Certificate => StopReason::Certificate.message(),
        Why::Misdirected => "the API's address answers like something else: check base_url".into(),
        Why::Interrupt | Why::Terminate => "interrupted by a signal".into(),
        Why::OutputClosed => "stdout was closed".into(),
        Why::OutputError | Why::Internal | Why::StateError => {
            "the output could not be written".into()
        }
    }
}

/// A per-stream STATE message.
fn state_message(state: &StreamState) -> Vec<u8> {
    message_line(&json!({"type": "STATE", "state": {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": STREAM}, "stream_state": state},
    }}))
}

/// The stream's state in what `--state` holds: a list of state messages
/// (per-stream or global), or one of them, or a legacy state object.
fn read_state(value: Value) -> Result<StreamState, UsageError> {
    let ours = |stream: &Value| stream["stream_descriptor"]["name"] == STREAM;
    let from = |v: &Value| StreamState::from_value(v.clone(), "the state's stream_state");
    let messages = match &value {
        Value::Array(list) => list.clone(),
        Value::Object(map) if map.contains_key("type") => vec![value.clone()],
        Value::Object(map) => {
            return match map.get(STREAM) {
                Some(v) => from(v),
                None if map.is_empty() => Ok(StreamState::default()),
                None => Err(UsageError::invalid(
                    "the state is neither a list of state messages nor a legacy state of chat_messages",
                )),
            };
        }
        _ => {
            return Err(UsageError::invalid(
                "the state is not a JSON list or object",
            ))
        }
    };
    for message in &messages {
        let message = message.get("state").unwrap_or(message);
        match message["type"].as_str() {
            Some("STREAM") if ours(&message["stream"]) => {
                return from(&message["stream"]["stream_state"])
            }
            Some("GLOBAL") => {
                for s in message["global"]["stream_states"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if ours(s) {
                        return from(&s["stream_state"]);
                    }
                }
            }
            Some("STREAM" | "LEGACY") => {}
            _ => {
                return Err(UsageError::invalid(
                    "the state holds a message that is not a state",
                ))
            }
        }
    }
    Ok(StreamState::default())
}

/// Write one AirbyteMessage on stdout, whole.
fn emit(message: Value) {
    let _ = write_lines(&message_line(&message));
}

/// A TRACE error message.
fn trace(failure: FailureType, message: &str) {
    let first = message.lines().next().unwrap_or(message);
    emit(json!({"type": "TRACE", "trace": {
        "type": "ERROR",
        "emitted_at": chrono::Utc::now().timestamp_millis() as f64,
        "error": {
            "message": first,
            "internal_message": message,
            "failure_type": failure.name(),
        }
    }}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airbyte_states_read_back_in_every_form() {
        let ours = StreamState {
            window_end: Some("2026-03-02T00:00:00Z".into()),
            in_progress: None,
        };
        let line: Value = serde_json::from_slice(&state_message(&ours)).unwrap();
        assert_eq!(read_state(json!([line["state"]])).unwrap(), ours);
        assert_eq!(read_state(line["state"].clone()).unwrap(), ours);
        assert_eq!(read_state(json!({STREAM: ours})).unwrap(), ours);
        assert_eq!(read_state(json!([])).unwrap(), StreamState::default());
        assert!(read_state(json!("x")).is_err());
        assert!(read_state(json!([{"type": "RECORD"}])).is_err());
    }
}
