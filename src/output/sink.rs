//! Where rows go: `<out>.partial`, renamed to `<out>` only when the run is
//! complete (flushed and fsynced first), or stdout.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{append_ext, Target};

/// Buffer size of the output: few, large write calls.
const BUFFER: usize = 256 * 1024;

enum Inner {
    File {
        file: BufWriter<File>,
        partial: PathBuf,
        path: PathBuf,
    },
    Stdout(BufWriter<io::Stdout>),
}

/// The open output.
pub struct Sink {
    inner: Inner,
    written: u64,
}

impl Sink {
    /// Open the output before any request, so a bad path fails at once.
    /// For a file this creates (truncates) `<out>.partial`.
    pub fn open(target: &Target) -> anyhow::Result<Sink> {
        let inner = match target {
            Target::Stdout => Inner::Stdout(BufWriter::with_capacity(BUFFER, io::stdout())),
            Target::File(path) => {
                let partial = append_ext(path, ".partial");
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&partial)
                    .with_context(|| format!("cannot create {}", partial.display()))?;
                Inner::File {
                    file: BufWriter::with_capacity(BUFFER, file),
                    partial,
                    path: path.clone(),
                }
            }
        };
        Ok(Sink { inner, written: 0 })
    }

    /// Append bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::File { file, .. } => file.write_all(bytes)?,
            Inner::Stdout(out) => out.write_all(bytes)?,
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Push buffered bytes to the OS (after each customer on stdout, so a
    /// pipe reader sees rows as they come).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::File { file, .. } => file.flush(),
            Inner::Stdout(out) => out.flush(),
        }
    }

    pub fn is_stdout(&self) -> bool {
        matches!(self.inner, Inner::Stdout(_))
    }

    /// The run is complete: flush, fsync, rename the partial file into place.
    pub fn commit(self) -> anyhow::Result<()> {
        match self.inner {
            Inner::Stdout(mut out) => out.flush().context("cannot write to stdout"),
            Inner::File {
                file,
                partial,
                path,
            } => {
                let file = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {}", partial.display()))?;
                file.sync_all()
                    .with_context(|| format!("cannot sync {}", partial.display()))?;
                std::fs::rename(&partial, &path).with_context(|| {
                    format!("cannot rename {} to {}", partial.display(), path.display())
                })?;
                sync_dir(&path);
                Ok(())
            }
        }
    }

    /// The run stopped early: keep what was written in the partial file.
    pub fn keep_partial(self) -> anyhow::Result<Option<PathBuf>> {
        match self.inner {
            Inner::Stdout(mut out) => {
                out.flush().context("cannot write to stdout")?;
                Ok(None)
            }
            Inner::File { file, partial, .. } => {
                let file = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(|| format!("cannot write {}", partial.display()))?;
                file.sync_all()
                    .with_context(|| format!("cannot sync {}", partial.display()))?;
                Ok(Some(partial))
            }
        }
    }
}

/// Make a rename durable by syncing its directory (best effort: not every
/// platform lets a directory be opened).
pub fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
