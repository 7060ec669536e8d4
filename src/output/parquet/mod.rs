//! Parquet output: typed columns, zstd pages, and the same crash safety as
//! the text formats. [`encode`] turns rows into their staged form (in the
//! fetch tasks) and knows the schema; [`file`] runs the file's life in the
//! writer: row groups, trailers, resume and the footer.
//!
//! A Parquet file is valid only once its footer lists every row group, so
//! two files make it resumable: `<out>.partial` holds the finished row
//! groups, each followed by a *trailer* (a footer for that row group alone,
//! which no reader looks at, from which a resumed run rebuilds the list),
//! and `<out>.staged` holds the rows committed since the last row group
//! ([`ParquetEncoder`]'s length-prefixed form), fsynced at each checkpoint.
//! A row group closes after the customer whose rows cross [`GROUP_ROWS`] or
//! [`GROUP_BYTES`] (so row groups fall at the same rows in every run), and
//! the writer checkpoints at once before emptying the staged file. At the
//! end the last rows become a row group, the real footer is appended and
//! the file is renamed into place. `seq` is INT64; text columns are
//! BYTE_ARRAY with the STRING logical type, dictionary-encoded.

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
