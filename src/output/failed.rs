//! The failed-customers file: CSV `customer_id,error`, in input order.
//!
//! It is written to `<failed>.partial` as failures come and renamed into
//! place at the end of a complete run only when some customer failed; a
//! complete run without failures removes any stale failed file, so the
//! file's presence always means the last complete run had failures.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::sink::sync_dir;
use crate::config::append_ext;

/// Collects failures of one run.
pub struct FailedFile {
    path: Option<PathBuf>,
    writer: Option<csv::Writer<BufWriter<File>>>,
    count: u64,
}

impl FailedFile {
    /// `path` = `None` when no failed file is wanted (stdout without --failed).
    pub fn new(path: Option<PathBuf>) -> Self {
        FailedFile {
            path,
            writer: None,
            count: 0,
        }
    }

    /// Check early that the failed file's directory is writable.
    pub fn check_writable(&self) -> anyhow::Result<()> {
        if let Some(path) = &self.path {
            let partial = append_ext(path, ".partial");
            File::create(&partial)
                .with_context(|| format!("cannot create the failed file {}", partial.display()))?;
            std::fs::remove_file(&partial).ok();
        }
        Ok(())
    }

    /// Record one failed customer.
    pub fn add(&mut self, customer_id: &str, error: &str) -> anyhow::Result<()> {
        self.count += 1;
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.writer.is_none() {
            let partial = append_ext(path, ".partial");
            let file = File::create(&partial)
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut w = csv::Writer::from_writer(BufWriter::new(file));
            w.write_record(["customer_id", "error"])?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("just opened");
        w.write_record([customer_id, error])
            .with_context(|| format!("cannot write the failed file for {}", path.display()))?;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The run is complete: put the file in place, or remove a stale one.
    pub fn commit(self) -> anyhow::Result<Option<PathBuf>> {
        let Some(path) = self.path else {
            return Ok(None);
        };
        match self.writer {
            Some(w) => {
                let partial = append_ext(&path, ".partial");
                let file = w
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("{}", e.error()))?
                    .into_inner()
                    .map_err(|e| e.into_error())?;
                file.sync_all()?;
                std::fs::rename(&partial, &path).with_context(|| {
                    format!("cannot rename {} to {}", partial.display(), path.display())
                })?;
                sync_dir(&path);
                Ok(Some(path))
            }
            None => {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::debug!(path = %path.display(), "removed a stale failed file")
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot remove the stale failed file {}", path.display())
                        })
                    }
                }
                Ok(None)
            }
        }
    }

    /// The run stopped early: flush what was recorded to `<failed>.partial`.
    pub fn keep_partial(self) -> anyhow::Result<()> {
        if let Some(mut w) = self.writer {
            w.flush()?;
        }
        Ok(())
    }
}
