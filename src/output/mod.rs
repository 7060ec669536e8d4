//! Everything written to disk: the row formats (one file each behind
//! [`RowEncoder`]), the output file that only appears when complete
//! ([`sink`]) and the failed-customers file ([`failed`]).
//!
//! Rows are encoded by the fetching task, in parallel, into a byte buffer per
//! customer; the single writer only copies finished buffers to the sink in
//! input order.

pub mod csv;
pub mod failed;
pub mod jsonl;
pub mod parquet;
pub mod sink;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::api::Envelope;
use crate::error::UsageError;
use crate::record::drift::CustomerDrift;

/// Output format of the rows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet: typed columns, zstd-compressed pages.
    Parquet,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// Compression of the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one member per checkpoint; any gzip reader reads them all).
    Gzip,
    /// Zstandard (one frame per checkpoint).
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Where the rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `--out -`.
    Stdout,
    /// A regular file, written as `<out>.partial` and renamed when complete.
    File(PathBuf),
    /// An existing character device, FIFO or socket (`/dev/null`,
    /// `/dev/stdout`, a named pipe): streamed into in place, as stdout is.
    Special(PathBuf),
}

impl Target {
    /// What `--out PATH` names: an existing device, FIFO or socket is
    /// written in place; anything else is a regular file to create.
    pub fn of_path(path: PathBuf) -> Result<Target, UsageError> {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Err(UsageError::invalid(format!(
                "--out {} is a directory: name a file in it",
                path.display()
            ))),
            Ok(meta) if !meta.is_file() => Ok(Target::Special(path)),
            _ => Ok(Target::File(path)),
        }
    }

    /// The regular file this target is, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Target::File(p) => Some(p),
            Target::Stdout | Target::Special(_) => None,
        }
    }

    /// How logs name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Stdout => "stdout".to_string(),
            Target::File(p) | Target::Special(p) => p.display().to_string(),
        }
    }
}

/// Check, before any request, that a file the run writes at its end (the
/// summary) can be created, by creating and removing a probe beside it: a
/// typo in its directory must not cost a whole run.
pub fn check_creatable(path: &Path, what: &str) -> Result<(), UsageError> {
    let cannot = |e: std::io::Error| {
        UsageError::invalid(format!("cannot write the {what} {}: {e}", path.display()))
    };
    crate::store::safefs::check_writable_name(path).map_err(cannot)?;
    let (probe, name) =
        crate::store::safefs::temp_beside(path, crate::store::safefs::FileMode::default())
            .map_err(cannot)?;
    drop(probe);
    std::fs::remove_file(&name).ok();
    Ok(())
}

/// One output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    CustomerId,
    ChatId,
    Seq,
    SenderType,
    MessageType,
    Content,
    /// The message's undocumented fields, as a JSON object.
    Extra,
    /// The chat's undocumented fields, as a JSON object.
    ChatExtra,
}

impl Column {
    /// The default columns, in their default order.
    pub const ALL: [Column; 6] = [
        Column::CustomerId,
        Column::ChatId,
        Column::Seq,
        Column::SenderType,
        Column::MessageType,
        Column::Content,
    ];

    /// Columns written only when `--columns` names them.
    pub const OPTIONAL: [Column; 2] = [Column::Extra, Column::ChatExtra];

    /// The column's name in headers and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Column::CustomerId => "customer_id",
            Column::ChatId => "chat_id",
            Column::Seq => "seq",
            Column::SenderType => "sender_type",
            Column::MessageType => "message_type",
            Column::Content => "content",
            Column::Extra => "extra",
            Column::ChatExtra => "chat_extra",
        }
    }

    /// Parse a `--columns` list: names, comma-separated, each at most once.
    pub fn parse_list(list: &str) -> Result<Vec<Column>, String> {
        let known = || Column::ALL.into_iter().chain(Column::OPTIONAL);
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim) {
            let col = known().find(|c| c.name() == name).ok_or_else(|| {
                format!(
                    "--columns: unknown column {name:?}; choose from {}",
                    known().map(Column::name).collect::<Vec<_>>().join(",")
                )
            })?;
            if out.contains(&col) {
                return Err(format!("--columns: {name} is listed twice"));
            }
            out.push(col);
        }
        Ok(out)
    }
}

/// One flattened message.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub customer_id: &'a str,
    pub chat_id: &'a str,
    /// 0-based position of the message in its chat.
    pub seq: usize,
    pub sender_type: &'a str,
    pub message_type: &'a str,
    pub content: &'a str,
    /// The message's undocumented fields (name, JSON text), in order.
    pub extra: &'a [(Cow<'a, str>, Cow<'a, str>)],
    /// The chat's undocumented fields (name, JSON text), in order.
    pub chat_extra: &'a [(Cow<'a, str>, Cow<'a, str>)],
}

