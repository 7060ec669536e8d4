//! Drift: how far the platform's answers stray from its documentation.
//!
//! Each answer is scanned once by the task that fetched it
//! ([`CustomerDrift::of`]): values of an unexpected JSON type in the
//! documented fields, and the names of the fields the documentation does
//! not give. The writer adds a customer's drift to the run's counts
//! ([`DriftCounts`]) when it commits the customer, in input order, so the
//! counts are deterministic, are part of the resume journal's checkpoints
//! and stay right across `--resume`: they cover the committed customers of
//! every run of the export, as the row counts do. The first sight of each
//! undocumented field in a run is logged once: a warning with the way to
//! keep it, or an info line when the chosen columns keep it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::api::{ChatAnswer, Field};

/// The documented fields whose type is checked, as named in the summary.
pub const FIELDS: [&str; 4] = ["chat_id", "content", "message_type", "sender_type"];

/// Most distinct undocumented field names counted (per customer and per
/// run): the names come from the server, so their number is bounded.
pub const MAX_NAMES: usize = 64;

/// Where names beyond [`MAX_NAMES`] are counted.
pub const OTHER_NAMES: &str = "(other)";

/// Longest field name kept, in bytes (cut on a character boundary).
const MAX_NAME_BYTES: usize = 64;

/// The drift of one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDrift {
    /// Values of an unexpected type, per field of [`FIELDS`].
    pub unexpected: [u64; 4],
    /// Undocumented field names (`chats.…`, `messages.…`) and how often
    /// each came, in order of first appearance.
    pub undocumented: Vec<(String, u64)>,
}

impl CustomerDrift {
    /// Scan a successful answer.
    pub fn of(envelope: &ChatAnswer<'_>) -> CustomerDrift {
        let mut d = CustomerDrift::default();
        // An answer read as documented holds no value of another type:
        // only its extra fields are looked at.
        let types = !envelope.as_documented;
        for chat in envelope.chats() {
            if types {
                d.count_type(0, &chat.chat_id);
            }
            for (name, _) in &chat.extra {
                d.count_name("chats.", name);
            }
            for m in chat.messages() {
                if types {
                    d.count_type(1, &m.content);
                    d.count_type(2, &m.message_type);
                    d.count_type(3, &m.sender_type);
                }
                for (name, _) in &m.extra {
                    d.count_name("messages.", name);
                }
            }
        }
        d
    }

    /// Whether the answer matched the documentation.
    pub fn is_empty(&self) -> bool {
        self.unexpected == [0; 4] && self.undocumented.is_empty()
    }

    fn count_type(&mut self, field: usize, value: &Field<'_>) {
        if value.is_unexpected() {
            self.unexpected[field] += 1;
        }
    }

    fn count_name(&mut self, prefix: &str, name: &str) {
        let name = cut(name);
        // Few distinct names per answer: a linear search beats hashing.
        let at = |name: &str| self.undocumented.iter().position(|(n, _)| n == name);
        let i = match self
            .undocumented
            .iter()
            .position(|(n, _)| n.strip_prefix(prefix) == Some(name))
        {
            Some(i) => i,
            None if self.undocumented.len() < MAX_NAMES => {
                self.undocumented.push((format!("{prefix}{name}"), 0));
                self.undocumented.len() - 1
            }
            None => match at(OTHER_NAMES) {
                Some(i) => i,
                None => {
                    self.undocumented.push((OTHER_NAMES.into(), 0));
                    self.undocumented.len() - 1
                }
            },
        };
        self.undocumented[i].1 += 1;
    }
}

