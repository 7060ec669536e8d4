//! The advisory lock that keeps two runs off the same file: cron can start
//! tonight's run while last night's is still going, and two shards may be
//! given one failed file. A run locks its output, its failed file and its
//! summary.
//!
//! The lock is held on `<out>.lock` for the whole run, and the file is
//! removed when the run lets go of it, so no lock file stays beside the
//! outputs. Removing it is safe because a run that takes a lock checks,
//! once it holds it, that the name still leads to the file it locked: a
//! run that opened the file just before its holder removed it finds the
//! name gone (or another file under it) and tries again. A run killed
//! with SIGKILL leaves its lock file; the next run takes it and removes it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::store::safefs::{self, Existing, FileMode};

/// Held for the life of a run; released on drop (or by the OS on a crash).
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
    pub path: PathBuf,
}

/// `<out>.lock`.
pub fn lock_path(out: &Path) -> PathBuf {
    crate::store::paths::lock(out)
}

/// How many times a lock whose file was removed under it is taken again.
const ATTEMPTS: usize = 16;

impl OutputLock {
    /// Take the lock of the file `out`, or fail at once if another run
    /// holds it.
    pub fn acquire(out: &Path, mode: FileMode) -> Result<OutputLock, UsageError> {
        let path = lock_path(out);
        for _ in 0..ATTEMPTS {
            let file = safefs::open(&path, mode, Existing::Keep, true).map_err(|e| {
                UsageError::invalid(format!(
                    "cannot create the lock file {}: {e}",
                    path.display()
                ))
            })?;
            match file.try_lock() {
                Ok(()) if names(&path, &file) => return Ok(OutputLock { _file: file, path }),
                // Its holder removed it as it finished: take the new one.
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => {
                    return Err(UsageError::invalid(format!(
                        "another yuju-export run is writing {} (it holds {}); wait for it to \
                         finish",
                        out.display(),
                        path.display()
                    )))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(UsageError::invalid(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Err(UsageError::invalid(format!(
            "cannot lock {}: other runs keep replacing it",
            path.display()
        )))
    }
}

impl Drop for OutputLock {
    /// Remove the lock file while the lock is still held (the file is
    /// closed, and the lock released, right after).
    fn drop(&mut self) {
        if names(&self.path, &self._file) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `path` names `file` (the same device and inode), not a file
/// put in its place, nor nothing.
#[cfg(unix)]
fn names(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(named), Ok(held)) => named.dev() == held.dev() && named.ino() == held.ino(),
        _ => false,
    }
}

/// Elsewhere the file cannot be compared, so it is kept.
#[cfg(not(unix))]
fn names(_path: &Path, _file: &File) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_output_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let mode = FileMode::default();
        let first = OutputLock::acquire(&out, mode).unwrap();
        let err = OutputLock::acquire(&out, mode).unwrap_err().to_string();
        assert!(err.contains("another yuju-export run"), "{err}");
        drop(first);
        assert!(
            !lock_path(&out).exists(),
            "the lock file goes with the lock"
        );
        let second = OutputLock::acquire(&out, mode).unwrap();
        assert!(lock_path(&out).exists());
        drop(second);
    }

    /// A run that opened the lock file just before its holder removed it
    /// does not hold a lock no other run can see: it takes the new file.
    #[test]
    fn a_lock_file_removed_under_a_waiting_run_is_taken_anew() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let path = lock_path(&out);
        let mode = FileMode::default();
        let first = OutputLock::acquire(&out, mode).unwrap();
        // The late run's open file: the old inode.
        let late = safefs::open(&path, mode, Existing::Keep, true).unwrap();
        drop(first);
        late.try_lock().unwrap();
        assert!(!names(&path, &late), "the old file is gone from its name");
        let third = OutputLock::acquire(&out, mode).unwrap();
        assert!(names(&path, &third._file));
        let err = OutputLock::acquire(&out, mode).unwrap_err().to_string();
        assert!(err.contains("another yuju-export run"), "{err}");
    }
}
