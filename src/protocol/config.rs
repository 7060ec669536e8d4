//! The JSON config both pipeline executables read: the pipeline's own keys
//! (the key, the customers, the first window's start), and `export`'s
//! settings under their snake_case names, taken from the one list of
//! settings ([`crate::config::options`]) with their types, defaults and
//! ranges, and checked by the same validation as `export`. The settings a
//! sync does not take are listed in [`LEFT_OUT`] with the reason; any
//! other key is an error that names it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::options::{ExportOptions, HumanDuration};
use crate::error::UsageError;

/// Most bytes read from a config, state or catalog file: a few lines.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The settings of `export` a sync takes, under their field names.
pub const SYNC_SETTINGS: [&str; 30] = [
    "allow_empty",
    "all_contacts",
    "contact_filters",
    "allow_empty_contacts",
    "min_contacts",
    "mask",
    "mask_style",
    "pseudonymize",
    "pseudonym_key_file",
    "shard",
    "tz",
    "chat_source",
    "chat_robot",
    "seat_member",
    "concurrency",
    "rate",
    "retries",
    "retry_base",
    "retry_cap",
    "max_retry_after",
    "definitive_codes",
    "transient_codes",
    "base_url",
    "allow_insecure_http",
    "ca_cert",
    "timeout",
    "connect_timeout",
    "max_response_bytes",
    "progress_interval",
    "verbose",
];

/// The settings of `export` a sync leaves out on purpose, with the reason.
pub const LEFT_OUT: [(&str, &str); 26] = [
    (
        "ids",
        "the customers are customer_ids, ids_file or all_contacts",
    ),
    ("config", "this JSON file is the config"),
    ("out", "records go to stdout as protocol messages"),
    ("format", "records go to stdout as protocol messages"),
    ("compress", "records go to stdout as protocol messages"),
    ("columns", "the catalog selects the stream's properties"),
    (
        "parquet_row_group_rows",
        "records go to stdout as protocol messages",
    ),
    ("csv_bom", "records go to stdout as protocol messages"),
    (
        "csv_formula_guard",
        "records go to stdout as protocol messages",
    ),
    (
        "failed",
        "each failed customer is logged; the bookmark holds the window",
    ),
    ("file_mode", "a sync writes no file"),
    ("resume", "the state continues an interrupted window"),
    ("restart", "a sync without state starts afresh"),
    (
        "days",
        "the window runs from the bookmark (or start_date) to end_date",
    ),
    ("start", "the first window starts at start_date"),
    ("end", "the window ends at end_date"),
    (
        "api_key_file",
        "the key is api_key, a secret the orchestrator stores",
    ),
    ("state", "the pipeline's state holds the bookmark"),
    (
        "accept_empty",
        "a sync's state keeps no share of customers with chats",
    ),
    (
        "lookback",
        "the config's own lookback moves back the bookmark",
    ),
    ("metrics", "the pipeline's state and log are its report"),
    ("summary", "the pipeline's state and log are its report"),
    ("dry_run", "a pipeline has check and discover instead"),
    ("progress", "the protocol owns stdout; progress is logged"),
    ("quiet", "the orchestrator filters the log"),
    ("log_format", "the protocol sets the log's form"),
];

/// The keys of the pipeline itself, with their schemas.
fn own_keys() -> Map<String, Value> {
    let text = |description: &str| json!({"type": "string", "description": description});
    let mut keys = Map::new();
    keys.insert(
        "api_key".into(),
        json!({
            "type": "string",
            "description": "The platform's API key.",
            "airbyte_secret": true,
            "sensitive": true,
            "order": 0
        }),
    );
    keys.insert(
        "customer_ids".into(),
        json!({"type": "array", "items": {"type": "string"},
               "description": "The customers to export (or ids_file, or all_contacts: exactly one of the three)."}),
    );
    keys.insert(
        "ids_file".into(),
        text("A file of customer IDs, one per line, or a CSV with a customer_id column."),
    );
    keys.insert(
        "start_date".into(),
        text("Where the first sync's window starts: RFC 3339, or a date (YYYY-MM-DD) in tz."),
    );
    keys.insert(
        "end_date".into(),
        text("Where each window ends, in the same forms (default: now)."),
    );
    keys.insert(
        "lookback".into(),
        text("Start each window this long before the bookmark, e.g. 2h or 1d."),
    );
    keys
}

