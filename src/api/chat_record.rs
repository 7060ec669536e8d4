//! The chat-record endpoint, `POST /v1/openapi/chat/record`: one
//! customer's chats, each an id and its messages in order. The answer's
//! items ([`Chat`], [`Message`]) are read tolerantly (see [`super::json`]).

use serde::de::MapAccess;

use super::endpoint::{Endpoint, Method, Request};
use super::envelope::{Envelope, Item};
use super::json::{
    extra_value, names, Extra, Field, FieldSeed, FromMap, Key, KeySeed, List, ListSeed, Mode, Names,
};
use super::query::Query;

names!(ChatNames: "chat_id" => 0, "messages" => 1);
names!(MessageNames: "content" => 0, "message_type" => 1, "sender_type" => 2);

#[derive(Debug, Default)]
pub struct Chat<'a> {
    pub chat_id: Field<'a>,
    pub messages: List<Message<'a>>,
    /// The chat's other fields, in the order received.
    pub extra: Extra<'a>,
}

impl<'de> FromMap<'de> for Chat<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A, mode: Mode) -> Result<Self, A::Error> {
        let mut chat = Chat::default();
        while let Some(key) = map.next_key_seed(KeySeed::<ChatNames>::new())? {
            match key {
                Key::Known(0) => chat.chat_id = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(_) => chat.messages = map.next_value_seed(ListSeed::new(mode))?,
                Key::Other(key) => {
                    let value = extra_value(&mut map)?;
                    chat.extra.push((key, value));
                }
            }
        }
        Ok(chat)
    }
}

impl Chat<'_> {
    pub fn id(&self) -> &str {
        self.chat_id.as_str()
    }
    pub fn messages(&self) -> &[Message<'_>] {
        self.messages.items()
    }
}

/// One message. The documented ones have no timestamp and no id: position
/// is the order.
#[derive(Debug, Default)]
pub struct Message<'a> {
    pub content: Field<'a>,
    pub message_type: Field<'a>,
    pub sender_type: Field<'a>,
    /// The message's other fields, in the order received.
    pub extra: Extra<'a>,
}

impl<'de> FromMap<'de> for Message<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A, mode: Mode) -> Result<Self, A::Error> {
        let mut m = Message::default();
        while let Some(key) = map.next_key_seed(KeySeed::<MessageNames>::new())? {
            match key {
                Key::Known(0) => m.content = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(1) => m.message_type = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(_) => m.sender_type = map.next_value_seed(FieldSeed(mode))?,
                Key::Other(key) => {
                    let value = extra_value(&mut map)?;
                    m.extra.push((key, value));
                }
            }
        }
        Ok(m)
    }
}

/// `POST /v1/openapi/chat/record`.
pub const ENDPOINT: Endpoint = Endpoint {
    method: Method::Post,
    path: "/v1/openapi/chat/record",
};

/// The request for each customer: its ID with the run's window and
/// filters.
#[derive(Debug, Clone)]
pub struct Records {
    pub query: Query,
}

impl Request for Records {
    fn endpoint(&self) -> Endpoint {
        ENDPOINT
    }

    fn body(&self, customer_id: &str) -> Vec<u8> {
        serde_json::to_vec(&self.query.body(customer_id))
            .expect("the request body always serialises")
    }
}

/// The chats' envelope.
pub type ChatAnswer<'a> = Envelope<'a, Chat<'a>>;

impl<'de> Item<'de> for Chat<'de> {
    const NAME: &'static str = "chat";

    fn unusable_inside(&self, i: usize) -> Option<String> {
        match &self.messages {
            List::Unusable(shape) => {
                Some(shape.describe(&format!("Data[{i}].messages"), "message"))
            }
            List::Items(_) => None,
        }
    }
}