/// What a column holds in one row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Text: a string column.
    Text(&'a str),
    /// The `seq` integer.
    Seq(usize),
    /// A JSON object of (name, JSON text) members, in order.
    Object(&'a [(Cow<'a, str>, Cow<'a, str>)]),
}

impl<'a> Row<'a> {
    /// What `column` holds in this row.
    #[inline]
    pub fn cell(&self, column: Column) -> Cell<'a> {
        match column {
            Column::CustomerId => Cell::Text(self.customer_id),
            Column::ChatId => Cell::Text(self.chat_id),
            Column::Seq => Cell::Seq(self.seq),
            Column::SenderType => Cell::Text(self.sender_type),
            Column::MessageType => Cell::Text(self.message_type),
            Column::Content => Cell::Text(self.content),
            Column::Extra => Cell::Object(self.extra),
            Column::ChatExtra => Cell::Object(self.chat_extra),
        }
    }
}

/// Append a JSON object of (name, JSON text) members: names escaped as
/// JSON requires, values as they are (already compact JSON texts).
pub fn write_object(out: &mut Vec<u8>, members: &[(Cow<'_, str>, Cow<'_, str>)]) {
    out.push(b'{');
    for (i, (name, json)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &**name).expect("writing to memory cannot fail");
        out.push(b':');
        out.extend_from_slice(json.as_bytes());
    }
    out.push(b'}');
}

/// A row format. Implementations append bytes to a buffer; they never do I/O.
pub trait RowEncoder: Send + Sync {
    /// The columns written, in order.
    fn columns(&self) -> &[Column];
    /// Bytes that open the file (a header row), if any.
    fn header(&self, out: &mut Vec<u8>);
    /// Append the rows of one customer; returns how many rows were written.
    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64;
}

/// A shared encoder encodes as the one it shares (a pipeline keeps its own
/// handle on the encoder it gives the run).
impl<E: RowEncoder + ?Sized> RowEncoder for std::sync::Arc<E> {
    fn columns(&self) -> &[Column] {
        (**self).columns()
    }
    fn header(&self, out: &mut Vec<u8>) {
        (**self).header(out)
    }
    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        (**self).rows(rows, out)
    }
}

/// CSV-only options for spreadsheet users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Start the file with a UTF-8 byte order mark (`--csv-bom`).
    pub bom: bool,
    /// Neutralise cells that a spreadsheet would run as formulas
    /// (`--csv-formula-guard`).
    pub formula_guard: bool,
}

/// The encoder for a format and column list.
pub fn encoder(format: Format, columns: &[Column], csv: CsvOptions) -> Box<dyn RowEncoder> {
    match format {
        Format::Csv => Box::new(csv::CsvEncoder::new(columns, csv)),
        Format::Jsonl => Box::new(jsonl::JsonlEncoder::new(columns)),
        Format::Parquet => Box::new(parquet::ParquetEncoder::new(columns)),
    }
}

/// Counts of one encoded customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub chats: u64,
    pub rows: u64,
    /// How the answer strayed from the documentation.
    pub drift: CustomerDrift,
}

/// Flatten a successful answer into rows, in API order, and encode them.
pub fn encode_customer(
    encoder: &dyn RowEncoder,
    customer_id: &str,
    envelope: &Envelope<'_>,
    out: &mut Vec<u8>,
) -> Encoded {
    let chats = envelope.chats();
    let mut rows = chats.iter().flat_map(|chat| {
        chat.messages().iter().enumerate().map(move |(seq, m)| Row {
            customer_id,
            chat_id: chat.id(),
            seq,
            sender_type: m.sender_type.as_str(),
            message_type: m.message_type.as_str(),
            content: m.content.as_str(),
            extra: &m.extra,
            chat_extra: &chat.extra,
        })
    });
    let rows = encoder.rows(&mut rows, out);
    Encoded {
        chats: chats.len() as u64,
        rows,
        drift: CustomerDrift::of(envelope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_parse_in_the_given_order() {
        assert_eq!(
            Column::parse_list("content, seq").unwrap(),
            vec![Column::Content, Column::Seq]
        );
        assert!(Column::parse_list("seq,seq").is_err());
        assert!(Column::parse_list("").is_err());
        assert_eq!(
            Column::parse_list("seq,extra,chat_extra").unwrap(),
            vec![Column::Seq, Column::Extra, Column::ChatExtra]
        );
        let err = Column::parse_list("nope").unwrap_err();
        assert!(err.ends_with("content,extra,chat_extra"), "{err}");
    }
}
