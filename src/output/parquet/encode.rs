//! Rows into their staged form, and back; the schema and writer settings
//! of a column list.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{LogicalType, Repetition, Type as PhysicalType, ZstdLevel};
use parquet::file::metadata::{
    FileMetaData, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::{ColumnPath, SchemaDescPtr, SchemaDescriptor, Type};

use super::ZSTD_LEVEL;
use crate::record::{write_object, Cell, Column, Row, RowEncoder};

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// INT64.
    Int64,
    /// BYTE_ARRAY with the STRING logical type; `dictionary` for columns
    /// whose values repeat from row to row.
    Text { dictionary: bool },
}

/// The Parquet type of each column: the one place to extend when a column
/// is added (a JSON text column would be `Text` with the JSON logical type).
pub(super) fn kind(column: Column) -> Kind {
    match column {
        Column::Seq => Kind::Int64,
        Column::CustomerId | Column::ChatId | Column::SenderType | Column::MessageType => {
            Kind::Text { dictionary: true }
        }
        // extra and chat_extra hold JSON text (a STRING column: every
        // reader takes it, and DuckDB's json functions read it).
        Column::Content | Column::Extra | Column::ChatExtra => Kind::Text { dictionary: false },
        // A contact's fields are distinct from row to row.
        Column::Id | Column::Name | Column::Mobile | Column::Email => {
            Kind::Text { dictionary: false }
        }
    }
}

/// The schema and writer settings of a column list.
#[derive(Debug)]
pub struct Layout {
    pub(super) columns: Vec<Column>,
    /// Most rows in a row group.
    pub(super) group_rows: u64,
    pub(super) schema: SchemaDescPtr,
    pub(super) props: Arc<WriterProperties>,
}

impl Layout {
    pub fn new(columns: &[Column], group_rows: u64) -> Layout {
        let fields = columns
            .iter()
            .map(|&c| {
                let builder = match kind(c) {
                    Kind::Int64 => Type::primitive_type_builder(c.name(), PhysicalType::INT64),
                    Kind::Text { .. } => {
                        Type::primitive_type_builder(c.name(), PhysicalType::BYTE_ARRAY)
                            .with_logical_type(Some(LogicalType::String))
                    }
                };
                Arc::new(
                    builder
                        .with_repetition(Repetition::REQUIRED)
                        .build()
                        .expect("a fixed, valid column type"),
                )
            })
            .collect();
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .expect("a flat schema of valid columns");
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(parquet::basic::Compression::ZSTD(
                ZstdLevel::try_new(ZSTD_LEVEL).expect("a valid zstd level"),
            ))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_dictionary_enabled(false);
        for &c in columns {
            if kind(c) == (Kind::Text { dictionary: true }) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(c.name()), true);
            }
        }
        Layout {
            columns: columns.to_vec(),
            group_rows,
            schema: Arc::new(SchemaDescriptor::new(Arc::new(schema))),
            props: Arc::new(props.build()),
        }
    }

    /// A footer listing `row_groups`.
    pub(super) fn footer(
        &self,
        row_groups: Vec<RowGroupMetaData>,
    ) -> parquet::errors::Result<Vec<u8>> {
        let rows = row_groups.iter().map(RowGroupMetaData::num_rows).sum();
        let file = FileMetaData::new(
            self.props.writer_version().as_num(),
            rows,
            Some(self.props.created_by().to_string()),
            None,
            self.schema.clone(),
            None,
        );
        let metadata = ParquetMetaData::new(file, row_groups);
        let mut out = Vec::new();
        ParquetMetaDataWriter::new(&mut out, &metadata)
            .with_preserve_page_index_locations(false)
            .finish()?;
        Ok(out)
    }
}

/// Encodes rows in the staged form: for each row, each column in order, a
/// text as a 4-byte little-endian length and its bytes, `seq` as 8 bytes.
pub struct ParquetEncoder {
    pub(super) columns: Vec<Column>,
}

impl ParquetEncoder {
    pub fn new(columns: &[Column]) -> Self {
        ParquetEncoder {
            columns: columns.to_vec(),
        }
    }
}

impl RowEncoder for ParquetEncoder {
    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn header(&self, _out: &mut Vec<u8>) {}

    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        let mut n = 0;
        let mut object = Vec::new();
        for row in rows {
            for &c in &self.columns {
                match row.cell(c) {
                    Cell::Text(text) => put_text(out, text.as_bytes()),
                    Cell::Seq(seq) => out.extend_from_slice(&(seq as i64).to_le_bytes()),
                    Cell::Object(members) => {
                        object.clear();
                        write_object(&mut object, members);
                        put_text(out, &object);
                    }
                }
            }
            n += 1;
        }
        n
    }
}

/// A staged text: a 4-byte little-endian length, then the bytes.
pub(super) fn put_text(out: &mut Vec<u8>, text: &[u8]) {
    // Answers are capped far below 4 GiB (--max-response-bytes).
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&text[..len as usize]);
}

/// Reads staged rows back, one column at a time.
pub(super) struct Staged<'a> {
    kinds: Vec<Kind>,
    data: &'a Bytes,
    pos: usize,
}

/// One staged value.
pub(super) enum Value {
    Int(i64),
    /// A range of the staged bytes.
    Text(usize, usize),
}

impl Staged<'_> {
    pub(super) fn new<'a>(columns: &[Column], data: &'a Bytes) -> Staged<'a> {
        Staged {
            kinds: columns.iter().map(|&c| kind(c)).collect(),
            data,
            pos: 0,
        }
    }

    /// The next row's value of column `index`; `Ok(None)` at the end.
    pub(super) fn next(&mut self, index: usize) -> io::Result<Option<Value>> {
        if self.pos == self.data.len() {
            return Ok(None);
        }
        let mut found = None;
        for i in 0..self.kinds.len() {
            let value = match self.kinds[i] {
                Kind::Int64 => Value::Int(i64::from_le_bytes(self.take::<8>()?)),
                Kind::Text { .. } => {
                    let len = u32::from_le_bytes(self.take::<4>()?) as usize;
                    let start = self.pos;
                    if self.data.len() - start < len {
                        return Err(damaged());
                    }
                    self.pos += len;
                    Value::Text(start, self.pos)
                }
            };
            if i == index {
                found = Some(value);
            }
        }
        Ok(found)
    }

    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let bytes = self.data.get(self.pos..self.pos + N).ok_or_else(damaged)?;
        self.pos += N;
        Ok(bytes.try_into().expect("N bytes"))
    }

    /// How many rows the staged bytes hold (checking they are whole).
    pub(super) fn count(columns: &[Column], data: &Bytes) -> io::Result<u64> {
        let mut staged = Staged::new(columns, data);
        let mut n = 0;
        while staged.next(0)?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

pub(super) fn damaged() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "staged rows are damaged")
}
