//! The response body of `POST /v1/openapi/chat/record`, borrowed from the
//! raw bytes wherever no JSON escape forces a copy.
//!
//! Tolerant by contract: `Data: null`, missing `messages`, missing or null
//! message fields and unknown extra fields are all accepted.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// A string borrowed from the body when it holds no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// `Option<Cow<str>>` that borrows: serde's own `Option<Cow>` always copies,
/// which would hold a large answer twice.
fn text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

/// The `Code` of a successful answer.
pub const CODE_OK: i64 = 2000;

/// The outer object: `{"Code", "Data", "Msg", "RequestId"}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// Business status; 2000 is success. Numbers and numeric strings accepted.
    #[serde(rename = "Code", default)]
    pub code: Option<serde_json::Value>,
    /// Human-readable status, e.g. "成功".
    #[serde(rename = "Msg", borrow, default, deserialize_with = "text")]
    pub msg: Option<Cow<'a, str>>,
    /// The platform's request id, useful when asking its support.
    #[serde(rename = "RequestId", borrow, default, deserialize_with = "text")]
    pub request_id: Option<Cow<'a, str>>,
    /// The chats; `null` or absent means none.
    #[serde(rename = "Data", borrow, default)]
    pub data: Option<Vec<Chat<'a>>>,
}

impl Envelope<'_> {
    /// The code as an integer, if it is one.
    pub fn code(&self) -> Option<i64> {
        match self.code.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn chats(&self) -> &[Chat<'_>] {
        self.data.as_deref().unwrap_or(&[])
    }
}

/// One chat: an id and its messages in order.
#[derive(Debug, Deserialize)]
pub struct Chat<'a> {
    #[serde(borrow, default, deserialize_with = "text")]
    pub chat_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub messages: Option<Vec<Message<'a>>>,
}

impl Chat<'_> {
    pub fn id(&self) -> &str {
        self.chat_id.as_deref().unwrap_or("")
    }
    pub fn messages(&self) -> &[Message<'_>] {
        self.messages.as_deref().unwrap_or(&[])
    }
}

/// One message. There is no timestamp and no id: position is the order.
#[derive(Debug, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow, default, deserialize_with = "text")]
    pub content: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub message_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub sender_type: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_nulls_missing_and_extra_fields() {
        let body = br#"{"Code":"2000","Data":[{"chat_id":"c","extra":1},
            {"chat_id":"d","messages":[{"content":null,"sender_type":"\u7528\u6237"}]}],
            "Msg":"ok","New":{"x":[1]}}"#;
        let env: Envelope = serde_json::from_slice(body).unwrap();
        assert_eq!(env.code(), Some(2000));
        assert_eq!(env.chats().len(), 2);
        assert!(env.chats()[0].messages().is_empty());
        let m = &env.chats()[1].messages()[0];
        assert_eq!(m.sender_type.as_deref(), Some("用户"));
        assert_eq!(m.content, None);

        let env: Envelope = serde_json::from_slice(br#"{"Code":2000,"Data":null}"#).unwrap();
        assert!(env.chats().is_empty());
    }
}

#[cfg(test)]
mod borrow_tests {
    use super::*;

    /// Strings without escapes are borrowed from the body, not copied: a
    /// large answer is not held twice.
    #[test]
    fn unescaped_strings_are_borrowed() {
        let body = "{\"Code\":2000,\"Data\":[{\"chat_id\":\"c\",\"messages\":[{\"content\":\"聚聚\",\"message_type\":\"a\",\"sender_type\":\"b\"}]}]}";
        let env: Envelope = serde_json::from_str(body).unwrap();
        let m = &env.chats()[0].messages()[0];
        assert!(
            matches!(m.content, Some(Cow::Borrowed(_))),
            "{:?}",
            m.content
        );
        assert!(matches!(env.chats()[0].chat_id, Some(Cow::Borrowed(_))));
    }
}
