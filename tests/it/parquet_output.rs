//! Parquet output: typed columns in `--columns` order, zstd pages,
//! dictionaries where values repeat, input order, and the same crash
//! safety as CSV. Files are read back with the parquet crate's reader.

use std::fs::File;
use std::path::Path;

use parquet::basic::{Compression, Encoding, LogicalType, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;

use crate::common::*;
use crate::resume::kill_and_resume_with;

fn reader(path: &Path) -> SerializedFileReader<File> {
    SerializedFileReader::new(File::open(path).unwrap()).unwrap()
}

/// Read a Parquet export of all six columns into rows, checking the
/// column names and types on the way.
pub fn read_parquet(path: &Path) -> Vec<Row> {
    let reader = reader(path);
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<_> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "chat_id",
            "seq",
            "sender_type",
            "message_type",
            "content"
        ]
    );
    for c in schema.columns() {
        if c.name() == "seq" {
            assert_eq!(c.physical_type(), PhysicalType::INT64);
        } else {
            assert_eq!(c.physical_type(), PhysicalType::BYTE_ARRAY, "{}", c.name());
            assert_eq!(
                c.logical_type_ref(),
                Some(&LogicalType::String),
                "{}",
                c.name()
            );
        }
    }
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            Row {
                customer_id: r.get_string(0).unwrap().clone(),
                chat_id: r.get_string(1).unwrap().clone(),
                seq: u64::try_from(r.get_long(2).unwrap()).unwrap(),
                sender_type: r.get_string(3).unwrap().clone(),
                message_type: r.get_string(4).unwrap().clone(),
                content: r.get_string(5).unwrap().clone(),
            }
        })
        .collect()
}

/// A Parquet export, inferred from `.parquet`, holds the simulator's rows
/// in input order whatever the concurrency, equal row for row to the CSV
/// export of the same IDs, with `seq` an INT64 and the text columns
/// strings; its pages are zstd-compressed and the repetitive columns
/// dictionary-encoded, the content column not.
#[test]
fn parquet_is_typed_ordered_and_compressed() {
    let list = ids(300);
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    for out in ["x.parquet", "x.csv"] {
        let o = wd.export(
            &sim,
            &["--ids", "ids.txt", "--out", out, "--concurrency", "16"],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let rows = read_parquet(&wd.path("x.parquet"));
    assert_eq!(rows, expected_rows(&list));
    assert_eq!(rows, read_csv(&wd.path("x.csv")));
    assert!(!wd.path("x.parquet.partial").exists());
    assert!(!wd.path("x.parquet.staged").exists());
    assert!(!wd.path("x.parquet.journal").exists());

    let reader = reader(&wd.path("x.parquet"));
    let meta = reader.metadata();
    assert!(meta.num_row_groups() >= 1);
    for group in meta.row_groups() {
        for chunk in group.columns() {
            let name = chunk.column_descr().name();
            assert!(
                matches!(chunk.compression(), Compression::ZSTD(_)),
                "{name}: {:?}",
                chunk.compression()
            );
            let dictionary = chunk
                .encodings()
                .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY));
            let expected = matches!(
                name,
                "customer_id" | "chat_id" | "sender_type" | "message_type"
            );
            assert_eq!(dictionary, expected, "{name}");
        }
    }
}

/// `--columns` picks and orders the Parquet columns as it does CSV's.
#[test]
fn parquet_columns_follow_the_columns_flag() {
    let list = ids(20);
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &list);
    let args = [
        "--ids",
        "ids.txt",
        "--out",
        "c.parquet",
        "--columns",
        "content,seq",
    ];
    let o = wd.export(&sim, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reader = reader(&wd.path("c.parquet"));
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<_> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["content", "seq"]);
    let got: Vec<(String, i64)> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.get_string(0).unwrap().clone(), r.get_long(1).unwrap())
        })
        .collect();
    let want: Vec<(String, i64)> = expected_rows(&list)
        .into_iter()
        .map(|r| (r.content, r.seq as i64))
        .collect();
    assert_eq!(got, want);
}

/// kill -9 at random moments, five times, resuming each time, with row
/// groups small enough that several close between kills: the final file
/// is byte-identical to an uninterrupted run's (row groups fall at the
/// same rows), holds every row once in order, and no customer the journal
/// had committed was fetched again.
#[test]
fn kill_9_and_resume_parquet() {
    let extra = ["--parquet-row-group-rows", "300"];
    let wd = kill_and_resume_with("k.parquet", "ref.parquet", 5, &ids(600), &extra);
    let rows = read_parquet(&wd.path("k.parquet"));
    assert_eq!(rows, expected_rows(&ids(600)));
    let groups = reader(&wd.path("k.parquet")).metadata().num_row_groups();
    assert!(groups > 1, "{groups} row group");
    assert!(!wd.path("k.parquet.staged").exists());
}

/// Parquet cannot stream to stdout, and compresses its own pages: both
/// are usage errors (exit 2) that say why, before any request.
#[test]
fn parquet_refuses_stdout_and_file_compression() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(3));
    for (args, says) in [
        (vec!["--out", "-", "--format", "parquet"], "regular file"),
        (vec!["--out", "x.parquet.gz"], "--compress gzip"),
        (
            vec!["--out", "x.parquet", "--compress", "zstd"],
            "--compress zstd",
        ),
    ] {
        let mut all = vec!["--ids", "ids.txt"];
        all.extend(args);
        let o = wd.export(&sim, &all);
        assert_eq!(code(&o), 2, "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{all:?}: {}", stderr(&o));
    }
    assert_eq!(sim.requests(), 0);
}
