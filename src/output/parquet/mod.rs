//! Parquet output: typed columns, zstd pages, and the same crash safety as
//! the text formats. [`encode`] turns rows into their staged form (in the
//! fetch tasks) and knows the schema; [`file`] runs the file's life in the
//! writer: row groups, trailers, resume and the footer.
//!
//! # Layout on disk
//!
//! A Parquet file is row groups followed by one footer that lists them, so
//! it cannot be valid until it is complete. Two files make it resumable:
//!
//! - `<out>.partial` holds `PAR1` and the finished row groups. After each
//!   row group comes a *trailer*: a Parquet footer describing that row
//!   group alone. Readers never see the trailers (nothing points at them);
//!   they let a resumed run rebuild the list of row groups by walking back
//!   from the end of the file, with no side file to keep in step.
//! - `<out>.staged` holds the rows committed since the last row group, in
//!   a simple length-prefixed form ([`ParquetEncoder`]), and the same bytes
//!   are kept in memory. Checkpoints fsync it, so they stay as frequent and
//!   cheap as with CSV while row groups stay large.
//!
//! A row group is closed when the rows waiting reach [`GROUP_ROWS`] rows or
//! [`GROUP_BYTES`] bytes, after the customer that crossed the bound (so row
//! groups fall at the same rows in every run, interrupted or not), and the
//! writer checkpoints at once: the journal records the new length of the
//! partial file with an empty staged file, and only then is the staged file
//! emptied. A crash before that journal line resumes from the previous
//! checkpoint, which still has its staged rows. At the end the last rows
//! become a row group, the real footer (every row group) is appended, and
//! the file is renamed into place.
//!
//! Column types come from `encode::kind`: `seq` is INT64, text columns are
//! BYTE_ARRAY with the STRING logical type, dictionary-encoded where the
//! values repeat.

mod encode;
mod file;

pub use encode::{Layout, ParquetEncoder};
pub use file::ParquetFile;

/// A row group is closed once it holds this many rows (the default of
/// `--parquet-row-group-rows`; DuckDB's own row group size)...
pub const GROUP_ROWS: u64 = 122_880;
/// ...or this many bytes of staged rows (about the values' size), which
/// bounds the memory a row group takes while it fills.
pub const GROUP_BYTES: usize = 4 << 20;
/// zstd level of the pages: fast, and Parquet's dictionaries do the rest.
const ZSTD_LEVEL: i32 = 3;
/// Values handed to a column writer at a time.
const BATCH: usize = 4096;
/// The magic at both ends of a Parquet file (and of each trailer).
const MAGIC: &[u8; 4] = b"PAR1";
