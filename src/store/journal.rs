//! The resume journal: `<out>.journal`, beside the partial output.
//!
//! Line 1 is a header with the run's [`Fingerprint`]; every further line is
//! a [`Checkpoint`] appended after the rows it covers were written and
//! synced: how many customers (from the first) are committed, and the byte
//! lengths of the partial output and of the partial failed file at that
//! moment. A torn last line (a crash mid-append) is ignored, and a
//! checkpoint whose offsets are beyond the files' real lengths (a power loss
//! between the two syncs) is skipped, so resuming always starts from a
//! consistent prefix.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::store::safefs::{self, Existing, FileMode};

const MAGIC: &str = "yuju-export journal";
const VERSION: u32 = 1;

/// The oldest journal format this version continues. A journal of an
/// older format, or of a newer one (a downgrade), is set aside and its
/// window starts afresh ([`OtherVersion`]): its partial output was never
/// published, so nothing is lost. When the format changes, the reader of
/// the new one keeps reading the old (tests/fixtures/ holds a journal of
/// each released format, and a test resumes each).
const OLDEST_READABLE: u32 = 1;

/// A journal of a format this version does not continue.
#[derive(Debug)]
pub struct OtherVersion {
    pub path: std::path::PathBuf,
    pub version: u32,
    /// The yuju-export version that wrote it, when it says.
    pub written_by: Option<String>,
}

impl std::fmt::Display for OtherVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the journal {} was written by {} (journal format {}), which this version ({}) \
             does not continue",
            self.path.display(),
            self.written_by
                .as_deref()
                .map_or("another version of yuju-export".to_string(), |v| format!(
                    "yuju-export {v}"
                )),
            self.version,
            env!("CARGO_PKG_VERSION")
        )
    }
}

impl std::error::Error for OtherVersion {}

/// What defines a run: resuming is only allowed when all of it is the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Distinct customer IDs and a hash of them in order.
    pub ids: String,
    /// The API's window and filters, as sent.
    pub query: String,
    pub columns: String,
    pub format: String,
    pub compression: String,
    /// Scheme, host, port and path of the API (never the key).
    pub base_url: String,
    /// `--mask`'s classes and style and `--pseudonymize`'s key check
    /// (empty without them): a resumed run must mask as the interrupted
    /// one did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mask: String,
    /// Relative `--start`/`--end` expressions (`start="-24h" in UTC`), and
    /// the times they were resolved to, as sent: resuming with the same
    /// expressions keeps these times rather than resolving them anew.
    #[serde(default)]
    pub relative_window: String,
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub end_time: String,
}

impl Fingerprint {
    /// Human-readable differences from `other` (the journal's).
    pub fn differences(&self, journal: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let mut cmp = |what: &str, now: &str, then: &str| {
            if now != then {
                out.push(format!(
                    "{what}: the interrupted run had {then}, this one has {now}"
                ));
            }
        };
        cmp("customer IDs", &self.ids, &journal.ids);
        cmp("query", &self.query, &journal.query);
        cmp("columns", &self.columns, &journal.columns);
        cmp("format", &self.format, &journal.format);
        cmp("compression", &self.compression, &journal.compression);
        cmp("base URL", &self.base_url, &journal.base_url);
        cmp("--mask / --pseudonymize", &self.mask, &journal.mask);
        out
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    journal: String,
    version: u32,
    /// The version of yuju-export that wrote it (since 0.1.0's second
    /// release; absent before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    written_by: Option<String>,
    fingerprint: Fingerprint,
    total: u64,
}

/// The customers, chats and rows a run has committed, cumulative over
/// resumes. Only the writer changes it; the journal keeps it at each
/// checkpoint, and the summary reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Customers exported with at least one row.
    pub ok: u64,
    /// Customers exported with no chats in the window.
    pub empty: u64,
    /// Customers in the failed file.
    pub failed: u64,
    pub chats: u64,
    pub rows: u64,
    /// Failed customers by kind of failure.
    #[serde(default)]
    pub failed_by_kind: BTreeMap<String, u64>,
    /// How the committed answers strayed from the documentation.
    #[serde(default)]
    pub drift: crate::record::drift::DriftCounts,
    /// Failed customers whose failure was not the platform's definitive
    /// answer (see [`crate::export::FailureKind::is_definitive`]): while
    /// any is counted, the `--state` watermark does not move.
    #[serde(default)]
    pub failed_not_definitive: u64,
    /// `--mask` matches per class, of the committed customers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masked: BTreeMap<String, u64>,
}