/// A pipeline's config, as its file gives it.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// The platform's API key (required).
    pub api_key: Option<String>,
    /// The customers, given in the config.
    pub customer_ids: Option<Vec<String>>,
    /// Or a file of customer IDs, as `export --ids` reads it.
    pub ids_file: Option<PathBuf>,
    /// Where the first sync's window starts (RFC 3339, or a date in `tz`).
    pub start_date: Option<String>,
    /// Where each window ends (default: now).
    pub end_date: Option<String>,
    /// Start each window this long before the bookmark (`2h`, `1d`).
    pub lookback: Option<String>,
    /// `export`'s settings the config gives ([`SYNC_SETTINGS`]).
    pub export: ExportOptions,
}

/// The pipeline's own keys, as the file gives them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    api_key: Option<String>,
    customer_ids: Option<Vec<String>>,
    ids_file: Option<PathBuf>,
    start_date: Option<String>,
    end_date: Option<String>,
    lookback: Option<String>,
}

/// Read a JSON file a pipeline hands over (config, state, catalog), bounded.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, UsageError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut text))
        .map_err(|source| UsageError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::from_str(&text).map_err(|e| {
        // serde_json names the unknown key and the line; never the value.
        UsageError::invalid(format!("the {what} {} is not valid: {e}", path.display()))
    })
}

impl PipelineConfig {
    /// Read and check the config file at `path`.
    pub fn load(path: &Path) -> Result<PipelineConfig, UsageError> {
        let value: Value = read_json(path, "config")?;
        let config = PipelineConfig::from_value(value).map_err(|e| {
            UsageError::invalid(format!("the config {} is not valid: {e}", path.display()))
        })?;
        config.check()?;
        Ok(config)
    }

    /// Split a config object into the pipeline's keys and `export`'s
    /// settings; a setting left out, or a key nobody knows, is named.
    pub fn from_value(value: Value) -> Result<PipelineConfig, String> {
        let Value::Object(object) = value else {
            return Err("the config is not a JSON object".into());
        };
        let own_names = own_keys();
        let (mut own, mut export) = (Map::new(), Map::new());
        for (key, value) in object {
            if own_names.contains_key(&key) {
                own.insert(key, value);
            } else if SYNC_SETTINGS.contains(&key.as_str()) {
                export.insert(key.replace('_', "-"), value);
            } else if let Some((_, why)) = LEFT_OUT.iter().find(|(name, _)| *name == key) {
                return Err(format!("{key} is not a setting of a sync: {why}"));
            } else {
                return Err(format!("unknown field `{key}`"));
            }
        }
        let own: Own = serde_json::from_value(Value::Object(own)).map_err(|e| hidden(&e))?;
        let export = settings(export)?;
        Ok(PipelineConfig {
            api_key: own.api_key,
            customer_ids: own.customer_ids,
            ids_file: own.ids_file,
            start_date: own.start_date,
            end_date: own.end_date,
            lookback: own.lookback,
            export,
        })
    }

    /// What the file must say, besides what `export`'s validation checks.
    fn check(&self) -> Result<(), UsageError> {
        if self.api_key.as_deref().is_none_or(|k| k.trim().is_empty()) {
            return Err(UsageError::invalid("the config has no api_key"));
        }
        if self.export.all_contacts && (self.customer_ids.is_some() || self.ids_file.is_some()) {
            return Err(UsageError::invalid(
                "the config gives all_contacts and customer_ids or ids_file: give one way of \
                 naming the customers",
            ));
        }
        match (&self.customer_ids, &self.ids_file) {
            (None, None) if self.export.all_contacts => Ok(()),
            (Some(_), Some(_)) => Err(UsageError::invalid(
                "the config gives both customer_ids and ids_file: give one of them",
            )),
            (None, None) => Err(UsageError::invalid(
                "the config gives no customers: set customer_ids (a list), ids_file (a path) \
                 or all_contacts (true: the platform's contact list)",
            )),
            (Some(ids), None) => match ids.iter().position(|id| id.contains(['\n', '\r'])) {
                Some(i) => Err(UsageError::invalid(format!(
                    "customer_ids[{i}] holds a line break"
                ))),
                None => Ok(()),
            },
            (None, Some(_)) => Ok(()),
        }
    }

