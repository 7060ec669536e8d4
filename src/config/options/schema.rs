//! The settings of `export` as a JSON Schema, for the pipelines' config:
//! each setting's type comes from its field's type in the one list
//! ([`JsonType`]), its description from its `--help` text, its default
//! from [`super::ExportOptions::defaults`] and its range from
//! [`crate::config::LIMITS`], so the schema cannot drift from the flags.

use std::path::PathBuf;

use clap::ValueEnum;
use serde_json::{json, Value};

use super::values::{ByteSize, HumanDuration};
use super::ExportOptions;
use crate::console::logging::LogFormat;
use crate::console::progress::ProgressMode;
use crate::output::{Compression, Format};
use crate::record::mask::MaskStyle;

/// The JSON Schema type of a setting's value.
pub trait JsonType {
    fn json_type() -> Value;
}

impl<T: JsonType> JsonType for Option<T> {
    fn json_type() -> Value {
        T::json_type()
    }
}

impl<T: JsonType> JsonType for Vec<T> {
    fn json_type() -> Value {
        json!({"type": "array", "items": T::json_type()})
    }
}

macro_rules! json_types {
    ($($t:ty => $json:expr),* $(,)?) => {$(
        impl JsonType for $t {
            fn json_type() -> Value {
                $json
            }
        }
    )*};
}

json_types! {
    bool => json!({"type": "boolean"}),
    u8 => json!({"type": "integer", "minimum": 0}),
    u32 => json!({"type": "integer", "minimum": 0}),
    u64 => json!({"type": "integer", "minimum": 0}),
    usize => json!({"type": "integer", "minimum": 0}),
    i64 => json!({"type": "integer"}),
    f64 => json!({"type": "number"}),
    String => json!({"type": "string"}),
    PathBuf => json!({"type": "string"}),
    HumanDuration => json!({"type": "string", "description": "a duration such as 30s, 500ms or 2m"}),
    ByteSize => json!({"type": ["string", "integer"]}),
}

macro_rules! json_enums {
    ($($t:ty),*) => {$(
        impl JsonType for $t {
            fn json_type() -> Value {
                let names: Vec<String> = <$t>::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value())
                    .map(|v| v.get_name().to_string())
                    .collect();
                json!({"type": "string", "enum": names})
            }
        }
    )*};
}
json_enums!(Format, Compression, ProgressMode, LogFormat, MaskStyle);

/// The schema of each of `fields` (settings of `export`, by field name),
/// with its description, default and range, keyed by field name.
pub fn settings(fields: &[&str]) -> serde_json::Map<String, Value> {
    use clap::Args as _;
    let mut cmd = ExportOptions::augment_args(clap::Command::new("export"));
    cmd.build();
    let defaults = ExportOptions::defaults().shown();
    let mut out = serde_json::Map::new();
    for (field, mut schema) in ExportOptions::json_types() {
        if !fields.contains(&field) {
            continue;
        }
        let arg = cmd.get_arguments().find(|a| a.get_id() == field);
        let help = arg.and_then(|a| a.get_help()).map(|h| h.to_string());
        let mut description = help.unwrap_or_default().trim_end_matches('.').to_string();
        if let Some((_, default)) = defaults.iter().find(|(name, _)| *name == field) {
            description.push_str(&format!(" (default: {default})"));
        }
        schema["description"] = Value::String(format!("{description}."));
        if let Some(limit) = crate::config::LIMITS.iter().find(|l| l.field == field) {
            schema["minimum"] = json!(limit.min);
            schema["maximum"] = json!(limit.max);
        }
        out.insert(field.to_string(), schema);
    }
    out
}
