//! The Parquet file's life in the writer: row groups closed from the
//! staged rows, a trailer after each, resume from the trailers, and the
//! footer at the end.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use parquet::column::writer::{get_column_writer, ColumnWriter};
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::{
    ColumnChunkMetaData, ParquetMetaDataOptions, ParquetMetaDataReader, RowGroupMetaData,
};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};

use super::encode::{Layout, Staged, Value};
use super::{BATCH, GROUP_BYTES, MAGIC};
use crate::store::safefs::{self, Existing, FileMode};

fn parquet_error(e: ParquetError) -> io::Error {
    match e {
        ParquetError::External(e) => io::Error::other(e),
        e => io::Error::other(e.to_string()),
    }
}

/// The open Parquet output of a run.
pub struct ParquetFile {
    layout: Arc<Layout>,
    /// `<out>.partial`, positioned at `pos`.
    out: File,
    pos: u64,
    staged: BufWriter<File>,
    staged_len: u64,
    /// The staged rows, also in memory, and how many rows they are.
    group: Vec<u8>,
    group_rows: u64,
    /// Row groups in the partial file, in order.
    row_groups: Vec<RowGroupMetaData>,
    /// A row group was closed, and its rows are still in the staged file.
    closed: bool,
    partial: PathBuf,
    staged_path: PathBuf,
    path: PathBuf,
}

impl ParquetFile {
    /// Start `<out>.partial` and an empty `<out>.staged`.
    pub fn create(path: &Path, layout: Arc<Layout>, mode: FileMode) -> anyhow::Result<Self> {
        Self::open(path, layout, None, mode)
    }

    /// Reopen an interrupted run's files, cut back to a checkpoint's
    /// lengths, and read back the row groups and staged rows they hold.
    pub fn resume(
        path: &Path,
        layout: Arc<Layout>,
        out_bytes: u64,
        staged_bytes: u64,
        mode: FileMode,
    ) -> anyhow::Result<Self> {
        Self::open(path, layout, Some((out_bytes, staged_bytes)), mode)
    }

    fn open(
        path: &Path,
        layout: Arc<Layout>,
        resume_at: Option<(u64, u64)>,
        mode: FileMode,
    ) -> anyhow::Result<Self> {
        let partial = crate::store::paths::partial(path);
        let staged_path = crate::store::paths::staged(path);
        let existing = match resume_at {
            Some(_) => Existing::Keep,
            None => Existing::Truncate,
        };
        let mut out = safefs::open(&partial, mode, existing, resume_at.is_some())
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut staged = safefs::open(&staged_path, mode, existing, resume_at.is_some())
            .with_context(|| format!("cannot create {}", staged_path.display()))?;
        let mut file = ParquetFile {
            layout,
            out: out.try_clone()?,
            pos: MAGIC.len() as u64,
            staged: BufWriter::new(staged.try_clone()?),
            staged_len: 0,
            group: Vec::new(),
            group_rows: 0,
            row_groups: Vec::new(),
            closed: false,
            partial: partial.clone(),
            staged_path: staged_path.clone(),
            path: path.to_path_buf(),
        };
        match resume_at {
            None => {
                out.write_all(MAGIC)
                    .and_then(|_| out.sync_data())
                    .with_context(|| format!("cannot write {}", partial.display()))?;
            }
            Some((out_bytes, staged_bytes)) => {
                let cut = |f: &mut File, len: u64, name: &Path| {
                    f.set_len(len)
                        .and_then(|_| f.seek(SeekFrom::Start(len)))
                        .with_context(|| {
                            format!("cannot cut {} back to {len} bytes", name.display())
                        })
                };
                cut(&mut out, out_bytes, &partial)?;
                cut(&mut staged, staged_bytes, &staged_path)?;
                file.row_groups = read_row_groups(&mut out, out_bytes, &file.layout)
                    .with_context(|| format!("cannot resume {}", partial.display()))?;
                file.pos = out_bytes;
                out.seek(SeekFrom::Start(out_bytes))?;
                staged.seek(SeekFrom::Start(0))?;
                staged
                    .read_to_end(&mut file.group)
                    .with_context(|| format!("cannot read {}", staged_path.display()))?;
                staged.seek(SeekFrom::Start(staged_bytes))?;
                file.staged_len = staged_bytes;
                let data = Bytes::from(std::mem::take(&mut file.group));
                file.group_rows = Staged::count(&file.layout.columns, &data)
                    .with_context(|| format!("cannot resume {}", staged_path.display()))?;
                file.group = data.into();
            }
        }
        Ok(file)
    }

