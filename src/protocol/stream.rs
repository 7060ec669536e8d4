//! The one stream, `chat_messages`: its JSON Schema, its keys and cursor,
//! which properties a catalog selects, and the record encoder that writes
//! each row as one protocol message.

use serde_json::{json, Value};

use crate::output::jsonl::{write_members, Empty};
use crate::record::{Column, Row, RowEncoder, Table};

/// The stream's name.
pub const STREAM: &str = "chat_messages";

/// The key properties: one row per message of a chat.
pub const KEY: [&str; 3] = ["customer_id", "chat_id", "seq"];

/// The replication key (Singer) and cursor (Airbyte).
pub const CURSOR: &str = "window_end";

/// Every property, in record order: the export's columns, then the window.
pub const PROPERTIES: [&str; 10] = [
    "customer_id",
    "chat_id",
    "seq",
    "sender_type",
    "message_type",
    "content",
    "extra",
    "chat_extra",
    "window_start",
    "window_end",
];

/// The stream's JSON Schema.
pub fn schema() -> Value {
    let text = || json!({"type": ["string", "null"]});
    let object = || json!({"type": ["object", "null"], "additionalProperties": true});
    let time = || json!({"type": ["string", "null"], "format": "date-time"});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "customer_id": {"type": "string"},
            "chat_id": {"type": "string"},
            "seq": {"type": "integer"},
            "sender_type": text(),
            "message_type": text(),
            "content": text(),
            "extra": object(),
            "chat_extra": object(),
            "window_start": time(),
            "window_end": time(),
        }
    })
}

/// `schema()` with only `selected` properties (keys and cursor always).
pub fn schema_of(selected: &[&'static str]) -> Value {
    let mut schema = schema();
    if let Some(props) = schema["properties"].as_object_mut() {
        props.retain(|name, _| selected.contains(&name.as_str()));
    }
    schema
}

/// The properties a catalog selects, in record order; the keys and the
/// cursor are always kept. `None` selects everything.
pub fn selected(deselected: impl Fn(&str) -> bool) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .copied()
        .filter(|p| KEY.contains(p) || *p == CURSOR || !deselected(p))
        .collect()
}

/// How each record message is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `{"type":"RECORD","stream":…,"record":{…},"time_extracted":…}`
    Singer,
    /// `{"type":"RECORD","record":{"stream":…,"data":{…},"emitted_at":…}}`
    Airbyte,
}

/// Writes each row as one record message line.
pub struct RecordEncoder {
    columns: Vec<Column>,
    /// `"name":` of each export column written, in order.
    keys: Vec<(Column, String)>,
    /// The window's properties, already encoded (`,"window_start":"…"`).
    window: String,
    head: String,
    tail: String,
}

