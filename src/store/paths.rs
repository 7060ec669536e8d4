//! The names of the files a run derives from `--out` and `--failed`.
//!
//! Every side file sits beside the file it belongs to, named by appending a
//! suffix to the whole file name (`chats.csv` → `chats.csv.partial`), so
//! that a glob on the output's name finds them all. This module is the one
//! place those suffixes are spelled.

use std::path::{Path, PathBuf};

/// Rows (or failures) go here until the run completes, then are renamed.
const PARTIAL: &str = ".partial";
/// Parquet rows committed since the last row group.
const STAGED: &str = ".staged";
/// The resume journal of an output.
const JOURNAL: &str = ".journal";
/// The advisory lock of an output.
const LOCK: &str = ".lock";
/// The default failed-customers file of an output.
const FAILED: &str = ".failed.csv";
/// The contact list an `--all-contacts` run took its IDs from.
const CONTACTS: &str = ".contacts";
/// A file written whole, then renamed over the real one.
const TEMP: &str = ".tmp";

/// `path` with `ext` appended to its file name (`a.csv` + `.partial`).
pub fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// `<path>.partial`: where a file is written until it is complete.
pub fn partial(path: &Path) -> PathBuf {
    append_ext(path, PARTIAL)
}

/// `<out>.staged`: a Parquet output's rows not yet in a row group.
pub fn staged(out: &Path) -> PathBuf {
    append_ext(out, STAGED)
}

/// `<out>.journal`: the resume journal.
pub fn journal(out: &Path) -> PathBuf {
    append_ext(out, JOURNAL)
}

/// `<out>.lock`: the lock held for the whole run.
pub fn lock(out: &Path) -> PathBuf {
    append_ext(out, LOCK)
}

/// `<out>.failed.csv`: the failed file when `--failed` is not given.
pub fn default_failed(out: &Path) -> PathBuf {
    append_ext(out, FAILED)
}

/// `<out>.contacts`: the contact list of an interrupted `--all-contacts`
/// run, for `--resume`.
pub fn contact_list(out: &Path) -> PathBuf {
    append_ext(out, CONTACTS)
}

/// `<path>.tmp`: a file written whole, then renamed onto `path`.
pub fn temp(path: &Path) -> PathBuf {
    append_ext(path, TEMP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_files_append_to_the_whole_name() {
        let out = Path::new("dir/chats.csv.gz");
        assert_eq!(partial(out), Path::new("dir/chats.csv.gz.partial"));
        assert_eq!(journal(out), Path::new("dir/chats.csv.gz.journal"));
        assert_eq!(lock(out), Path::new("dir/chats.csv.gz.lock"));
        assert_eq!(
            default_failed(out),
            Path::new("dir/chats.csv.gz.failed.csv")
        );
    }
}