    /// Append one customer's staged rows.
    pub fn write(&mut self, bytes: &[u8], rows: u64) -> io::Result<()> {
        self.empty_staged()?;
        self.staged.write_all(bytes)?;
        self.staged_len += bytes.len() as u64;
        self.group.extend_from_slice(bytes);
        self.group_rows += rows;
        Ok(())
    }

    /// The rows waiting fill a row group: the next checkpoint closes it.
    pub fn group_full(&self) -> bool {
        self.group_rows >= self.layout.group_rows || self.group.len() >= GROUP_BYTES
    }

    /// A consistent point: close the row group if it is full (the partial
    /// file is synced), else sync the staged rows. Returns the partial
    /// file's length.
    pub fn checkpoint(&mut self) -> io::Result<u64> {
        if self.group_full() {
            self.close_group()?;
        } else {
            self.staged.flush()?;
            self.staged.get_ref().sync_data()?;
        }
        Ok(self.pos)
    }

    /// The staged file's length as of the last checkpoint: empty once a
    /// row group took its rows.
    pub fn staged_len(&self) -> u64 {
        if self.closed {
            0
        } else {
            self.staged_len
        }
    }

    /// The journal recorded the checkpoint: rows a row group took leave the
    /// staged file now (before, a crash resumes from the previous
    /// checkpoint, which needs them).
    pub fn checkpointed(&mut self) -> io::Result<()> {
        self.empty_staged()
    }

    fn empty_staged(&mut self) -> io::Result<()> {
        if self.closed {
            self.staged.flush()?;
            let f = self.staged.get_mut();
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            self.staged_len = 0;
            self.closed = false;
        }
        Ok(())
    }

    /// Encode the rows waiting as a row group, append it and its trailer,
    /// and sync.
    fn close_group(&mut self) -> io::Result<()> {
        if self.group_rows == 0 {
            return Ok(());
        }
        let data = Bytes::from(std::mem::take(&mut self.group));
        let base = self.pos;
        let (columns, written) = self.write_columns(&data).map_err(parquet_error)?;
        let group = RowGroupMetaData::builder(self.layout.schema.clone())
            .set_total_byte_size(columns.iter().map(|c| c.uncompressed_size()).sum())
            .set_column_metadata(columns)
            .set_num_rows(self.group_rows as i64)
            .set_ordinal(self.row_groups.len() as i32)
            .set_file_offset(base as i64)
            .build()
            .map_err(parquet_error)?;
        let trailer = self.layout.footer(vec![group]).map_err(parquet_error)?;
        let meta = &trailer[..trailer.len() - 8];
        let group = decode_trailer(&self.layout, meta).map_err(io::Error::other)?;
        (&self.out).write_all(&trailer)?;
        self.out.sync_data()?;
        self.pos = base + written + trailer.len() as u64;
        self.row_groups.push(group);
        self.group_rows = 0;
        self.closed = true;
        // Reuse the allocation when nothing else holds the bytes.
        self.group = Vec::from(data);
        self.group.clear();
        Ok(())
    }

    /// Write every column chunk of `data` at `self.pos`; returns their
    /// metadata (offsets in the file) and the bytes written.
    fn write_columns(
        &self,
        data: &Bytes,
    ) -> parquet::errors::Result<(Vec<ColumnChunkMetaData>, u64)> {
        let layout = &self.layout;
        let mut sink = TrackedWrite::new(&self.out);
        let mut chunks = Vec::with_capacity(layout.columns.len());
        for index in 0..layout.columns.len() {
            let descr = layout.schema.column(index);
            let pages = Box::new(SerializedPageWriter::new(&mut sink));
            let mut writer = get_column_writer(descr, layout.props.clone(), pages);
            let mut staged = Staged::new(&layout.columns, data);
            match &mut writer {
                ColumnWriter::Int64ColumnWriter(w) => {
                    let mut batch = Vec::with_capacity(BATCH);
                    loop {
                        let value = staged.next(index)?;
                        if let Some(Value::Int(v)) = value {
                            batch.push(v);
                        }
                        if batch.len() == BATCH || value.is_none() {
                            w.write_batch(&batch, None, None)?;
                            batch.clear();
                        }
                        if value.is_none() {
                            break;
                        }
                    }
                }
                ColumnWriter::ByteArrayColumnWriter(w) => {
                    let mut batch = Vec::with_capacity(BATCH);
                    loop {
                        let value = staged.next(index)?;
                        if let Some(Value::Text(start, end)) = value {
                            batch.push(ByteArray::from(data.slice(start..end)));
                        }
                        if batch.len() == BATCH || value.is_none() {
                            w.write_batch(&batch, None, None)?;
                            batch.clear();
                        }
                        if value.is_none() {
                            break;
                        }
                    }
                }
                _ => unreachable!("the layout has only INT64 and BYTE_ARRAY columns"),
            }
            let close = writer.close()?;
            chunks.push(shift(close.metadata, self.pos as i64)?);
        }
        sink.flush()?;
        Ok((chunks, sink.bytes_written() as u64))
    }

