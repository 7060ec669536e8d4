//! A pipeline's state: the bookmark of the stream (the end of the last
//! completed window, as `--state` records it) and, while a window is being
//! exported, how far it got, so a sync killed mid-window continues it.
//!
//! ```json
//! {"window_end": "2026-03-05T00:00:00Z",
//!  "in_progress": {"window_start": "…", "window_end": "…", "ids": "3 IDs, hash …",
//!                  "committed": 120, "failed_not_definitive": 0}}
//! ```
//!
//! The same policy as `--state`: the bookmark moves to a window's end only
//! when every customer of it is done and no failure but the platform's
//! definitive answers happened; otherwise the window is exported again.

use serde::{Deserialize, Serialize};

use crate::error::UsageError;

/// The stream's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamState {
    /// The end of the last completed window (RFC 3339): the next window
    /// starts here, less `lookback`. Absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    /// The window being exported, when a sync stopped inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<InProgress>,
}

/// How far an interrupted window got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InProgress {
    pub window_start: String,
    pub window_end: String,
    /// Which customers, in which order (distinct IDs and a hash of them):
    /// the count below only means something for the same list.
    pub ids: String,
    /// The query sent (window and filters), for the same reason.
    pub query: String,
    /// Customers committed, from the first.
    pub committed: u64,
    /// Of them, failed for reasons a later run may not meet: the window is
    /// not done, whatever comes after.
    #[serde(default)]
    pub failed_not_definitive: u64,
}

impl StreamState {
    /// Read a state value (the stream's own object). Anything else is an
    /// error: a bad state is never taken for a first sync.
    pub fn from_value(value: serde_json::Value, what: &str) -> Result<StreamState, UsageError> {
        serde_json::from_value(value)
            .map_err(|e| UsageError::invalid(format!("{what} is not a yuju state: {e}")))
    }
}

/// A time as the state writes it, checked.
pub fn parse_instant(
    text: &str,
    what: &str,
) -> Result<chrono::DateTime<chrono::FixedOffset>, UsageError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| UsageError::invalid(format!("{what} {text:?} is not an RFC 3339 time: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_and_bad_ones_are_refused() {
        let s = StreamState {
            window_end: Some("2026-03-05T00:00:00Z".into()),
            in_progress: Some(InProgress {
                window_start: "2026-03-05T00:00:00Z".into(),
                window_end: "2026-03-06T00:00:00Z".into(),
                ids: "3 IDs, hash 1".into(),
                query: "days=None".into(),
                committed: 2,
                failed_not_definitive: 0,
            }),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(StreamState::from_value(v, "x").unwrap(), s);
        assert_eq!(
            StreamState::from_value(serde_json::json!({}), "x").unwrap(),
            StreamState::default()
        );
        for bad in [
            serde_json::json!([1]),
            serde_json::json!({"window_end": 5}),
            serde_json::json!({"bookmark": "x"}),
        ] {
            assert!(StreamState::from_value(bad, "the state").is_err());
        }
    }
}