impl RecordEncoder {
    /// Records of `chat_messages`' `selected` properties for the window
    /// from `start` to `end` (RFC 3339), extracted at `extracted`.
    pub fn new(
        framing: Framing,
        selected: &[&'static str],
        start: &str,
        end: &str,
        extracted: chrono::DateTime<chrono::Utc>,
    ) -> RecordEncoder {
        let mut window = String::new();
        for (name, value) in [("window_start", start), ("window_end", end)] {
            if selected.contains(&name) {
                window.push_str(&format!(",\"{name}\":{}", json!(value)));
            }
        }
        RecordEncoder::of(framing, STREAM, Table::Chats, selected, window, extracted)
    }

    /// Records of `stream`, rows of `table`: its `selected` columns, then
    /// `trailer` (properties already encoded, each starting with a comma).
    pub fn of(
        framing: Framing,
        stream: &str,
        table: Table,
        selected: &[&'static str],
        trailer: String,
        extracted: chrono::DateTime<chrono::Utc>,
    ) -> RecordEncoder {
        let columns: Vec<Column> = table
            .defaults()
            .iter()
            .chain(table.optional())
            .copied()
            .filter(|c| selected.contains(&c.name()))
            .collect();
        let keys = columns
            .iter()
            .map(|&c| (c, format!("\"{}\":", c.name())))
            .collect();
        let (head, tail) = match framing {
            Framing::Singer => (
                format!("{{\"type\":\"RECORD\",\"stream\":\"{stream}\",\"record\":"),
                format!(
                    ",\"time_extracted\":{}}}\n",
                    json!(extracted.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                ),
            ),
            Framing::Airbyte => (
                format!("{{\"type\":\"RECORD\",\"record\":{{\"stream\":\"{stream}\",\"data\":"),
                format!(",\"emitted_at\":{}}}}}\n", extracted.timestamp_millis()),
            ),
        };
        RecordEncoder {
            columns,
            keys,
            window: trailer,
            head,
            tail,
        }
    }
}

impl RowEncoder for RecordEncoder {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn header(&self, _out: &mut Vec<u8>) {}

    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        let mut n = 0;
        let mut seq = itoa::Buffer::new();
        let start = out.len();
        for row in rows {
            out.extend_from_slice(self.head.as_bytes());
            out.push(b'{');
            write_members(out, &self.keys, &row, &mut seq, Empty::Null);
            out.extend_from_slice(self.window.as_bytes());
            out.push(b'}');
            out.extend_from_slice(self.tail.as_bytes());
            n += 1;
        }
        escape_line_separators(out, start);
        n
    }
}

/// Escape U+2028 and U+2029 in `out[from..]` as `\u2028` and `\u2029`.
/// JSON allows them raw inside strings, but many line readers (Python's
/// `str.splitlines`, JavaScript before ES2019) take them for line breaks,
/// and a protocol message must stay one line. Outside strings a JSON
/// message holds neither, so the escape is always in a string.
pub fn escape_line_separators(out: &mut Vec<u8>, from: usize) {
    const SEPARATOR: [u8; 2] = [0xE2, 0x80];
    let found = |out: &[u8]| {
        memchr::memmem::find_iter(&out[from..], &SEPARATOR)
            .any(|i| matches!(out.get(from + i + 2), Some(0xA8 | 0xA9)))
    };
    if !found(out) {
        return;
    }
    let tail = out.split_off(from);
    let mut i = 0;
    while i < tail.len() {
        if tail[i..].starts_with(&SEPARATOR) && matches!(tail.get(i + 2), Some(0xA8 | 0xA9)) {
            out.extend_from_slice(if tail[i + 2] == 0xA8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            i += 3;
        } else {
            out.push(tail[i]);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ChatRow;
    use std::borrow::Cow;

    fn encode(framing: Framing, selected: &[&'static str]) -> Value {
        let extra = [(Cow::from("time"), Cow::from("\"1715665855\""))];
        let row = Row::Chat(ChatRow {
            customer_id: "c1",
            chat_id: "x",
            seq: 3,
            sender_type: "用户",
            message_type: "AI对话",
            content: "a \"quote\"\n",
            extra: &extra,
            chat_extra: &[],
        });
        let enc = RecordEncoder::new(
            framing,
            selected,
            "2026-03-01T00:00:00Z",
            "2026-03-02T00:00:00Z",
            chrono::DateTime::from_timestamp(1_770_000_000, 0).unwrap(),
        );
        let mut out = Vec::new();
        assert_eq!(enc.rows(&mut std::iter::once(row), &mut out), 1);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn line_separators_are_escaped_so_a_record_stays_one_line() {
        let mut out = b"{\"a\":\"x".to_vec();
        let from = out.len();
        out.extend_from_slice("\u{2028}y\u{2029}\u{2027}\"}".as_bytes());
        escape_line_separators(&mut out, from);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "{\"a\":\"x\\u2028y\\u2029\u{2027}\"}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], "x\u{2028}y\u{2029}\u{2027}");
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn records_are_framed_for_each_protocol_and_keep_the_selection() {
        let all = selected(|_| false);
        let v = encode(Framing::Singer, &all);
        assert_eq!(v["type"], "RECORD");
        assert_eq!(v["stream"], STREAM);
        let r = &v["record"];
        assert_eq!(r["seq"], 3);
        assert_eq!(r["content"], "a \"quote\"\n");
        assert_eq!(r["extra"], json!({"time": "1715665855"}));
        assert_eq!(r["chat_extra"], Value::Null);
        assert_eq!(r["window_end"], "2026-03-02T00:00:00Z");
        assert_eq!(r.as_object().unwrap().len(), PROPERTIES.len());

        let some = selected(|p| p == "content" || p == "extra" || p == "seq");
        assert!(some.contains(&"seq"), "keys are always selected");
        let v = encode(Framing::Airbyte, &some);
        assert_eq!(v["record"]["stream"], STREAM);
        assert_eq!(v["record"]["emitted_at"], 1_770_000_000_000u64);
        let data = v["record"]["data"].as_object().unwrap();
        assert!(!data.contains_key("content") && !data.contains_key("extra"));
        assert_eq!(data.len(), PROPERTIES.len() - 2);
        assert_eq!(
            schema_of(&some)["properties"].as_object().unwrap().len(),
            data.len()
        );
    }
}
