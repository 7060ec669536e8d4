//! The output's format and layout: given, or inferred from `--out`.

use std::path::Path;

use crate::config::options::ExportOptions;
use crate::error::UsageError;
use crate::output::{Compression, Format, Target};
use crate::record::{Column, Table};

use super::defaulted;

/// The row format and compression: given, or inferred from `--out`.
pub(super) fn output_format(
    o: &ExportOptions,
    out: &Target,
) -> Result<(Format, Compression), UsageError> {
    let compression = match (o.compress, out) {
        (Some(c), _) => c,
        (None, Target::File(p)) => infer_compression(p),
        (None, _) => Compression::None,
    };
    let format = match (o.format, out) {
        (Some(f), _) => f,
        (None, Target::File(p)) => infer_format(p)?,
        (None, _) => Format::Csv,
    };
    if format == Format::Parquet {
        if out.file().is_none() {
            return Err(UsageError::invalid(format!(
                "--format parquet needs a regular file for --out, not {}: a Parquet file is \
                 only readable once its footer is written at the end, so it cannot be \
                 streamed; use --format csv or jsonl to stream",
                out.describe()
            )));
        }
        if compression != Compression::None {
            return Err(UsageError::invalid(format!(
                "--compress {} does not apply to Parquet, which compresses its pages with \
                 zstd itself; drop --compress (and the .gz/.zst ending of --out)",
                compression.name()
            )));
        }
    }
    Ok((format, compression))
}

/// The columns, the Parquet row-group size, and the format-only options
/// checked against `format`.
pub(super) fn layout(
    o: &ExportOptions,
    format: Format,
    table: Table,
) -> Result<(Vec<Column>, u64), UsageError> {
    let columns = match o.columns.as_deref() {
        Some(list) => table.parse_columns(list).map_err(UsageError::invalid)?,
        None => table.defaults().to_vec(),
    };
    let group_rows = super::limits::ROW_GROUP_ROWS.check(
        o.parquet_row_group_rows
            .unwrap_or_else(|| defaulted("parquet_row_group_rows")),
    )?;
    if (o.csv_bom || o.csv_formula_guard) && format != Format::Csv {
        return Err(UsageError::invalid(
            "--csv-bom and --csv-formula-guard apply to CSV output only",
        ));
    }
    Ok((columns, group_rows))
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn infer_compression(path: &Path) -> Compression {
    let name = lower_name(path);
    if name.ends_with(".gz") {
        Compression::Gzip
    } else if name.ends_with(".zst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn infer_format(path: &Path) -> Result<Format, UsageError> {
    let name = lower_name(path);
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    if name.ends_with(".csv") {
        Ok(Format::Csv)
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Ok(Format::Jsonl)
    } else if name.ends_with(".parquet") {
        Ok(Format::Parquet)
    } else {
        Err(UsageError::invalid(format!(
            "cannot tell the format of --out {}: name it .csv, .jsonl or .ndjson (optionally + .gz or .zst) or .parquet, or pass --format csv|jsonl|parquet",
            path.display()
        )))
    }
}
