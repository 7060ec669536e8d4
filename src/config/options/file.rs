//! The `--config` TOML file: read, parsed into the same settings as the
//! command line, errors naming the line and column but never a value.

use std::path::Path;

use super::ExportOptions;
use crate::error::UsageError;

/// Read and parse a config file; errors name the file, line and column.
pub(super) fn load_file(path: &Path) -> Result<ExportOptions, UsageError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e: toml::de::Error| {
        // toml's Display quotes the offending source line, which may be
        // the one holding a key: name the line and column instead.
        let place = e
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or(&text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(", line {line}, column {column}")
            })
            .unwrap_or_default();
        UsageError::invalid(format!(
            "config file {}{place}: {}",
            path.display(),
            hide_quoted(e.message().trim_end())
        ))
    })
}

/// Replace every double-quoted value in a parser's message (`invalid
/// type: string "sk-…", expected usize`) by `"…"`: the value may be a key
/// pasted into the wrong field. Key names (in backquotes) stay.
pub fn hide_quoted(message: &str) -> String {
    // serde names a bad enum value in backquotes: `unknown variant `x`,
    // expected one of `csv`, `jsonl``; hide that one, keep the choices.
    let hidden;
    let message = match message.strip_prefix("unknown variant `") {
        Some(rest) => {
            hidden = format!(
                "unknown variant `…`{}",
                rest.split_once('`').map_or("", |(_, after)| after)
            );
            hidden.as_str()
        }
        None => message,
    };
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        if i % 2 == 0 {
            out.push_str("\"…");
        } else {
            out.push('"');
            out.push_str(part);
        }
    }
    out
}
