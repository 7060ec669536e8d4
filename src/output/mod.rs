//! Everything written to disk: the row formats (one file each behind
//! [`crate::record::RowEncoder`]), the output file that only appears when
//! complete ([`sink`]) and the failed-customers file ([`failed`]). The
//! formats know rows and columns ([`crate::record`]), not the API.
//!
//! Rows are encoded by the fetching task, in parallel, into a byte buffer per
//! customer; the single writer only copies finished buffers to the sink in
//! input order.

pub mod csv;
pub mod failed;
pub mod jsonl;
pub mod parquet;
pub mod sink;

use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::record::{Column, RowEncoder};

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
