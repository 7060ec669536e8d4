//! Creating the files the tool writes, safely on a shared machine.
//!
//! The job often runs as root, in directories other users can write to. So
//! every file it writes is opened here, and:
//! - a name taken by a symbolic link, or by anything that is not a regular
//!   file (a FIFO, a device, a directory), is refused, never followed or
//!   replaced: the check is made on the name itself (`lstat`), and the open
//!   that follows uses `O_NOFOLLOW` and checks the opened file again, so a
//!   link planted in between is not followed either;
//! - a regular file with more than one hard link is refused too: writing it
//!   would write another name's file;
//! - new files get the run's [`FileMode`] (owner-only by default), set
//!   exactly, whatever the umask;
//! - a file written whole (the summary, the journal's rewrite) goes through
//!   a temporary file created exclusively beside it, then a rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Permission bits of the files the tool creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(u32);

impl Default for FileMode {
    /// Owner read and write only: the files hold personal data.
    fn default() -> Self {
        FileMode(0o600)
    }
}

impl FileMode {
    /// The `--metrics` file's mode, whatever `--file-mode` says: it holds
    /// counts and times, no personal data, and node_exporter (another
    /// user) must read it.
    pub const METRICS: FileMode = FileMode(0o644);

    /// Parse an octal mode such as `0640`. The owner must be able to read
    /// and write; nobody may execute; others may not write.
    pub fn parse(text: &str) -> Result<FileMode, String> {
        let digits = text.trim().trim_start_matches("0o");
        let mode = u32::from_str_radix(digits, 8)
            .map_err(|_| format!("{text:?} is not an octal mode such as 0600 or 0640"))?;
        if mode > 0o777 || mode & 0o111 != 0 {
            return Err(format!(
                "{text}: only read and write bits (no execute, setuid or sticky bits)"
            ));
        }
        if mode & 0o600 != 0o600 {
            return Err(format!("{text}: the owner must be able to read and write"));
        }
        if mode & 0o002 != 0 {
            return Err(format!("{text}: files others can write are refused"));
        }
        Ok(FileMode(mode))
    }

    /// The permission bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for FileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// What stands at a name the run wants to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    /// Nothing: the name is free.
    Nothing,
    /// A regular file with one name.
    Regular,
    /// Something the run must not write through or replace.
    Refused(&'static str),
}

/// What stands at `path`, judged without following a link.
pub fn occupant(path: &Path) -> io::Result<Occupant> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Occupant::Nothing),
        Err(e) => return Err(e),
    };
    Ok(judge(&meta))
}

fn judge(meta: &std::fs::Metadata) -> Occupant {
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Occupant::Refused("a symbolic link");
    }
    if kind.is_dir() {
        return Occupant::Refused("a directory");
    }
    if !kind.is_file() {
        return Occupant::Refused("not a regular file (a device, FIFO or socket)");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Occupant::Refused("a file with several hard links");
        }
    }
    Occupant::Regular
}

/// The error for a name the run refuses to write.
pub fn refused(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} is {what}: yuju-export writes only regular files it can own, never through \
             a link; remove it or choose another path",
            path.display()
        ),
    )
}

/// Check that `path` is free or a regular file, before the run starts.
pub fn check_writable_name(path: &Path) -> io::Result<()> {
    match occupant(path)? {
        Occupant::Refused(what) => Err(refused(path, what)),
        Occupant::Nothing | Occupant::Regular => Ok(()),
    }
}

/// How [`open`] treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Cut it to zero (a fresh start).
    Truncate,
    /// Keep its bytes (a resume, a lock).
    Keep,
    /// Refuse: the file must be new (a temporary file).
    Refuse,
}

