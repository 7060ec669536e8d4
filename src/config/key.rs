//! The API key: where it is read from, and a warning when its file is
//! readable by others.

use std::path::Path;

use crate::api::endpoint::ApiKey;
use crate::error::UsageError;

/// The key: `--api-key-file` given on the command line, then
/// `YUJU_API_KEY`, then the config file's `api-key-file`.
pub(super) fn api_key(
    flag: Option<&Path>,
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    notices: &mut Vec<String>,
) -> Result<ApiKey, UsageError> {
    if let Some(path) = flag {
        read_key_file(path, notices)
    } else if let Some(key) = env("YUJU_API_KEY") {
        ApiKey::new(key).map_err(|e| UsageError::invalid(format!("YUJU_API_KEY: {e}")))
    } else if let Some(path) = file {
        read_key_file(path, notices)
    } else {
        Err(UsageError::invalid(
            "no API key: set the YUJU_API_KEY environment variable or pass --api-key-file PATH",
        ))
    }
}

/// Whether a missing `--api-key-file` may be named in its error: it has a
/// directory or a short extension (`key.txt`), which a pasted key has not.
pub(super) fn looks_like_a_path(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains('/')
        || text.contains('\\')
        || path.extension().is_some_and(|e| (1..=5).contains(&e.len()))
}

/// Most bytes read from a key file: a key is short, and `/dev/zero` is
/// not a key file.
pub(super) const MAX_KEY_FILE: u64 = 64 * 1024;

pub(super) fn read_key_file(path: &Path, notices: &mut Vec<String>) -> Result<ApiKey, UsageError> {
    use std::io::Read;
    let read = |r: &mut dyn Read| -> std::io::Result<String> {
        let mut bytes = Vec::new();
        r.take(MAX_KEY_FILE).read_to_end(&mut bytes)?;
        String::from_utf8(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
    };
    let text = if path.as_os_str() == "-" {
        read(&mut std::io::stdin())
    } else {
        std::fs::File::open(path).and_then(|mut f| {
            if let Some(warning) = key_file_exposed(&f, path) {
                notices.push(warning);
            }
            read(&mut f)
        })
    }
    .map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound && !looks_like_a_path(path) {
            // Not echoed: a key pasted where its file's path belongs would
            // land in cron's mail.
            UsageError::invalid(
                "--api-key-file: no such file (it takes the path of a file holding the key, \
                 not the key itself)",
            )
        } else {
            UsageError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let first = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    ApiKey::new(first)
        .map_err(|e| UsageError::invalid(format!("--api-key-file {}: {e}", path.display())))
}

/// A warning when others than the owner may read the key file (as ssh
/// warns of a private key). Kubernetes mounts secrets 0644 by default, so
/// this warns rather than refuses.
pub(super) fn key_file_exposed(file: &std::fs::File, path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "the API key file {} is readable by others than its owner (mode {mode:04o}): \
                 run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    let _ = (file, path);
    None
}
