//! CSV rows: RFC 4180 quoting (only where needed), UTF-8, a header row.

use super::{Column, Row, RowEncoder};

/// Encodes rows as CSV with the csv crate.
pub struct CsvEncoder {
    columns: Vec<Column>,
}

impl CsvEncoder {
    pub fn new(columns: &[Column]) -> Self {
        CsvEncoder {
            columns: columns.to_vec(),
        }
    }

    fn writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
        csv::WriterBuilder::new()
            .has_headers(false)
            .quote_style(csv::QuoteStyle::Necessary)
            .buffer_capacity(16 * 1024)
            .from_writer(out)
    }
}

impl RowEncoder for CsvEncoder {
    fn header(&self, out: &mut Vec<u8>) {
        let mut w = Self::writer(out);
        w.write_record(self.columns.iter().map(|c| c.name()))
            .expect("writing to memory cannot fail");
        w.flush().expect("writing to memory cannot fail");
    }

    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        let mut w = Self::writer(out);
        let mut n = 0;
        let mut seq = itoa::Buffer::new();
        for row in rows {
            for &col in &self.columns {
                let field = match row.text(col) {
                    Some(text) => text.as_bytes(),
                    None => seq.format(row.seq).as_bytes(),
                };
                w.write_field(field).expect("writing to memory cannot fail");
            }
            w.write_record(None::<&[u8]>)
                .expect("writing to memory cannot fail");
            n += 1;
        }
        w.flush().expect("writing to memory cannot fail");
        n
    }
}
