//! `tap-yuju`: the export as a Singer tap (singer-io/getting-started,
//! `docs/SPEC.md`). Standard output carries only SCHEMA, RECORD and STATE
//! messages, one JSON object a line; logs go to standard error.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use serde_json::{json, Value};

use super::config::{read_json, PipelineConfig};
use super::contacts;
use super::state::StreamState;
use super::stream::{self, Framing, CURSOR, KEY, STREAM};
use super::{message_line, run_sync, write_lines, SyncRequest};
use crate::error::{Exit, RunError, UsageError};

/// A Singer tap for the Yuju AI (语聚AI) chat records: `chat_messages`,
/// incremental by export window, and `contacts`, the contact list.
#[derive(Debug, Parser)]
#[command(name = "tap-yuju", version)]
pub struct TapArgs {
    /// The tap's JSON config (see `--about`).
    #[arg(long, value_name = "PATH", required_unless_present = "about")]
    pub config: Option<PathBuf>,
    /// The state the target last emitted.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The catalog, with the stream and properties selected.
    #[arg(long, value_name = "PATH", conflicts_with = "properties")]
    pub catalog: Option<PathBuf>,
    /// The catalog, by its older name.
    #[arg(long, value_name = "PATH")]
    pub properties: Option<PathBuf>,
    /// Print the catalog and exit.
    #[arg(long)]
    pub discover: bool,
    /// Print what the tap is and which settings it takes, and exit.
    #[arg(long)]
    pub about: bool,
    /// With --about: `json` for machines, `markdown` for people.
    #[arg(long, value_name = "FORMAT", requires = "about")]
    pub format: Option<String>,
}

/// The tap's main: parse the arguments, run, map the outcome to an exit.
pub fn main() -> Exit {
    let args = TapArgs::parse();
    crate::console::logging::init(&Default::default());
    match run(args) {
        Ok(exit) => exit,
        Err(e) => {
            let exit = e.exit();
            match e {
                RunError::Usage(e) => eprintln!("tap-yuju: error: {e}"),
                e => tracing::error!("{e}"),
            }
            exit
        }
    }
}

fn run(args: TapArgs) -> Result<Exit, RunError> {
    if args.about {
        print_line(&about(args.format.as_deref())?);
        return Ok(Exit::Success);
    }
    let config_path = args.config.expect("clap requires --config");
    let config = PipelineConfig::load(&config_path)?;
    if args.discover {
        let _ = write_lines(&message_line(&catalog()));
        return Ok(Exit::Success);
    }
    let catalog = match args.catalog.or(args.properties) {
        Some(path) => Some(read_json::<Value>(&path, "catalog")?),
        None => None,
    };
    if let Some(properties) = contacts_selection(catalog.as_ref())? {
        let schema = json!({
            "type": "SCHEMA",
            "stream": contacts::NAME,
            "schema": contacts::schema_of(&properties),
            "key_properties": contacts::KEY,
        });
        let _ = write_lines(&message_line(&schema));
        contacts::run(&config, &properties, Framing::Singer)?;
    }
    let Some(selection) = Selection::of(catalog.as_ref())? else {
        tracing::info!("the catalog does not select {STREAM}: nothing more to sync");
        return Ok(Exit::Success);
    };
    let state = match &args.state {
        Some(path) => read_state(read_json::<Value>(path, "state")?)?,
        None => StreamState::default(),
    };
    let schema = json!({
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": stream::schema_of(&selection.properties),
        "key_properties": KEY,
        "bookmark_properties": [CURSOR],
    });
    let _ = write_lines(&message_line(&schema));
    let request = SyncRequest {
        config,
        state,
        selected: selection.properties,
        full_refresh: selection.full_refresh,
        framing: Framing::Singer,
        state_line: Arc::new(state_message),
    };
    Ok(run_sync(request)?.map_or(Exit::Success, |report| super::sync_exit(&report)))
}

/// A Singer STATE message for the stream's state.
fn state_message(state: &StreamState) -> Vec<u8> {
    message_line(&json!({"type": "STATE", "value": {"bookmarks": {STREAM: state}}}))
}