/// A consistent point of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Customers committed, counted from the first in input order.
    pub next: u64,
    /// Length of the partial output at this point.
    pub out_bytes: u64,
    /// Length of the partial failed file at this point.
    pub failed_bytes: u64,
    /// Length of a Parquet output's staged rows (`<out>.staged`) at this
    /// point; absent for the other formats.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub staged_bytes: u64,
    /// What the committed customers held.
    #[serde(flatten)]
    pub tally: Tally,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A journal read back from disk.
#[derive(Debug)]
pub struct Found {
    pub fingerprint: Fingerprint,
    pub total: u64,
    /// The last checkpoint consistent with the files on disk.
    pub checkpoint: Checkpoint,
}

/// The open journal of a run.
pub struct Journal {
    file: File,
    path: PathBuf,
}

/// `<out>.journal`.
pub fn journal_path(out: &Path) -> PathBuf {
    crate::store::paths::journal(out)
}

impl Journal {
    /// Start a new journal (replacing any old one) with its first checkpoint.
    pub fn create(
        path: &Path,
        fingerprint: &Fingerprint,
        total: u64,
        first: &Checkpoint,
        mode: FileMode,
    ) -> anyhow::Result<Journal> {
        let file = safefs::open(path, mode, Existing::Truncate, false)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        Journal::start(file, path, fingerprint, total, first)
    }

    /// Write the header and the first checkpoint into a new journal file.
    fn start(
        mut file: File,
        path: &Path,
        fingerprint: &Fingerprint,
        total: u64,
        first: &Checkpoint,
    ) -> anyhow::Result<Journal> {
        let header = Header {
            journal: MAGIC.into(),
            version: VERSION,
            written_by: Some(env!("CARGO_PKG_VERSION").into()),
            fingerprint: fingerprint.clone(),
            total,
        };
        let mut text = serde_json::to_string(&header)?;
        text.push('\n');
        text.push_str(&serde_json::to_string(first)?);
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .with_context(|| format!("cannot write the journal {}", path.display()))?;
        safefs::sync_dir(path);
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Continue the journal `found` was read from: rewrite it as its header
    /// and the chosen checkpoint (through a temporary file and a rename, so
    /// a crash leaves the old or the new journal, never neither), then
    /// append to it. Rewriting drops a torn last line, which further
    /// appends would otherwise extend into one unreadable line, and the
    /// checkpoints beyond the resume point, which no longer describe the
    /// files once they are cut back.
    pub fn resume(path: &Path, found: &Found, mode: FileMode) -> anyhow::Result<Journal> {
        let (file, tmp) = safefs::temp_beside(path, mode)
            .with_context(|| format!("cannot create a journal beside {}", path.display()))?;
        let journal = Journal::start(
            file,
            &tmp,
            &found.fingerprint,
            found.total,
            &found.checkpoint,
        )?;
        safefs::check_writable_name(path)
            .and_then(|_| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        safefs::sync_dir(path);
        Ok(Journal {
            file: journal.file,
            path: path.to_path_buf(),
        })
    }

    /// Append a checkpoint (the data it covers must already be synced).
    pub fn append(&mut self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(checkpoint)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("cannot write the journal {}", self.path.display()))
    }

    /// The run completed: the journal has no more use.
    pub fn remove(self) -> anyhow::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
            .with_context(|| format!("cannot remove the journal {}", self.path.display()))
    }
}