/// Open `path` for writing: create it with `mode`, or open the regular file
/// that is there, never through a link and never a non-regular file.
pub fn open(path: &Path, mode: FileMode, existing: Existing, read: bool) -> io::Result<File> {
    if let Occupant::Refused(what) = occupant(path)? {
        return Err(refused(path, what));
    }
    let mut options = OpenOptions::new();
    options.read(read).write(true).create(true);
    if existing == Existing::Refuse {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW: a link planted since the check fails the open;
        // O_NONBLOCK: a FIFO planted since does not block it.
        options
            .mode(mode.bits())
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            refused(path, "a symbolic link")
        } else {
            e
        }
    })?;
    let meta = file.metadata()?;
    if let Occupant::Refused(what) = judge(&meta) {
        return Err(refused(path, what));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Clear O_NONBLOCK again, and set the mode exactly (the umask may
        // have cut it, and an existing file keeps the one it had).
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: `fd` is open for the life of `file`; F_GETFL/F_SETFL
        // only change its status flags.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
        if meta.permissions().mode() & 0o777 != mode.bits() {
            file.set_permissions(std::fs::Permissions::from_mode(mode.bits()))?;
        }
    }
    if existing == Existing::Truncate {
        file.set_len(0)?;
    }
    Ok(file)
}

/// A temporary file beside `path`, created exclusively (a name nobody
/// else holds), for writing whole and renaming onto `path`.
pub fn temp_beside(path: &Path, mode: FileMode) -> io::Result<(File, PathBuf)> {
    let mut attempt = 0;
    loop {
        let tmp = crate::store::paths::append_ext(
            &crate::store::paths::temp(path),
            &format!(".{:08x}", rand::random::<u32>()),
        );
        match open(&tmp, mode, Existing::Refuse, false) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            other => return other.map(|f| (f, tmp)),
        }
    }
}

/// Replace `path` with `bytes`, atomically: a temporary file, fsync,
/// rename, and the directory synced. A link or anything else that is not a
/// regular file at `path` is refused.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: FileMode) -> io::Result<()> {
    check_writable_name(path)?;
    let (mut file, tmp) = temp_beside(path, mode)?;
    let written = file
        .write_all(bytes)
        .and_then(|_| file.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path);
    Ok(())
}

/// Remove a file this run created, if it is there (a missing one is no
/// error).
pub fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
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

/// `path` with its directory resolved (links and `..` followed), for
/// comparing the files of a run: two names of one file resolve the same.
/// The file itself need not exist.
pub fn resolved(path: &Path) -> PathBuf {
    let name = path.file_name();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), name) {
        (Ok(dir), Some(name)) => {
            let full = dir.join(name);
            // An existing link at the name: compare what it names, too.
            match std::fs::symlink_metadata(&full) {
                Ok(m) if m.file_type().is_symlink() => full.canonicalize().unwrap_or(full),
                _ => full,
            }
        }
        _ => path.to_path_buf(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_parse_and_refuse_what_is_unsafe() {
        assert_eq!(FileMode::parse("0640").unwrap().bits(), 0o640);
        assert_eq!(FileMode::parse("600").unwrap().bits(), 0o600);
        for bad in ["0700", "0400", "0666", "4600", "rw", "0x600"] {
            assert!(FileMode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_files_get_the_mode_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        open(&p, FileMode::default(), Existing::Truncate, false).unwrap();
        assert_eq!(mode_of(&p), 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        open(&p, FileMode::parse("0640").unwrap(), Existing::Keep, false).unwrap();
        assert_eq!(mode_of(&p), 0o640);
    }

    #[test]
    fn links_and_special_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = open(&link, FileMode::default(), Existing::Truncate, false).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let hard = dir.path().join("hard");
        std::fs::hard_link(&victim, &hard).unwrap();
        let err = open(&hard, FileMode::default(), Existing::Truncate, false).unwrap_err();
        assert!(err.to_string().contains("hard links"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(open(&sub, FileMode::default(), Existing::Keep, false).is_err());
    }

    #[test]
    fn atomic_writes_replace_a_link_not_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let link = dir.path().join("summary.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_atomic(&link, b"{}", FileMode::default()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let plain = dir.path().join("plain.json");
        write_atomic(&plain, b"{}", FileMode::default()).unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"{}");
        assert_eq!(mode_of(&plain), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 3, "no temporary file is left behind");
    }

    #[test]
    fn two_names_of_one_file_resolve_the_same() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("d"), dir.path().join("alias")).unwrap();
        let a = resolved(&dir.path().join("d/x.csv"));
        let b = resolved(&dir.path().join("alias/../d/x.csv"));
        let c = resolved(&dir.path().join("alias/x.csv"));
        assert_eq!(a, c);
        assert_eq!(a, b);
    }
}