    /// The run is complete: the last row group, the footer, sync, rename.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let name = self.partial.display().to_string();
        self.empty_staged()
            .and_then(|_| self.close_group())
            .with_context(|| format!("cannot write the output {name}"))?;
        let footer = self
            .layout
            .footer(std::mem::take(&mut self.row_groups))
            .context("cannot build the Parquet footer")?;
        (&self.out)
            .write_all(&footer)
            .and_then(|_| self.out.sync_data())
            .with_context(|| format!("cannot write the output {name}"))?;
        std::fs::rename(&self.partial, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.partial.display(),
                self.path.display()
            )
        })?;
        safefs::sync_dir(&self.path);
        drop(self.staged);
        let _ = std::fs::remove_file(&self.staged_path);
        Ok(())
    }

    /// The run stopped before it committed any customer: remove both
    /// files it created.
    pub fn discard(self) -> anyhow::Result<()> {
        drop(self.out);
        drop(self.staged);
        safefs::remove_if_present(&self.partial)?;
        safefs::remove_if_present(&self.staged_path)
    }

    /// The run stopped early: sync the staged rows and keep both files.
    pub fn keep_partial(mut self) -> anyhow::Result<PathBuf> {
        self.staged
            .flush()
            .and_then(|_| self.staged.get_ref().sync_data())
            .with_context(|| format!("cannot write {}", self.staged_path.display()))?;
        Ok(self.partial)
    }

    /// How errors name it.
    pub fn name(&self) -> String {
        self.partial.display().to_string()
    }
}

/// Column chunk metadata written at offset 0 of a fresh writer, moved to
/// `base` in the file.
fn shift(c: ColumnChunkMetaData, base: i64) -> parquet::errors::Result<ColumnChunkMetaData> {
    let data = c.data_page_offset() + base;
    let dictionary = c.dictionary_page_offset().map(|o| o + base);
    c.into_builder()
        .set_data_page_offset(data)
        .set_dictionary_page_offset(dictionary)
        .build()
}

/// The row group a trailer's metadata (without its length and magic)
/// describes. Every run keeps the row groups it writes as read back from
/// their trailers, as a resumed run does, so that the final footer is the
/// same whether the run was interrupted or not.
fn decode_trailer(layout: &Layout, meta: &[u8]) -> anyhow::Result<RowGroupMetaData> {
    let options = ParquetMetaDataOptions::new()
        .with_schema(layout.schema.clone())
        .with_encoding_stats_as_mask(false);
    let decoded = ParquetMetaDataReader::decode_metadata_with_options(meta, Some(&options))
        .context("a row group trailer is damaged")?;
    match decoded.row_groups() {
        [group] => Ok(group.clone()),
        _ => anyhow::bail!("a row group trailer does not describe one row group"),
    }
}