/// A server-chosen name, cut to [`MAX_NAME_BYTES`].
fn cut(name: &str) -> &str {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let mut end = MAX_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The drift of the committed customers, cumulative over resumes (it is
/// part of the journal's checkpoints) and reported in the summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DriftCounts {
    /// Values of a JSON type the documentation does not give (not a
    /// string, not null), per documented field: `{"content": 12}`.
    #[serde(default)]
    pub unexpected_types: BTreeMap<String, u64>,
    /// Fields the documentation does not name, as `chats.<name>` or
    /// `messages.<name>`, with how often each came: `{"messages.time": 4210}`.
    #[serde(default)]
    pub undocumented_fields: BTreeMap<String, u64>,
    /// The names already warned about in this run (not journaled: a
    /// resumed run warns again, once).
    #[serde(skip)]
    warned: BTreeSet<String>,
}

impl PartialEq for DriftCounts {
    fn eq(&self, other: &Self) -> bool {
        self.unexpected_types == other.unexpected_types
            && self.undocumented_fields == other.undocumented_fields
    }
}

impl Eq for DriftCounts {}

impl DriftCounts {
    /// Whether every committed answer matched the documentation.
    pub fn is_empty(&self) -> bool {
        self.unexpected_types.is_empty() && self.undocumented_fields.is_empty()
    }

    /// Add the drift of `customer`, just committed, and log once per run
    /// each undocumented field: a warning when `columns` drop it.
    pub fn commit(&mut self, customer: &str, drift: &CustomerDrift, kept: Kept) {
        for (field, &n) in FIELDS.iter().zip(&drift.unexpected) {
            if n > 0 {
                *self.unexpected_types.entry((*field).into()).or_default() += n;
            }
        }
        for (name, n) in &drift.undocumented {
            let known = self.undocumented_fields.len();
            let name = if known >= MAX_NAMES && !self.undocumented_fields.contains_key(name) {
                OTHER_NAMES
            } else {
                name.as_str()
            };
            *self.undocumented_fields.entry(name.into()).or_default() += n;
            if self.warned.len() <= MAX_NAMES && self.warned.insert(name.into()) {
                warn_undocumented(customer, name, kept);
            }
        }
    }

    /// A short text for the summary line: `content 3, chat_id 1;
    /// undocumented messages.time 4210, chats.create_time 12`, the largest
    /// counts first, at most five of each.
    pub fn brief(&self) -> String {
        let top = |map: &BTreeMap<String, u64>| {
            let mut v: Vec<(&String, &u64)> = map.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let mut text: Vec<String> = v.iter().take(5).map(|(k, n)| format!("{k} {n}")).collect();
            if v.len() > 5 {
                text.push(format!("{} more", v.len() - 5));
            }
            text.join(", ")
        };
        let mut parts = Vec::new();
        if !self.unexpected_types.is_empty() {
            parts.push(format!("unexpected types: {}", top(&self.unexpected_types)));
        }
        if !self.undocumented_fields.is_empty() {
            parts.push(format!(
                "undocumented fields: {}",
                top(&self.undocumented_fields)
            ));
        }
        parts.join("; ")
    }
}

/// Which of the columns that keep undocumented fields a run writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept {
    /// The `extra` column (a message's undocumented fields).
    pub extra: bool,
    /// The `chat_extra` column (a chat's undocumented fields).
    pub chat_extra: bool,
}

fn warn_undocumented(customer: &str, name: &str, kept: Kept) {
    let (column, kept) = if name.starts_with("chats.") {
        ("chat_extra", kept.chat_extra)
    } else {
        ("extra", kept.extra)
    };
    if kept {
        tracing::info!(
            customer,
            field = name,
            "the platform sent a field its documentation does not name: {name:?}; \
             it is kept in the {column} column"
        );
    } else {
        tracing::warn!(
            customer,
            field = name,
            "the platform sent a field its documentation does not name: {name:?}; \
             it is not in the output: to keep it, add extra,chat_extra to --columns \
             (--columns customer_id,chat_id,seq,sender_type,message_type,content,extra,chat_extra)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(body: &str) -> CustomerDrift {
        let env = ChatAnswer::from_json(body).unwrap();
        CustomerDrift::of(&env)
    }

    #[test]
    fn counts_types_and_names() {
        let d = drift(
            r#"{"Code":2000,"Data":[{"chat_id":5,"create_time":1,"messages":[
                {"content":{"a":1},"time":"1","msg_id":"x"},
                {"content":"ok","message_type":2,"sender_type":null,"time":"2"}]},
                {"chat_id":"c","messages":null}]}"#,
        );
        assert_eq!(d.unexpected, [1, 1, 1, 0]);
        assert_eq!(
            d.undocumented,
            [
                ("chats.create_time".to_string(), 1),
                ("messages.time".to_string(), 2),
                ("messages.msg_id".to_string(), 1)
            ]
        );
        assert!(drift(r#"{"Code":2000,"Data":[{"chat_id":"c"}]}"#).is_empty());
    }

    /// Names come from the server: their number and length are bounded.
    #[test]
    fn names_are_bounded() {
        let fields: Vec<String> = (0..MAX_NAMES + 10).map(|i| format!("\"f{i}\":1")).collect();
        let long = "长".repeat(100);
        let body = format!(
            r#"{{"Code":2000,"Data":[{{"messages":[{{"{long}":1}},{{{}}}]}}]}}"#,
            fields.join(",")
        );
        let d = drift(&body);
        assert_eq!(d.undocumented.len(), MAX_NAMES + 1);
        assert!(d.undocumented[0].0.len() <= "messages.".len() + MAX_NAME_BYTES);
        assert_eq!(
            d.undocumented.last().unwrap(),
            &(OTHER_NAMES.to_string(), 11)
        );

        let mut counts = DriftCounts::default();
        counts.commit("c", &d, Kept::default());
        counts.commit("c", &d, Kept::default());
        assert_eq!(counts.undocumented_fields.len(), MAX_NAMES + 1);
        assert_eq!(counts.undocumented_fields[OTHER_NAMES], 22);
    }

    #[test]
    fn counts_add_up_and_survive_the_journal() {
        let d = drift(r#"{"Code":2000,"Data":[{"chat_id":1,"messages":[{"time":"1"}]}]}"#);
        let mut counts = DriftCounts::default();
        counts.commit("a", &d, Kept::default());
        counts.commit("b", &d, Kept::default());
        assert_eq!(counts.unexpected_types["chat_id"], 2);
        assert_eq!(counts.undocumented_fields["messages.time"], 2);
        let back: DriftCounts =
            serde_json::from_str(&serde_json::to_string(&counts).unwrap()).unwrap();
        assert_eq!(back, counts);
        assert_eq!(
            counts.brief(),
            "unexpected types: chat_id 2; undocumented fields: messages.time 2"
        );
    }
}
