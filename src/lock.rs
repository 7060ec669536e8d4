//! The advisory lock that keeps two runs off the same file: cron can start
//! tonight's run while last night's is still going, and two shards may be
//! given one failed file. A run locks its output, its failed file and its
//! summary.
//!
//! The lock is held on `<out>.lock` for the whole run. The file itself is
//! left in place (an empty file): deleting it at the end would let a run
//! that opened it just before lock a file no other run can see.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::safefs::{self, Existing, FileMode};

/// Held for the life of a run; released on drop (or by the OS on a crash).
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
    pub path: PathBuf,
}

/// `<out>.lock`.
pub fn lock_path(out: &Path) -> PathBuf {
    crate::paths::lock(out)
}

impl OutputLock {
    /// Take the lock of the file `out`, or fail at once if another run
    /// holds it.
    pub fn acquire(out: &Path, mode: FileMode) -> Result<OutputLock, UsageError> {
        let path = lock_path(out);
        let file = safefs::open(&path, mode, Existing::Keep, true).map_err(|e| {
            UsageError::invalid(format!(
                "cannot create the lock file {}: {e}",
                path.display()
            ))
        })?;
        match file.try_lock() {
            Ok(()) => Ok(OutputLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(UsageError::invalid(format!(
                "another yuju-export run is writing {} (it holds {}); wait for it to finish",
                out.display(),
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(UsageError::invalid(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
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
        OutputLock::acquire(&out, mode).unwrap();
    }
}
