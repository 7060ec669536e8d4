//! JSON Lines rows: one object per line, keys in column order, `seq` an
//! integer, UTF-8 text as is (no `\u` escapes beyond what JSON requires),
//! `extra` and `chat_extra` JSON objects.

use crate::record::{write_object, Cell, Column, Row, RowEncoder};

/// How an object column with no members is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// `{}` (the JSON Lines files).
    Object,
    /// `null` (a pipeline's records, whose schema says object or null).
    Null,
}

/// Append a row's `"name":value` members for `keys` (each column with its
/// `"name":` precomputed), comma-separated: the body of a JSON object.
#[inline]
pub fn write_members(
    out: &mut Vec<u8>,
    keys: &[(Column, String)],
    row: &Row<'_>,
    seq: &mut itoa::Buffer,
    empty: Empty,
) {
    for (i, (col, key)) in keys.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key.as_bytes());
        match row.cell(*col) {
            Cell::Text(text) => {
                serde_json::to_writer(&mut *out, text).expect("writing to memory cannot fail")
            }
            Cell::Seq(n) => out.extend_from_slice(seq.format(n).as_bytes()),
            Cell::Object([]) if empty == Empty::Null => out.extend_from_slice(b"null"),
            Cell::Object(members) => write_object(out, members),
        }
    }
}

/// Encodes rows as JSON objects, one per line.
pub struct JsonlEncoder {
    columns: Vec<Column>,
    /// `"name":` for each column, precomputed.
    keys: Vec<(Column, String)>,
}

impl JsonlEncoder {
    pub fn new(columns: &[Column]) -> Self {
        JsonlEncoder {
            columns: columns.to_vec(),
            keys: columns
                .iter()
                .map(|&c| (c, format!("\"{}\":", c.name())))
                .collect(),
        }
    }
}

impl RowEncoder for JsonlEncoder {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn header(&self, _out: &mut Vec<u8>) {}

    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        let mut n = 0;
        let mut seq = itoa::Buffer::new();
        for row in rows {
            out.push(b'{');
            write_members(out, &self.keys, &row, &mut seq, Empty::Object);
            out.extend_from_slice(b"}\n");
            n += 1;
        }
        n
    }
}
