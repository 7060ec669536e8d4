//! What the run's requests did, counted as they go: requests sent,
//! retries by cause, and every non-2000 `Code` the platform answered.
//! The fetch tasks count; the summary and the metrics read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::Serialize;

use crate::api::{Cause, CodeClass};

/// Most distinct codes listed: the platform chooses them, and a summary
/// must stay small. Answers with further codes are counted apart.
pub const MAX_CODES: usize = 32;

/// Longest code kept, in characters: a `Code` may be any JSON value.
const CODE_CHARS: usize = 40;

/// Longest `Msg` kept as a code's example, in characters.
const EXAMPLE_CHARS: usize = 200;

/// Requests sent, counted when sent (a stop during a backoff cancels the
/// retry, which then is not counted), and the codes answered.
#[derive(Debug, Default)]
pub struct RequestStats {
    requests: AtomicU64,
    retries: [AtomicU64; Cause::ALL.len()],
    codes: Mutex<Codes>,
}

#[derive(Debug, Default)]
struct Codes {
    seen: BTreeMap<String, CodeSeen>,
    /// Answers whose code did not fit in `seen`.
    unlisted: u64,
}

/// One non-2000 `Code` as the run met it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeSeen {
    /// The code's JSON text (`5000`, or `"E1"` for a string).
    pub code: String,
    /// What the run took it for.
    pub class: CodeClass,
    /// Answers that carried it (each attempt counts).
    pub answers: u64,
    /// The first `Msg` that came with it, made safe and shortened.
    pub example: String,
}

impl RequestStats {
    /// A request is about to be sent; `retry_of` is the fault it retries.
    pub fn sent(&self, retry_of: Option<Cause>) {
        self.requests.fetch_add(1, Relaxed);
        if let Some(cause) = retry_of {
            self.retries[cause_index(cause)].fetch_add(1, Relaxed);
        }
    }

    /// HTTP requests sent, first tries and retries.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// Retries sent after a fault of `cause`.
    pub fn retries(&self, cause: Cause) -> u64 {
        self.retries[cause_index(cause)].load(Relaxed)
    }

    /// The platform answered a non-2000 code taken as `class`; `code` is
    /// its JSON text and `shown` the answer's text, both as the operator
    /// may see them (server text made safe).
    pub fn code_seen(&self, code: &str, class: CodeClass, shown: &str) {
        let code: String = if code.chars().count() > CODE_CHARS {
            code.chars().take(CODE_CHARS).chain(['…']).collect()
        } else {
            code.to_string()
        };
        let mut codes = self.codes.lock().expect("stats lock");
        if let Some(seen) = codes.seen.get_mut(&code) {
            seen.answers += 1;
            return;
        }
        if codes.seen.len() >= MAX_CODES {
            codes.unlisted += 1;
            return;
        }
        let example: String = shown.chars().take(EXAMPLE_CHARS).collect();
        codes.seen.insert(
            code.clone(),
            CodeSeen {
                code,
                class,
                answers: 1,
                example,
            },
        );
    }

    /// The codes met, by their text, and how many answers carried codes
    /// past [`MAX_CODES`].
    pub fn codes(&self) -> (Vec<CodeSeen>, u64) {
        let codes = self.codes.lock().expect("stats lock");
        (codes.seen.values().cloned().collect(), codes.unlisted)
    }
}

fn cause_index(cause: Cause) -> usize {
    Cause::ALL
        .iter()
        .position(|c| *c == cause)
        .expect("every cause is listed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_counted_per_answer_and_bounded() {
        let stats = RequestStats::default();
        for _ in 0..3 {
            stats.code_seen("5000", CodeClass::Transient, "API Code 5000: busy");
        }
        stats.code_seen("4000", CodeClass::Definitive, &"长".repeat(500));
        let (seen, unlisted) = stats.codes();
        assert_eq!(unlisted, 0);
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[1].code.as_str(), seen[1].answers), ("5000", 3));
        assert_eq!(seen[0].example.chars().count(), EXAMPLE_CHARS);
        for n in 0..2 * MAX_CODES {
            stats.code_seen(&n.to_string(), CodeClass::Unknown, "x");
        }
        let (seen, unlisted) = stats.codes();
        assert_eq!(seen.len(), MAX_CODES);
        assert_eq!(unlisted, 2 * MAX_CODES as u64 - (MAX_CODES as u64 - 2));
        // A code of any length is kept short.
        let stats = RequestStats::default();
        stats.code_seen(
            &format!("\"{}\"", "E".repeat(1000)),
            CodeClass::Unknown,
            "x",
        );
        assert_eq!(stats.codes().0[0].code.chars().count(), CODE_CHARS + 1);
    }
}