impl ChatAnswer<'_> {
    /// The chats (none when `Data` is unusable).
    pub fn chats(&self) -> &[Chat<'_>] {
        self.data.items()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::json::compact;
    use std::borrow::Cow;

    fn parse(body: &str) -> ChatAnswer<'_> {
        Envelope::<Chat>::from_json(body).unwrap()
    }

    #[test]
    fn tolerates_nulls_missing_and_extra_fields() {
        let body = r#"{"Code":"2000","Data":[{"chat_id":"c","extra":1},
            {"chat_id":"d","messages":[{"content":null,"sender_type":"\u7528\u6237"}]}],
            "Msg":"ok","New":{"x":[1]}}"#;
        let env = parse(body);
        assert_eq!(env.code(), Some(2000));
        assert_eq!(env.chats().len(), 2);
        assert!(env.chats()[0].messages().is_empty());
        let m = &env.chats()[1].messages()[0];
        assert_eq!(m.sender_type.as_str(), "用户");
        assert_eq!(m.content, Field::Absent);
        assert_eq!(env.unusable(), None);

        let env = parse(r#"{"Code":2000,"Data":null}"#);
        assert!(env.chats().is_empty());
        assert_eq!(env.unusable(), None);
    }

    /// Any JSON value in a documented field: strings as text (unescaped),
    /// null as nothing, anything else as its JSON text without whitespace.
    #[test]
    fn documented_fields_take_any_json_value() {
        let body = r#"{"Code":2000,"Data":[{"chat_id":12,"messages":[
            {"content":{"url": "a b",
                        "w":640},"message_type":1,"sender_type":true},
            {"content":[1, "x\"y" ,null],"message_type":-2.50e3,"sender_type":false},
            {"content":"tab\there \"q\"","message_type":null}]}],"Msg":7,"RequestId":{"a":1}}"#;
        let env = parse(body);
        let chat = &env.chats()[0];
        assert_eq!(chat.chat_id, Field::Json("12".into()));
        let m = chat.messages();
        assert_eq!(m[0].content.as_str(), r#"{"url":"a b","w":640}"#);
        assert_eq!(m[0].message_type.as_str(), "1");
        assert_eq!(m[0].sender_type.as_str(), "true");
        assert_eq!(m[1].content.as_str(), r#"[1,"x\"y",null]"#);
        // Numbers keep the text they came as.
        assert_eq!(m[1].message_type.as_str(), "-2.50e3");
        assert_eq!(m[1].sender_type.as_str(), "false");
        assert_eq!(m[2].content, Field::Text("tab\there \"q\"".into()));
        assert_eq!(m[2].message_type, Field::Absent);
        assert!(m[0].content.is_unexpected() && !m[2].content.is_unexpected());
        assert_eq!(env.msg.as_str(), "7");
        assert_eq!(env.unusable(), None);
    }

    #[test]
    fn undocumented_fields_are_kept_in_order() {
        let body = r#"{"Code":2000,"Data":[{"z_first":"1","chat_id":"c","create_time": 17,
            "messages":[{"time":"1715665855","content":"hi","msg_id":"m1","a":{"b": [1, 2]}}]}]}"#;
        let env = parse(body);
        let chat = &env.chats()[0];
        let names = |e: &Extra| {
            e.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&chat.extra), ["z_first=\"1\"", "create_time=17"]);
        assert_eq!(
            names(&chat.messages()[0].extra),
            ["time=\"1715665855\"", "msg_id=\"m1\"", "a={\"b\":[1,2]}"]
        );
    }

    /// Unusable shapes are recorded, the rest of the body is still read
    /// (the `Code` after them counts).
    #[test]
    fn unusable_shapes_are_named() {
        let cases = [
            (
                r#"{"Data":{"chat_id":"c"},"Code":2000}"#,
                "Data is an object, not a list of chats",
            ),
            (
                r#"{"Code":2000,"Data":[{"messages":[]},{"messages":"hi"}]}"#,
                "Data[1].messages is a string, not a list of messages",
            ),
            (
                r#"{"Code":2000,"Data":[{"messages":[{},7,{}]}]}"#,
                "Data[0].messages[1] is a number, not a message object",
            ),
            (
                r#"{"Code":2000,"Data":[["x"],{}]}"#,
                "Data[0] is a list, not a chat object",
            ),
        ];
        for (body, want) in cases {
            let env = parse(body);
            assert_eq!(env.code(), Some(2000), "{body}");
            assert_eq!(env.unusable().as_deref(), Some(want), "{body}");
            assert!(env.chats().iter().all(|c| c.messages().is_empty()));
        }
        // Still JSON: a body cut inside an unusable part is not parsed.
        assert!(Envelope::<Chat>::from_json(r#"{"Code":2000,"Data":{"a":[1,"#).is_err());
    }

    #[test]
    fn compact_keeps_strings_intact() {
        assert_eq!(compact("{ \"a b\" : [ 1 ,\n 2 ] }"), "{\"a b\":[1,2]}");
        assert_eq!(compact(r#"[ "x\" y" , "\\" , 1 ]"#), r#"["x\" y","\\",1]"#);
        assert!(matches!(compact("[1,2]"), Cow::Borrowed(_)));
        assert!(matches!(compact("\"a b\""), Cow::Borrowed(_)));
    }
}

#[cfg(test)]
mod borrow_tests {
    use super::*;
    use std::borrow::Cow;

    /// Strings without escapes are borrowed from the body, not copied: a
    /// large answer is not held twice.
    #[test]
    fn unescaped_strings_are_borrowed() {
        let body = "{\"Code\":2000,\"Data\":[{\"chat_id\":\"c\",\"messages\":[{\"content\":\"聚聚\",\"message_type\":\"a\",\"sender_type\":\"b\",\"time\":\"1\"}]}]}";
        let env = Envelope::<Chat>::from_json(body).unwrap();
        let m = &env.chats()[0].messages()[0];
        assert!(
            matches!(m.content, Field::Text(Cow::Borrowed(_))),
            "{:?}",
            m.content
        );
        assert!(matches!(
            env.chats()[0].chat_id,
            Field::Text(Cow::Borrowed(_))
        ));
        assert!(matches!(m.extra[0], (Cow::Borrowed(_), Cow::Borrowed(_))));
    }

    #[test]
    fn codes_are_integers_or_strings_holding_one() {
        let code = |c: &str| {
            let body = format!(r#"{{"Code":{c},"Data":null}}"#);
            let env = Envelope::<Chat>::from_json(&body).unwrap();
            (env.code(), env.code.is_some(), env.code_text().into_owned())
        };
        assert_eq!(code("2000"), (Some(2000), true, "2000".into()));
        assert_eq!(
            code(r#"" 4001 ""#),
            (Some(4001), true, r#"" 4001 ""#.into())
        );
        assert_eq!(code("-3"), (Some(-3), true, "-3".into()));
        assert_eq!(code("2000.5"), (None, true, "2000.5".into()));
        assert_eq!(code(r#""abc""#), (None, true, r#""abc""#.into()));
        assert_eq!(
            code(r#"{"a": [1, 2]}"#),
            (None, true, r#"{"a":[1,2]}"#.into())
        );
        assert_eq!(code("null"), (None, false, String::new()));
    }

    /// Both modes read documented bodies alike; the fast one refuses any
    /// other type or shape, which `from_json` then reads exactly.
    #[test]
    fn fast_mode_defers_other_types_and_shapes_to_the_exact_read() {
        let plain = r#"{"Code":2000,"Msg":null,"Data":[{"chat_id":"c","messages":[{"content":"a\"b","message_type":null,"x":1}]},{"chat_id":"d","messages":null}]}"#;
        let fast = Envelope::<Chat>::read(plain, Mode::Fast).unwrap();
        let exact = Envelope::<Chat>::read(plain, Mode::Exact).unwrap();
        for env in [&fast, &exact] {
            assert_eq!(env.chats().len(), 2);
            let m = &env.chats()[0].messages()[0];
            assert_eq!(m.content.as_str(), "a\"b");
            assert_eq!(m.message_type, Field::Absent);
            assert_eq!(m.extra, vec![("x".into(), "1".into())]);
            assert!(env.chats()[1].messages().is_empty());
        }
        let odd = [
            (
                r#"{"Code":2000,"Data":[{"chat_id":"c","messages":[{"content":[1, 2]}]}]}"#,
                "[1,2]",
            ),
            (
                r#"{"Code":2000,"Data":[{"chat_id":7,"messages":[{"content":"x"}]}]}"#,
                "x",
            ),
        ];
        for (body, content) in odd {
            assert!(Envelope::<Chat>::read(body, Mode::Fast).is_err(), "{body}");
            let env = Envelope::<Chat>::from_json(body).unwrap();
            assert_eq!(env.chats()[0].messages()[0].content.as_str(), content);
        }
        for shape in [
            r#"{"Code":2000,"Data":{"a":1}}"#,
            r#"{"Code":2000,"Data":[{"chat_id":"c","messages":"none"}]}"#,
            r#"{"Code":2000,"Data":[{"chat_id":"c","messages":[1]}]}"#,
        ] {
            assert!(
                Envelope::<Chat>::read(shape, Mode::Fast).is_err(),
                "{shape}"
            );
            let env = Envelope::<Chat>::from_json(shape).unwrap();
            assert!(env.unusable().is_some(), "{shape}");
        }
        assert!(Envelope::<Chat>::from_json(r#"{"Code":2000,"Data":[}"#).is_err());
    }
}
