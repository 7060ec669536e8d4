//! The failed-customers file: CSV `customer_id,error,class`, in input
//! order. `class` says what the failure means for the data: `definitive`
//! (the platform's final answer), `transient`, `unknown` (a `Code` nobody
//! has classified) or `unreadable` (an answer the run could not keep).
//!
//! It is written to `<failed>.partial` as failures come and renamed into
//! place at the end of a complete run only when some customer failed; a
//! complete run without failures removes any stale failed file, so the
//! file's presence always means the last complete run had failures. A
//! resumed run cuts `<failed>.partial` back to the journal's offset and
//! appends, so each failed customer is listed once across resumes. A
//! partial file an older version started with the header
//! `customer_id,error` is continued in that shape.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::store::safefs::{self, Existing, FileMode};

/// Collects failures of one run.
pub struct FailedFile {
    path: Option<PathBuf>,
    mode: FileMode,
    writer: Option<csv::Writer<File>>,
    /// Whether rows carry the `class` column (a file an older version
    /// started does not).
    with_class: bool,
}

/// The header of a failed file.
const HEADER: [&str; 3] = ["customer_id", "error", "class"];

impl FailedFile {
    /// A fresh failed file; `path` = `None` when none is wanted.
    pub fn new(path: Option<PathBuf>, mode: FileMode) -> Self {
        FailedFile {
            path,
            mode,
            writer: None,
            with_class: true,
        }
    }

    /// Continue `<failed>.partial` from `offset` bytes (a resumed run).
    pub fn resume(path: Option<PathBuf>, offset: u64, mode: FileMode) -> anyhow::Result<Self> {
        let mut f = FailedFile::new(path, mode);
        if offset == 0 {
            return Ok(f);
        }
        let Some(path) = &f.path else {
            return Ok(f);
        };
        let partial = crate::store::paths::partial(path);
        let mut file = safefs::open(&partial, f.mode, Existing::Keep, true)
            .with_context(|| format!("cannot open {}", partial.display()))?;
        f.with_class = has_class_column(&mut file)
            .with_context(|| format!("cannot read {}", partial.display()))?;
        file.set_len(offset)?;
        file.seek(SeekFrom::Start(offset))?;
        f.writer = Some(
            csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file),
        );
        Ok(f)
    }

    /// Length of `<failed>.partial` when a run starts afresh or resumes
    /// (for checking the journal against it).
    pub fn partial_len(path: Option<&Path>) -> u64 {
        path.map(crate::store::paths::partial)
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Record one failed customer.
    pub fn add(&mut self, customer_id: &str, error: &str, class: &str) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.writer.is_none() {
            let partial = crate::store::paths::partial(path);
            let file = safefs::open(&partial, self.mode, Existing::Truncate, false)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record(HEADER)?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("just opened");
        let written = if self.with_class {
            w.write_record([customer_id, error, class])
        } else {
            w.write_record([customer_id, error])
        };
        written.with_context(|| format!("cannot write the failed file for {}", path.display()))?;
        Ok(())
    }

    /// Flush and fsync; returns the length of `<failed>.partial`.
    pub fn checkpoint(&mut self) -> anyhow::Result<u64> {
        let Some(w) = &mut self.writer else {
            return Ok(0);
        };
        let synced = w.flush().and_then(|_| {
            let mut file: &File = w.get_ref();
            file.sync_data()?;
            file.stream_position()
        });
        synced.with_context(|| {
            let path = self
                .path
                .as_deref()
                .map(crate::store::paths::partial)
                .unwrap_or_default();
            format!("cannot write the failed file {}", path.display())
        })
    }

    /// The run is complete: put the file in place, or remove a stale one.
    pub fn commit(mut self) -> anyhow::Result<Option<PathBuf>> {
        let Some(path) = self.path.clone() else {
            return Ok(None);
        };
        let partial = crate::store::paths::partial(&path);
        // A writer exists once a failure was recorded (now or before a resume).
        if self.writer.is_some() {
            self.checkpoint()?;
            drop(self.writer.take());
            std::fs::rename(&partial, &path).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
            safefs::sync_dir(&path);
            return Ok(Some(path));
        }
        drop(self.writer.take());
        for stale in [&partial, &path] {
            match std::fs::remove_file(stale) {
                Ok(()) => tracing::debug!(path = %stale.display(), "removed a stale failed file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot remove the stale failed file {}", stale.display())
                    })
                }
            }
        }
        Ok(None)
    }

    /// The run stopped before it committed any customer: remove the
    /// partial failed file, if one was started.
    pub fn discard(mut self) -> anyhow::Result<()> {
        match (self.writer.take(), &self.path) {
            (Some(writer), Some(path)) => {
                drop(writer);
                safefs::remove_if_present(&crate::store::paths::partial(path))
            }
            _ => Ok(()),
        }
    }

    /// The run stopped early: flush what was recorded to `<failed>.partial`.
    pub fn keep_partial(mut self) -> anyhow::Result<()> {
        self.checkpoint()?;
        Ok(())
    }
}

/// Whether the header line of a partial failed file names the `class`
/// column (the file is read from its start; the caller seeks afterwards).
fn has_class_column(file: &mut File) -> std::io::Result<bool> {
    use std::io::Read;
    file.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..])? {
            0 => break,
            n => len += n,
        }
    }
    let line = head[..len].split(|b| *b == b'\n').next().unwrap_or(&[]);
    Ok(line.strip_suffix(b"\r").unwrap_or(line) != b"customer_id,error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(path: &Path) -> Vec<Vec<String>> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_path(path)
            .unwrap();
        r.records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn each_failure_says_its_class_and_an_old_partial_keeps_its_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let mut f = FailedFile::new(Some(path.clone()), FileMode::default());
        f.add("a", "API Code 9: x", "unknown").unwrap();
        let len = f.checkpoint().unwrap();
        f.add("b", "HTTP 503", "transient").unwrap();
        f.keep_partial().unwrap();
        // A resume cuts back to the checkpoint and goes on in the same shape.
        let mut f = FailedFile::resume(Some(path.clone()), len, FileMode::default()).unwrap();
        f.add("c", "API Code 4000: no", "definitive").unwrap();
        assert_eq!(f.commit().unwrap().as_deref(), Some(path.as_path()));
        assert_eq!(
            rows(&path),
            [
                ["customer_id", "error", "class"],
                ["a", "API Code 9: x", "unknown"],
                ["c", "API Code 4000: no", "definitive"],
            ]
        );

        // A partial failed file an older version started.
        let old = dir.path().join("g.csv");
        let partial = crate::store::paths::partial(&old);
        std::fs::write(&partial, "customer_id,error\nx,HTTP 503\n").unwrap();
        let len = std::fs::metadata(&partial).unwrap().len();
        let mut f = FailedFile::resume(Some(old.clone()), len, FileMode::default()).unwrap();
        f.add("y", "HTTP 500", "transient").unwrap();
        f.commit().unwrap();
        assert_eq!(
            rows(&old),
            [
                ["customer_id", "error"],
                ["x", "HTTP 503"],
                ["y", "HTTP 500"]
            ]
        );
    }
}