    /// The export's settings for a window from `start` to `end` (RFC 3339,
    /// or the forms `--start` takes), stdout as the output.
    pub fn options(&self, start: &str, end: Option<&str>) -> Result<ExportOptions, UsageError> {
        Ok(ExportOptions {
            ids: self.ids_file.clone(),
            out: Some("-".into()),
            format: Some(crate::output::Format::Jsonl),
            start: Some(start.to_string()),
            end: end.map(str::to_string),
            progress: Some(crate::console::progress::ProgressMode::Never),
            ..self.export.clone()
        })
    }

    /// `lookback`, parsed.
    pub fn lookback(&self) -> Result<std::time::Duration, UsageError> {
        self.lookback
            .as_deref()
            .map_or(Ok(std::time::Duration::ZERO), |t| {
                t.parse::<HumanDuration>()
                    .map(|d| d.0)
                    .map_err(|e| UsageError::invalid(format!("lookback: {e}")))
            })
    }
}

/// `export`'s settings of a config (kebab-case keys), each one's error
/// naming its key, never its value (it may be a key pasted into the wrong
/// field).
fn settings(export: Map<String, Value>) -> Result<ExportOptions, String> {
    match serde_json::from_value(Value::Object(export.clone())) {
        Ok(options) => Ok(options),
        Err(whole) => {
            for (key, value) in export {
                let one = Map::from_iter([(key.clone(), value)]);
                if let Err(e) = serde_json::from_value::<ExportOptions>(Value::Object(one)) {
                    return Err(format!("{}: {}", key.replace('-', "_"), hidden(&e)));
                }
            }
            Err(hidden(&whole))
        }
    }
}

/// A parser's message with quoted values hidden.
fn hidden(e: &serde_json::Error) -> String {
    crate::config::options::hide_quoted(&e.to_string())
}