/// The stream's state in a Singer state (`{"bookmarks": {…}}`).
fn read_state(value: Value) -> Result<StreamState, UsageError> {
    let Value::Object(map) = value else {
        return Err(UsageError::invalid("the state is not a JSON object"));
    };
    match map.get("bookmarks") {
        None => Ok(StreamState::default()),
        Some(Value::Object(bookmarks)) => match bookmarks.get(STREAM) {
            None => Ok(StreamState::default()),
            Some(v) => StreamState::from_value(v.clone(), "the state's bookmark"),
        },
        Some(_) => Err(UsageError::invalid(
            "the state's bookmarks is not an object",
        )),
    }
}

/// The catalog's entry of the stream `name`, if it lists it.
fn stream_entry<'a>(catalog: &'a Value, name: &str) -> Result<Option<&'a Value>, UsageError> {
    let streams = catalog["streams"]
        .as_array()
        .ok_or_else(|| UsageError::invalid("the catalog has no streams list"))?;
    Ok(streams
        .iter()
        .find(|s| s["tap_stream_id"] == name || s["stream"] == name))
}

/// The metadata an entry gives at `breadcrumb`.
fn metadata_at<'a>(entry: &'a Value, breadcrumb: &Value) -> Option<&'a Value> {
    entry["metadata"]
        .as_array()?
        .iter()
        .find(|m| m["breadcrumb"] == *breadcrumb)
        .map(|m| &m["metadata"])
}

/// The properties of `contacts` a catalog selects; `None` when it does not
/// select the stream (nor does a sync without a catalog, as before the
/// stream existed). A property is selected when its metadata says so, or
/// says nothing and is selected by default (all but the personal data).
fn contacts_selection(catalog: Option<&Value>) -> Result<Option<Vec<&'static str>>, UsageError> {
    let Some(catalog) = catalog else {
        return Ok(None);
    };
    let Some(entry) = stream_entry(catalog, contacts::NAME)? else {
        return Ok(None);
    };
    let at = |breadcrumb: Value| metadata_at(entry, &breadcrumb);
    let chosen = |m: Option<&Value>, default: bool| {
        m.and_then(|m| {
            m["selected"]
                .as_bool()
                .or(m["selected-by-default"].as_bool())
        })
        .unwrap_or(default)
    };
    if !chosen(at(json!([])), false) {
        return Ok(None);
    }
    Ok(Some(contacts::selected(|p| {
        chosen(
            at(json!(["properties", p])),
            !contacts::PERSONAL.contains(&p),
        )
    })))
}

/// What a catalog asks of the stream.
struct Selection {
    properties: Vec<&'static str>,
    full_refresh: bool,
}

impl Selection {
    /// The selection a catalog makes (everything without one); `None`
    /// when it does not select the stream.
    fn of(catalog: Option<&Value>) -> Result<Option<Selection>, UsageError> {
        let Some(catalog) = catalog else {
            return Ok(Some(Selection {
                properties: stream::selected(|_| false),
                full_refresh: false,
            }));
        };
        let Some(entry) = stream_entry(catalog, STREAM)? else {
            return Ok(None);
        };
        let at = |breadcrumb: Value| metadata_at(entry, &breadcrumb);
        let top = at(json!([]));
        let selected = top
            .and_then(|m| {
                m["selected"]
                    .as_bool()
                    .or(m["selected-by-default"].as_bool())
            })
            .unwrap_or(true);
        if !selected {
            return Ok(None);
        }
        let full_refresh = top
            .and_then(|m| m["replication-method"].as_str())
            .is_some_and(|m| m == "FULL_TABLE");
        let properties = stream::selected(|p| {
            at(json!(["properties", p])).and_then(|m| m["selected"].as_bool()) == Some(false)
        });
        Ok(Some(Selection {
            properties,
            full_refresh,
        }))
    }
}

/// The catalog `--discover` prints.
pub fn catalog() -> Value {
    let mut metadata = vec![json!({
        "breadcrumb": [],
        "metadata": {
            "inclusion": "available",
            "selected-by-default": true,
            "table-key-properties": KEY,
            "valid-replication-keys": [CURSOR],
            "forced-replication-method": "INCREMENTAL",
        }
    })];
    for p in stream::PROPERTIES {
        let automatic = KEY.contains(&p) || p == CURSOR;
        metadata.push(json!({
            "breadcrumb": ["properties", p],
            "metadata": {
                "inclusion": if automatic { "automatic" } else { "available" },
                "selected-by-default": true,
            }
        }));
    }
    json!({"streams": [{
        "tap_stream_id": STREAM,
        "stream": STREAM,
        "schema": stream::schema(),
        "key_properties": KEY,
        "replication_key": CURSOR,
        "replication_method": "INCREMENTAL",
        "metadata": metadata,
    }, contacts_entry()]})
}

