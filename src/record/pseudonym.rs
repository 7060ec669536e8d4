//! `--pseudonymize`: every `customer_id` written as HMAC-SHA256(key, id),
//! 32 hex characters. The same key gives the same pseudonym in every run
//! and every table, so joins keep working; without the key nobody can go
//! back from a pseudonym to the ID. The key is read from a file that only
//! its owner may read, and is never shown.

use std::fmt;
use std::io::Read;
use std::path::Path;

use ring::hmac;

use crate::error::UsageError;

/// The keyed pseudonym function.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: hmac::Key,
    /// A pseudonym of a fixed text, for the journal's fingerprint: a resumed
    /// run must use the same key, and this says so without the key.
    check: String,
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymizer(<key redacted>)")
    }
}

impl PartialEq for Pseudonymizer {
    fn eq(&self, other: &Self) -> bool {
        self.check == other.check
    }
}

impl Eq for Pseudonymizer {}

/// Most bytes read from a key file.
const MAX_KEY_FILE: u64 = 64 * 1024;

impl Pseudonymizer {
    /// A pseudonymizer keyed by `secret` (at least 16 bytes).
    pub fn new(secret: &[u8]) -> Result<Pseudonymizer, UsageError> {
        if secret.len() < 16 {
            return Err(UsageError::invalid(
                "the pseudonym key is shorter than 16 bytes: generate one with \
                 `head -c 32 /dev/urandom | base64 > key`",
            ));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let mut p = Pseudonymizer {
            key,
            check: String::new(),
        };
        p.check = p.pseudonym("yuju-export pseudonym key check");
        Ok(p)
    }

    /// Read the key from the first line of `path`: a regular file that
    /// other users cannot read.
    pub fn from_file(path: &Path) -> Result<Pseudonymizer, UsageError> {
        let read = |source| UsageError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        if !meta.is_file() {
            return Err(UsageError::invalid(format!(
                "--pseudonym-key-file {}: not a regular file",
                path.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o044 != 0 {
                return Err(UsageError::invalid(format!(
                    "--pseudonym-key-file {}: its group or other users can read it; \
                     chmod 600 it (anyone with the key can tell which ID a pseudonym is)",
                    path.display()
                )));
            }
        }
        let mut text = Vec::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_KEY_FILE)
            .read_to_end(&mut text)
            .map_err(read)?;
        let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Pseudonymizer::new(line.trim_ascii())
    }

    /// The pseudonym of `id`: the first 16 bytes of HMAC-SHA256, in hex.
    pub fn pseudonym(&self, id: &str) -> String {
        let tag = hmac::sign(&self.key, id.as_bytes());
        tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What the journal's fingerprint records: a pseudonym of a fixed text.
    pub fn describe(&self) -> &str {
        &self.check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_key_and_32_hex() {
        let a = Pseudonymizer::new(b"0123456789abcdef-key-one").unwrap();
        let b = Pseudonymizer::new(b"0123456789abcdef-key-two").unwrap();
        let id = "57a286a608894aa7b26a9e589f4d3333";
        assert_eq!(a.pseudonym(id), a.pseudonym(id));
        assert_ne!(a.pseudonym(id), b.pseudonym(id));
        assert_ne!(a.pseudonym(id), a.pseudonym("another"));
        let p = a.pseudonym(id);
        assert_eq!(p.len(), 32);
        assert!(p
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(!format!("{a:?}").contains("key-one"));
        assert!(Pseudonymizer::new(b"short").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Pseudonymizer::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("0123456789"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = Pseudonymizer::from_file(&path).unwrap();
        assert_eq!(p, Pseudonymizer::new(b"0123456789abcdef0123").unwrap());
    }
}