/// Read a journal, keeping the last checkpoint whose offsets fit the files'
/// current lengths. `Ok(None)` when there is no journal.
pub fn load(
    path: &Path,
    out_len: u64,
    failed_len: u64,
    staged_len: u64,
) -> anyhow::Result<Option<Found>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut lines = BufReader::new(file).lines();
    let first = match lines.next() {
        Some(Ok(line)) => line,
        _ => String::new(),
    };
    // The magic and the format first: a journal of another format need
    // not parse as this one's header.
    #[derive(Deserialize)]
    struct Format {
        journal: String,
        version: u32,
        #[serde(default)]
        written_by: Option<String>,
    }
    if let Ok(format) = serde_json::from_str::<Format>(&first) {
        let readable = (OLDEST_READABLE..=VERSION).contains(&format.version);
        if format.journal == MAGIC && !readable {
            return Err(anyhow::Error::new(OtherVersion {
                path: path.to_path_buf(),
                version: format.version,
                written_by: format.written_by,
            }));
        }
    }
    let header: Header = serde_json::from_str(&first)
        .ok()
        .filter(|h: &Header| h.journal == MAGIC)
        .with_context(|| {
            format!(
                "{} is not a yuju-export journal (or is damaged)",
                path.display()
            )
        })?;
    let mut best: Option<Checkpoint> = None;
    for line in lines {
        let Ok(line) = line else { break };
        let Ok(cp) = serde_json::from_str::<Checkpoint>(&line) else {
            break;
        };
        if cp.out_bytes <= out_len && cp.failed_bytes <= failed_len && cp.staged_bytes <= staged_len
        {
            best = Some(cp);
        }
    }
    let checkpoint = best.with_context(|| {
        format!(
            "{} holds no checkpoint that fits the partial files",
            path.display()
        )
    })?;
    Ok(Some(Found {
        fingerprint: header.fingerprint,
        total: header.total,
        checkpoint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn fp() -> Fingerprint {
        Fingerprint {
            ids: "3 IDs, hash 1".into(),
            query: "days=30".into(),
            columns: "seq".into(),
            format: "csv".into(),
            compression: "none".into(),
            base_url: "https://x/".into(),
            mask: String::new(),
            relative_window: String::new(),
            start_time: String::new(),
            end_time: String::new(),
        }
    }

    #[test]
    fn round_trip_skips_torn_lines_and_checkpoints_beyond_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let first = Checkpoint {
            out_bytes: 10,
            ..Checkpoint::default()
        };
        let mut j = Journal::create(&path, &fp(), 3, &first, FileMode::default()).unwrap();
        for (next, out) in [(1, 50), (2, 90)] {
            j.append(&Checkpoint {
                next,
                out_bytes: out,
                ..Checkpoint::default()
            })
            .unwrap();
        }
        drop(j);
        // A torn append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"next\":3,\"out_by").unwrap();

        let found = load(&path, 100, 0, 0).unwrap().unwrap();
        assert_eq!(found.checkpoint.next, 2);
        assert_eq!(found.total, 3);
        // The output is shorter than the last checkpoint says: use the one before.
        let found = load(&path, 60, 0, 0).unwrap().unwrap();
        assert_eq!(found.checkpoint.next, 1);
        assert!(load(&dir.path().join("none"), 0, 0, 0).unwrap().is_none());
    }

    #[test]
    fn resuming_drops_the_torn_line_so_later_checkpoints_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let mut j =
            Journal::create(&path, &fp(), 5, &Checkpoint::default(), FileMode::default()).unwrap();
        j.append(&Checkpoint {
            next: 1,
            out_bytes: 40,
            ..Checkpoint::default()
        })
        .unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"next\":2,\"out_by").unwrap();
        drop(f);

        let found = load(&path, 100, 0, 0).unwrap().unwrap();
        assert_eq!(found.checkpoint.next, 1);
        let mut j = Journal::resume(&path, &found, FileMode::default()).unwrap();
        j.append(&Checkpoint {
            next: 3,
            out_bytes: 80,
            ..Checkpoint::default()
        })
        .unwrap();
        drop(j);
        let found = load(&path, 100, 0, 0).unwrap().unwrap();
        assert_eq!(found.checkpoint.next, 3);
        assert_eq!(found.fingerprint, fp());
        assert_eq!(found.total, 5);
        assert!(!crate::store::paths::temp(&path).exists());
    }

    #[test]
    fn differences_name_what_changed() {
        let mut now = fp();
        now.columns = "content".into();
        let d = now.differences(&fp());
        assert_eq!(d.len(), 1);
        assert!(
            d[0].contains("columns") && d[0].contains("content"),
            "{d:?}"
        );
    }
}