/// The `contacts` stream in the catalog: full table, not selected by
/// default, its personal data not selected by default either.
fn contacts_entry() -> Value {
    let mut metadata = vec![json!({
        "breadcrumb": [],
        "metadata": {
            "inclusion": "available",
            "selected-by-default": false,
            "table-key-properties": contacts::KEY,
            "forced-replication-method": "FULL_TABLE",
        }
    })];
    for p in contacts::PROPERTIES {
        metadata.push(json!({
            "breadcrumb": ["properties", p],
            "metadata": {
                "inclusion": if contacts::KEY.contains(&p) { "automatic" } else { "available" },
                "selected-by-default": !contacts::PERSONAL.contains(&p),
            }
        }));
    }
    json!({
        "tap_stream_id": contacts::NAME,
        "stream": contacts::NAME,
        "schema": contacts::schema(),
        "key_properties": contacts::KEY,
        "replication_method": "FULL_TABLE",
        "metadata": metadata,
    })
}

/// `--about`: JSON (Meltano reads it) or Markdown.
fn about(format: Option<&str>) -> Result<String, UsageError> {
    let settings = super::config::settings_schema();
    match format {
        Some("json") => Ok(json!({
            "name": "tap-yuju",
            "description": "Chat records of the Yuju AI (语聚AI) platform, by customer",
            "version": env!("CARGO_PKG_VERSION"),
            "capabilities": ["catalog", "discover", "state", "about"],
            "settings": settings,
        })
        .to_string()),
        None | Some("markdown") => {
            let mut text = format!(
                "# tap-yuju {}\n\nChat records of the Yuju AI (语聚AI) platform, by \
                 customer: the streams `{STREAM}` (incremental) and `contacts` (full \
                 table).\n\nCapabilities: catalog, discover, state, \
                 about.\n\n## Settings\n\n| setting | type | description |\n| --- | --- | --- |\n",
                env!("CARGO_PKG_VERSION")
            );
            for (name, spec) in settings["properties"].as_object().into_iter().flatten() {
                text.push_str(&format!(
                    "| `{name}` | {} | {} |\n",
                    spec["type"],
                    spec["description"].as_str().unwrap_or("")
                ));
            }
            Ok(text)
        }
        Some(other) => Err(UsageError::invalid(format!(
            "--format {other}: use json or markdown"
        ))),
    }
}

fn print_line(text: &str) {
    let _ = write_lines(format!("{}\n", text.trim_end()).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_selects_the_stream_and_its_properties() {
        let all = Selection::of(None).unwrap().unwrap();
        assert_eq!(all.properties.len(), stream::PROPERTIES.len());
        let mut c = catalog();
        let meta = c["streams"][0]["metadata"].as_array_mut().unwrap();
        for m in meta.iter_mut() {
            if m["breadcrumb"] == json!(["properties", "content"])
                || m["breadcrumb"] == json!(["properties", "seq"])
            {
                m["metadata"]["selected"] = json!(false);
            }
        }
        let s = Selection::of(Some(&c)).unwrap().unwrap();
        assert!(!s.properties.contains(&"content"));
        assert!(s.properties.contains(&"seq"), "a key stays");
        c["streams"][0]["metadata"][0]["metadata"]["selected"] = json!(false);
        assert!(Selection::of(Some(&c)).unwrap().is_none());
    }

    #[test]
    fn singer_states_read_back() {
        let line = state_message(&StreamState {
            window_end: Some("2026-03-02T00:00:00Z".into()),
            in_progress: None,
        });
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["type"], "STATE");
        let back = read_state(v["value"].clone()).unwrap();
        assert_eq!(back.window_end.as_deref(), Some("2026-03-02T00:00:00Z"));
        assert_eq!(read_state(json!({})).unwrap(), StreamState::default());
        assert!(read_state(json!([])).is_err());
        assert!(read_state(json!({"bookmarks": {STREAM: {"window_end": 1}}})).is_err());
    }
}
