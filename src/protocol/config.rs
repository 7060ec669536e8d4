//! The JSON config both pipeline executables read: snake_case keys that
//! match the export's settings, checked by the same validation as
//! `export`. An unknown key is an error that names it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::options::{ByteSize, ExportOptions, HumanDuration};
use crate::error::UsageError;

/// Most bytes read from a config, state or catalog file: a few lines.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A pipeline's config, as its file gives it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub chat_source: Vec<String>,
    #[serde(default)]
    pub chat_robot: Vec<String>,
    #[serde(default)]
    pub seat_member: Vec<String>,
    pub base_url: Option<String>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    /// Timeout of one request (`30s`).
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub tz: Option<String>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    pub ca_cert: Option<PathBuf>,
    /// `256MiB`, or a number of bytes.
    pub max_response_bytes: Option<ByteSize>,
    #[serde(default)]
    pub definitive_codes: Vec<i64>,
    #[serde(default)]
    pub transient_codes: Vec<i64>,
    /// Take an empty list of customers as a sync of nothing.
    #[serde(default)]
    pub allow_empty: bool,
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
        let config: PipelineConfig = read_json(path, "config")?;
        config.check()?;
        Ok(config)
    }

    /// What the file must say, besides what `export`'s validation checks.
    fn check(&self) -> Result<(), UsageError> {
        if self.api_key.as_deref().is_none_or(|k| k.trim().is_empty()) {
            return Err(UsageError::invalid("the config has no api_key"));
        }
        match (&self.customer_ids, &self.ids_file) {
            (Some(_), Some(_)) => Err(UsageError::invalid(
                "the config gives both customer_ids and ids_file: give one of them",
            )),
            (None, None) => Err(UsageError::invalid(
                "the config gives no customers: set customer_ids (a list) or ids_file (a path)",
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
        let duration = |text: &Option<String>, key: &str| {
            text.as_deref()
                .map(|t| {
                    t.parse::<HumanDuration>()
                        .map_err(|e| UsageError::invalid(format!("{key}: {e}")))
                })
                .transpose()
        };
        let timeout = duration(&self.timeout, "timeout")?;
        Ok(ExportOptions {
            ids: self.ids_file.clone(),
            out: Some("-".into()),
            format: Some(crate::output::Format::Jsonl),
            base_url: self.base_url.clone(),
            allow_insecure_http: self.allow_insecure_http,
            ca_cert: self.ca_cert.clone(),
            max_response_bytes: self.max_response_bytes,
            concurrency: self.concurrency,
            rate: self.rate,
            timeout,
            retries: self.retries,
            definitive_codes: self.definitive_codes.clone(),
            transient_codes: self.transient_codes.clone(),
            allow_empty: self.allow_empty,
            start: Some(start.to_string()),
            end: end.map(str::to_string),
            tz: self.tz.clone(),
            chat_source: self.chat_source.clone(),
            chat_robot: self.chat_robot.clone(),
            seat_member: self.seat_member.clone(),
            progress: Some(crate::console::progress::ProgressMode::Never),
            ..ExportOptions::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PipelineConfig, String> {
        let c: PipelineConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
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
    }
}

/// The config's JSON Schema: Airbyte's `connectionSpecification`, and the
/// settings `tap-yuju --about` lists.
pub fn settings_schema() -> serde_json::Value {
    use serde_json::json;
    let text = |description: &str| json!({"type": "string", "description": description});
    let list = |description: &str| json!({"type": "array", "items": {"type": "string"}, "description": description});
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Yuju AI chat records",
        "type": "object",
        "required": ["api_key"],
        "additionalProperties": false,
        "properties": {
            "api_key": {
                "type": "string",
                "description": "The platform's API key.",
                "airbyte_secret": true,
                "sensitive": true,
                "order": 0
            },
            "customer_ids": list("The customers to export (or ids_file: exactly one of the two)."),
            "ids_file": text("A file of customer IDs, one per line, or a CSV with a customer_id column."),
            "start_date": text("Where the first sync's window starts: RFC 3339, or a date (YYYY-MM-DD) in tz."),
            "end_date": text("Where each window ends, in the same forms (default: now)."),
            "lookback": text("Start each window this long before the bookmark, e.g. 2h or 1d."),
            "chat_source": list("Only chats from these channels."),
            "chat_robot": list("Only chats answered by these AI assistants."),
            "seat_member": list("Only chats handled by these human agents."),
            "base_url": text("Base URL of the API (default: https://chat.jijyun.cn)."),
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 1024, "description": "Most requests in flight at once (default: 8)."},
            "rate": {"type": "number", "description": "Cap on requests per second (default: the platform's limit, found from its 429s)."},
            "timeout": text("Timeout of one request, e.g. 30s."),
            "retries": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Retries of one customer after transient faults (default: 5)."},
            "tz": text("Time zone of dates and of the window sent: an IANA name such as Asia/Shanghai, or local (default)."),
            "allow_insecure_http": {"type": "boolean", "description": "Allow a plain http:// base_url to a host other than loopback."},
            "ca_cert": text("A PEM file of extra root certificates to trust."),
            "max_response_bytes": {"type": ["string", "integer"], "description": "Largest answer accepted, decompressed: 256MiB, or bytes."},
            "definitive_codes": {"type": "array", "items": {"type": "integer"}, "description": "API codes that mean the request can never succeed, besides 4000."},
            "transient_codes": {"type": "array", "items": {"type": "integer"}, "description": "API codes that mean a fault that may pass."},
            "allow_empty": {"type": "boolean", "description": "Take an empty list of customers as a sync of nothing (default: an error)."}
        }
    })
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The schema lists exactly the keys the config reads.
    #[test]
    fn the_schema_names_every_key_the_config_takes() {
        let schema = settings_schema();
        let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let mut full = serde_json::Map::new();
        for key in &keys {
            let value = match key.as_str() {
                "customer_ids" | "chat_source" | "chat_robot" | "seat_member" => {
                    serde_json::json!([])
                }
                "definitive_codes" | "transient_codes" => serde_json::json!([]),
                "concurrency" | "retries" => serde_json::json!(1),
                "rate" => serde_json::json!(1.0),
                "allow_insecure_http" | "allow_empty" => serde_json::json!(false),
                "max_response_bytes" => serde_json::json!(1000),
                _ => serde_json::json!("x"),
            };
            full.insert((*key).clone(), value);
        }
        let parsed: Result<PipelineConfig, _> =
            serde_json::from_value(serde_json::Value::Object(full));
        assert!(parsed.is_ok(), "{parsed:?}");
        let fields = serde_json::to_value(PipelineConfig::default()).unwrap();
        let fields: Vec<&String> = fields.as_object().unwrap().keys().collect();
        assert_eq!(keys, fields, "the schema and the config name the same keys");
    }
}