/// The row groups of a partial file of `len` bytes, read from their
/// trailers, last to first.
fn read_row_groups(
    file: &mut File,
    len: u64,
    layout: &Layout,
) -> anyhow::Result<Vec<RowGroupMetaData>> {
    let mut groups = Vec::new();
    let mut end = len;
    let mut head = [0u8; 4];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head)
        .ok()
        .filter(|_| &head == MAGIC)
        .context("the partial file does not start as a Parquet file")?;
    while end > MAGIC.len() as u64 {
        let mut tail = [0u8; 8];
        anyhow::ensure!(end >= 12, "a row group trailer is cut short");
        file.seek(SeekFrom::Start(end - 8))?;
        file.read_exact(&mut tail)?;
        anyhow::ensure!(&tail[4..] == MAGIC, "no row group trailer at byte {end}");
        let meta_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
        let start = end
            .checked_sub(8 + meta_len)
            .filter(|&s| s >= MAGIC.len() as u64)
            .context("a row group trailer is longer than the file")?;
        let mut meta = vec![0u8; meta_len as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut meta)?;
        let group = decode_trailer(layout, &meta)?;
        let offset = group
            .file_offset()
            .filter(|&o| o >= MAGIC.len() as i64 && (o as u64) < start)
            .context("a row group trailer points outside the file")?;
        groups.push(group);
        end = offset as u64;
    }
    anyhow::ensure!(end == MAGIC.len() as u64, "the row groups do not chain up");
    groups.reverse();
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::parquet::{ParquetEncoder, GROUP_ROWS};
    use crate::record::{ChatRow, Column, Row, RowEncoder};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn row(customer: &'static str, seq: usize, content: &'static str) -> Row<'static> {
        Row::Chat(ChatRow {
            customer_id: customer,
            chat_id: "chat",
            seq,
            sender_type: "用户",
            message_type: "AI对话",
            content,
            extra: &[],
            chat_extra: &[],
        })
    }

    fn staged(columns: &[Column], rows: &[Row<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        ParquetEncoder::new(columns).rows(&mut rows.iter().copied(), &mut out);
        out
    }

    fn read(path: &Path) -> Vec<String> {
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap().to_string())
            .collect()
    }

    /// Row groups closed before a crash, and rows staged after the last
    /// one, come back on resume: the file holds every row once, in order.
    #[test]
    fn resume_rebuilds_row_groups_and_staged_rows() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.parquet");
        let columns = [Column::CustomerId, Column::Seq, Column::Content];
        let layout = Arc::new(Layout::new(&columns, GROUP_ROWS));
        let mut f = ParquetFile::create(&out, layout.clone(), FileMode::default()).unwrap();
        f.write(&staged(&columns, &[row("a", 0, "x"), row("a", 1, "y")]), 2)
            .unwrap();
        f.close_group().unwrap();
        f.checkpointed().unwrap();
        f.write(&staged(&columns, &[row("b", 0, "z")]), 1).unwrap();
        f.close_group().unwrap();
        f.checkpointed().unwrap();
        f.write(&staged(&columns, &[row("c", 0, "w")]), 1).unwrap();
        let (out_bytes, staged_bytes) = (f.checkpoint().unwrap(), f.staged_len());
        f.write(&staged(&columns, &[row("lost", 0, "")]), 1)
            .unwrap();
        f.close_group().unwrap();
        drop(f);

        let mut f = ParquetFile::resume(&out, layout, out_bytes, staged_bytes, FileMode::default())
            .unwrap();
        assert_eq!((f.row_groups.len(), f.group_rows), (2, 1));
        f.write(&staged(&columns, &[row("d", 0, "v")]), 1).unwrap();
        f.commit().unwrap();
        let rows = read(&out);
        let ids: Vec<_> = rows
            .iter()
            .map(|r| r.split('"').nth(1).unwrap().to_string())
            .collect();
        assert_eq!(ids, ["a", "a", "b", "c", "d"], "{rows:?}");
        assert!(rows[1].contains("seq: 1"), "{rows:?}");
        assert!(!crate::store::paths::staged(&out).exists());
    }

    /// A trailer chain that does not reach the start is refused, not read
    /// as fewer row groups.
    #[test]
    fn a_damaged_partial_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.parquet");
        let columns = [Column::Seq];
        let layout = Arc::new(Layout::new(&columns, GROUP_ROWS));
        let mut f = ParquetFile::create(&out, layout.clone(), FileMode::default()).unwrap();
        f.write(&staged(&columns, &[row("a", 0, "")]), 1).unwrap();
        f.close_group().unwrap();
        let len = f.pos;
        drop(f);
        let partial = crate::store::paths::partial(&out);
        let mut bytes = std::fs::read(&partial).unwrap();
        bytes[len as usize - 1] = b'X';
        std::fs::write(&partial, bytes).unwrap();
        assert!(ParquetFile::resume(&out, layout, len, 0, FileMode::default()).is_err());
    }
}
