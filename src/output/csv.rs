//! CSV rows: RFC 4180, UTF-8, `\n` line ends, a header row. A field is
//! quoted only when it holds a quote, a comma, CR or LF (quotes doubled
//! inside), exactly what the csv crate's `QuoteStyle::Necessary` does; the
//! integration tests read every output back with the csv crate.
//!
//! Written by hand rather than through `csv::Writer` because this is the hot
//! path: no per-customer writer, no buffer copy, no allocation per row.

use super::CsvOptions;
use crate::record::{write_object, Cell, Column, Row, RowEncoder};

/// Encodes rows as CSV.
pub struct CsvEncoder {
    columns: Vec<Column>,
    options: CsvOptions,
}

impl CsvEncoder {
    pub fn new(columns: &[Column], options: CsvOptions) -> Self {
        CsvEncoder {
            columns: columns.to_vec(),
            options,
        }
    }
}

/// Whether a spreadsheet would treat a cell starting like this as a
/// formula (OWASP "CSV injection": =, +, -, @, tab, CR).
fn formula_like(text: &[u8]) -> bool {
    matches!(
        text.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Append one field, quoted if it needs to be.
fn field(out: &mut Vec<u8>, text: &[u8], only_field: bool, guard: bool) {
    if guard && formula_like(text) {
        // A leading single quote makes the cell text; it must then be
        // quoted like any other field, so build it whole.
        let mut guarded = Vec::with_capacity(text.len() + 1);
        guarded.push(b'\'');
        guarded.extend_from_slice(text);
        return field(out, &guarded, only_field, false);
    }
    let needs_quotes = memchr::memchr3(b'"', b',', b'\n', text).is_some()
        || memchr::memchr(b'\r', text).is_some()
        // A record of one empty field would be a blank line, which readers skip.
        || (only_field && text.is_empty());
    if !needs_quotes {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    let mut rest = text;
    while let Some(i) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

impl RowEncoder for CsvEncoder {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn header(&self, out: &mut Vec<u8>) {
        if self.options.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(c.name().as_bytes());
        }
        out.push(b'\n');
    }

    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        let only = self.columns.len() == 1;
        let mut n = 0;
        let mut seq = itoa::Buffer::new();
        // The JSON text of an object cell, built before it is quoted.
        let mut object = Vec::new();
        for row in rows {
            for (i, &col) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match row.cell(col) {
                    Cell::Text(text) => {
                        field(out, text.as_bytes(), only, self.options.formula_guard)
                    }
                    Cell::Seq(n) => out.extend_from_slice(seq.format(n).as_bytes()),
                    Cell::Object(members) => {
                        object.clear();
                        write_object(&mut object, members);
                        field(out, &object, only, self.options.formula_guard);
                    }
                }
            }
            out.push(b'\n');
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ChatRow;

    fn encode(columns: &[Column], texts: &[&str]) -> Vec<u8> {
        encode_with(columns, texts, CsvOptions::default())
    }

    fn encode_with(columns: &[Column], texts: &[&str], options: CsvOptions) -> Vec<u8> {
        let enc = CsvEncoder::new(columns, options);
        let mut out = Vec::new();
        let mut rows = texts.iter().map(|t| {
            Row::Chat(ChatRow {
                customer_id: "c",
                chat_id: "x",
                seq: 7,
                sender_type: "用户",
                message_type: "AI对话",
                content: t,
                extra: &[],
                chat_extra: &[],
            })
        });
        enc.rows(&mut rows, &mut out);
        out
    }

    #[test]
    fn quoting_matches_the_csv_crate_and_round_trips() {
        let texts = [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\rlf\r\n",
            "\"",
            "",
            " spaced ",
            "tab\there",
            "😀 汉字 \u{2028}",
            "#hash",
            "=1+1",
        ];
        let ours = encode(&Column::ALL, &texts);
        let mut theirs = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(Vec::new());
        for t in texts {
            theirs
                .write_record(["c", "x", "7", "用户", "AI对话", t])
                .unwrap();
        }
        assert_eq!(
            String::from_utf8(ours.clone()).unwrap(),
            String::from_utf8(theirs.into_inner().unwrap()).unwrap()
        );
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&ours[..]);
        let back: Vec<String> = r.records().map(|rec| rec.unwrap()[5].to_string()).collect();
        assert_eq!(back, texts);
    }

    #[test]
    fn formula_guard_quotes_formula_like_cells_only() {
        let guard = CsvOptions {
            formula_guard: true,
            bom: false,
        };
        let texts = [
            "=SUM(A1)", "+86 138", "-5", "@x", "\tx", "\rx", "a=b", "你好",
        ];
        let out = encode_with(&[Column::Content], &texts, guard);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&out[..]);
        let back: Vec<String> = r.records().map(|rec| rec.unwrap()[0].to_string()).collect();
        assert_eq!(
            back,
            [
                "'=SUM(A1)",
                "'+86 138",
                "'-5",
                "'@x",
                "'\tx",
                "'\rx",
                "a=b",
                "你好"
            ]
        );
    }

    #[test]
    fn bom_opens_the_header() {
        let enc = CsvEncoder::new(
            &[Column::Seq],
            CsvOptions {
                bom: true,
                formula_guard: false,
            },
        );
        let mut out = Vec::new();
        enc.header(&mut out);
        assert_eq!(out, "\u{feff}seq\n".as_bytes());
    }

    #[test]
    fn a_lone_empty_field_is_quoted_so_the_row_is_not_blank() {
        assert_eq!(encode(&[Column::Content], &["", "x"]), b"\"\"\nx\n");
    }

    /// The extra columns hold JSON objects, quoted as CSV needs; the
    /// default columns are unchanged around them.
    #[test]
    fn object_columns_hold_json_text() {
        use std::borrow::Cow;
        let extra = [
            (Cow::from("time"), Cow::from("\"1715665855\"")),
            (Cow::from("a,b"), Cow::from("{\"x\":[1,2]}")),
        ];
        let enc = CsvEncoder::new(
            &[Column::Seq, Column::Extra, Column::ChatExtra],
            CsvOptions::default(),
        );
        let mut out = Vec::new();
        let row = Row::Chat(ChatRow {
            customer_id: "c",
            chat_id: "x",
            seq: 3,
            sender_type: "",
            message_type: "",
            content: "",
            extra: &extra,
            chat_extra: &[],
        });
        enc.rows(&mut std::iter::once(row), &mut out);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&out[..]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "3");
        let v: serde_json::Value = serde_json::from_str(&rec[1]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time": "1715665855", "a,b": {"x": [1, 2]}})
        );
        assert_eq!(&rec[2], "{}");
    }
}