/// The config's JSON Schema: Airbyte's `connectionSpecification`, and the
/// settings `tap-yuju --about` lists. The pipeline's own keys, then
/// `export`'s settings a sync takes, from the one list of settings.
pub fn settings_schema() -> Value {
    let mut properties = own_keys();
    properties.extend(crate::config::options::schema::settings(&SYNC_SETTINGS));
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Yuju AI chat records",
        "type": "object",
        "required": ["api_key", "start_date"],
        "additionalProperties": false,
        "properties": properties
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PipelineConfig, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let c = PipelineConfig::from_value(value)?;
        c.check().map(|_| c).map_err(|e| e.to_string())
    }

    #[test]
    fn the_config_says_what_is_wrong() {
        let ok = r#"{"api_key":"k","customer_ids":["a"],"start_date":"2026-03-01"}"#;
        assert!(parse(ok).is_ok());
        let e = parse(r#"{"api_key":"k","customer_ids":["a"],"start_dat":"x"}"#).unwrap_err();
        assert!(e.contains("unknown field `start_dat`"), "{e}");
        let e = parse(r#"{"customer_ids":["a"]}"#).unwrap_err();
        assert!(e.contains("api_key"), "{e}");
        let e = parse(r#"{"api_key":"k","customer_ids":["a"],"ids_file":"x"}"#).unwrap_err();
        assert!(e.contains("both"), "{e}");
        let e = parse(r#"{"api_key":"k"}"#).unwrap_err();
        assert!(e.contains("customer_ids"), "{e}");
        let e = parse(r#"{"api_key":"k","customer_ids":["a\nb"]}"#).unwrap_err();
        assert!(e.contains("customer_ids[0]"), "{e}");
        let e = parse(r#"{"api_key":"k","customer_ids":["a"],"out":"x.csv"}"#).unwrap_err();
        assert!(e.contains("out is not a setting of a sync"), "{e}");
        let e = parse(r#"{"api_key":"k","customer_ids":["a"],"retries":"sk-LIVE"}"#).unwrap_err();
        assert!(e.starts_with("retries: ") && !e.contains("sk-LIVE"), "{e}");
    }

    /// Settings a sync used to lack are taken, as `export` takes them.
    #[test]
    fn export_settings_are_taken_by_their_names() {
        let c = parse(
            r#"{"api_key":"k","customer_ids":["a"],"connect_timeout":"3s","retry_base":"200ms",
                "retry_cap":"2s","max_retry_after":"1m","shard":"1/4","retries":2,
                "max_response_bytes":"64KiB","definitive_codes":[4100]}"#,
        )
        .unwrap();
        let o = c.options("2026-03-01", None).unwrap();
        assert_eq!(
            o.connect_timeout.unwrap().0,
            std::time::Duration::from_secs(3)
        );
        assert_eq!(
            o.retry_base.unwrap().0,
            std::time::Duration::from_millis(200)
        );
        assert_eq!(o.shard.as_deref(), Some("1/4"));
        assert_eq!(o.retries, Some(2));
        assert_eq!(o.definitive_codes, vec![4100]);
        assert_eq!(o.out.as_deref(), Some(Path::new("-")));
    }

    /// Every setting of `export` is either taken by a sync or left out on
    /// purpose, with a reason; never both, never neither.
    #[test]
    fn every_export_setting_is_taken_or_left_out_with_a_reason() {
        for (field, _) in ExportOptions::json_types() {
            let taken = SYNC_SETTINGS.contains(&field);
            let left = LEFT_OUT
                .iter()
                .any(|(name, why)| *name == field && !why.is_empty());
            assert!(taken ^ left, "{field}: taken {taken}, left out {left}");
        }
        assert_eq!(
            ExportOptions::json_types().len(),
            SYNC_SETTINGS.len() + LEFT_OUT.len()
        );
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The schema lists exactly the keys the config takes, each with a
    /// description, and the ranges and defaults of the one list.
    #[test]
    fn the_schema_names_every_key_the_config_takes() {
        let schema = settings_schema();
        let properties = schema["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let own_map = own_keys();
        let mut expected: Vec<&str> = own_map.keys().map(String::as_str).collect();
        let own = expected.clone();
        expected.extend(SYNC_SETTINGS);
        expected.sort_unstable();
        assert_eq!(keys, expected);
        for (key, p) in properties {
            assert!(
                p["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{key}"
            );
            assert!(p["type"].is_string() || p["type"].is_array(), "{key}");
        }
        assert_eq!(properties["concurrency"]["minimum"], 1);
        assert_eq!(properties["concurrency"]["maximum"], 1024);
        assert_eq!(properties["concurrency"]["type"], "integer");
        assert!(properties["concurrency"]["description"]
            .as_str()
            .unwrap()
            .contains("(default: 8)"));
        assert_eq!(properties["definitive_codes"]["items"]["type"], "integer");
        assert_eq!(properties["allow_empty"]["type"], "boolean");
        // A config with every key the schema names parses.
        let mut full = Map::new();
        for (key, p) in properties {
            let value = match p["type"].as_str() {
                Some("array") if p["items"]["type"] == "integer" => json!([1]),
                Some("array") => json!(["x"]),
                Some("boolean") => json!(false),
                Some("integer") => json!(p["minimum"].as_u64().unwrap_or(1).max(1)),
                Some("number") => json!(1.0),
                _ if p["enum"].is_array() => p["enum"][0].clone(),
                _ if key == "shard" => json!("0/2"),
                _ if own.contains(&key.as_str()) => json!("x"),
                _ => json!("1s"),
            };
            let value = match key.as_str() {
                "max_response_bytes" => json!("1MiB"),
                "tz" => json!("UTC"),
                "base_url" => json!("http://127.0.0.1:1"),
                _ => value,
            };
            full.insert(key.clone(), value);
        }
        let parsed = PipelineConfig::from_value(Value::Object(full));
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
