//! The response body of `POST /v1/openapi/chat/record`, borrowed from the
//! raw bytes wherever no JSON escape forces a copy.
//!
//! Tolerant by contract, and beyond it, because real answers drift from the
//! documentation (API.md, "What is not known"):
//! - `Data: null`, missing `messages`, missing or null fields are empty;
//! - the documented fields (`chat_id`, `content`, `message_type`,
//!   `sender_type`, and `Msg`, `RequestId`) take any JSON value: a string is
//!   kept as text, anything else as its JSON text ([`Field`]);
//! - the fields the documentation does not name are kept, in the order
//!   received, as name and JSON text ([`Extra`]);
//! - a list that is not a list (`Data` an object, `messages` a string) or an
//!   element that is not an object does not fail the parse: it is recorded
//!   as a [`Shape`], and the answer is refused as a whole afterwards (a
//!   well-formed body is read to its end, so its `Code` is always seen).
//!
//! Everything is deserialised by hand-written visitors rather than derived:
//! that is what keeps the undocumented fields in their order, and what lets
//! a string be borrowed while any other value keeps its text as received
//! (through serde_json's [`RawValue`]).
//!
//! [`Envelope::from_json`] reads a body in one pass when it is as
//! documented ([`Mode::Fast`]: each value is asked for as the type the
//! documentation gives, as cheap as a derived, string-only parse). The
//! first value of another type ends that pass with an error, and the body
//! is read again, capturing every documented field's JSON text and every
//! list's shape ([`Mode::Exact`]): that costs a scan per field, which the
//! common case should not pay.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The `Code` of a successful answer.
pub const CODE_OK: i64 = 2000;

/// A key of an object: which of the documented names it is, or any other
/// name, borrowed from the body when it holds no escapes. (Matched while
/// it is read, as a derived `Deserialize` does, rather than read as a
/// string and then compared.)
enum Key<'a> {
    /// The position of the name in the object's [`Names`].
    Known(u8),
    Other(Cow<'a, str>),
}

/// The documented names of an object's fields.
trait Names {
    /// The position of `name` among them.
    fn index(name: &str) -> Option<u8>;
}

/// Reads a [`Key`] of an object whose documented names are `N`.
struct KeySeed<N>(PhantomData<N>);

impl<N> KeySeed<N> {
    fn new() -> Self {
        KeySeed(PhantomData)
    }
}

impl<'de, N: Names> DeserializeSeed<'de> for KeySeed<N> {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, N: Names> Visitor<'de> for KeySeed<N> {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(N::index(v).map_or(Key::Other(Cow::Borrowed(v)), Key::Known))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(N::index(v).map_or_else(|| Key::Other(Cow::Owned(v.to_string())), Key::Known))
    }
}

/// Defines a [`Names`] type matching its names with a `match`.
macro_rules! names {
    ($type:ident: $($name:literal => $i:literal),+) => {
        struct $type;
        impl Names for $type {
            fn index(name: &str) -> Option<u8> {
                match name {
                    $($name => Some($i),)+
                    _ => None,
                }
            }
        }
    };
}

names!(EnvelopeNames: "Code" => 0, "Msg" => 1, "RequestId" => 2, "Data" => 3);
names!(ChatNames: "chat_id" => 0, "messages" => 1);
names!(MessageNames: "content" => 0, "message_type" => 1, "sender_type" => 2);

/// The JSON type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonType {
    Null,
    Bool,
    Number,
    String,
    List,
    Object,
}

impl JsonType {
    /// The type of a JSON text, from its first byte (no leading whitespace).
    fn of(json: &str) -> JsonType {
        match json.as_bytes().first() {
            Some(b'"') => JsonType::String,
            Some(b'{') => JsonType::Object,
            Some(b'[') => JsonType::List,
            Some(b't' | b'f') => JsonType::Bool,
            Some(b'n') | None => JsonType::Null,
            Some(_) => JsonType::Number,
        }
    }

    /// "an object", "a string", ... for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::List => "a list",
            JsonType::Object => "an object",
        }
    }
}

/// How a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only as documented: a documented field is a string or null, a list
    /// is a list of objects or null; anything else is an error.
    Fast,
    /// Any JSON value in a documented field, with its JSON text
    /// ([`RawValue`]); a list that is not one is recorded as a [`Shape`].
    Exact,
}

/// A documented field's value, whatever JSON type came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<'a> {
    /// `null`, or the field was not there.
    #[default]
    Absent,
    /// A JSON string, unescaped; borrowed from the body when it held no
    /// escape.
    Text(Cow<'a, str>),
    /// Any other JSON value (object, list, number, boolean): its JSON text
    /// as received, with the whitespace between tokens removed.
    Json(Cow<'a, str>),
}

impl<'a> Field<'a> {
    /// The text written to the output: a string as it is, any other value
    /// as its JSON text, nothing for null or absent.
    pub fn as_str(&self) -> &str {
        match self {
            Field::Absent => "",
            Field::Text(t) | Field::Json(t) => t,
        }
    }

    /// Whether the value was of a type the documentation does not give
    /// (not a string, not null).
    pub fn is_unexpected(&self) -> bool {
        matches!(self, Field::Json(_))
    }

    /// Read a JSON text (a value as serde_json's `RawValue` holds it).
    fn from_json(json: &'a str) -> Result<Field<'a>, serde_json::Error> {
        match JsonType::of(json) {
            JsonType::Null => Ok(Field::Absent),
            JsonType::String => {
                // A JSON string without a backslash is its own content: the
                // raw scan has already checked it (no control characters).
                let inner = json
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .filter(|s| memchr::memchr(b'\\', s.as_bytes()).is_none());
                match inner {
                    Some(s) => Ok(Field::Text(Cow::Borrowed(s))),
                    None => serde_json::from_str::<String>(json).map(|s| Field::Text(s.into())),
                }
            }
            _ => Ok(Field::Json(compact(json))),
        }
    }
}

/// Reads a [`Field`] in a [`Mode`].
struct FieldSeed(Mode);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field<'de>, D::Error> {
        match self.0 {
            Mode::Fast => d.deserialize_any(FastField),
            Mode::Exact => {
                let raw = <&'de RawValue>::deserialize(d)?;
                Field::from_json(raw.get()).map_err(D::Error::custom)
            }
        }
    }
}

/// [`Mode::Fast`]: a string, borrowed when it can be, or null (absent);
/// any other type is an error (serde's default for the other `visit_*`).
/// (`deserialize_any` rather than `deserialize_option` and then
/// `deserialize_str`: one look at the value instead of two.)
struct FastField;

impl<'de> Visitor<'de> for FastField {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Field<'de>, E> {
        Ok(Field::Absent)
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Owned(v.to_string())))
    }
}

/// A JSON text without the whitespace between its tokens (so that it fits
/// on one line); borrowed when there was none.
fn compact(json: &str) -> Cow<'_, str> {
    let spaced = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    // Strings hold no raw line breaks, and their spaces are kept.
    if JsonType::of(json) == JsonType::String || !json.bytes().any(spaced) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !(c.is_ascii() && spaced(c as u8)) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Fields the documentation does not name, in the order received: the
/// name and the value's JSON text (compact).
pub type Extra<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Read the next value of `map` as an undocumented field.
fn extra_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Cow<'de, str>, A::Error> {
    let raw: &'de RawValue = map.next_value()?;
    Ok(compact(raw.get()))
}

/// Where a list the contract promises was not one, or held an element
/// that is not an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The JSON type that came instead.
    pub found: JsonType,
    /// The position of the element that is not an object; `None` when the
    /// list itself is not a list.
    pub element: Option<usize>,
}

/// A list of objects, as the contract promises, or where it was not.
#[derive(Debug)]
pub enum List<T> {
    /// `null` and absent are empty lists.
    Items(Vec<T>),
    /// Not a list, or an element not an object: the answer is unusable.
    Unusable(Shape),
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List::Items(Vec::new())
    }
}

impl<T> List<T> {
    /// The items; none when the list is unusable.
    pub fn items(&self) -> &[T] {
        match self {
            List::Items(v) => v,
            List::Unusable(_) => &[],
        }
    }
}

/// An object read from a serde map, field by field, in a [`Mode`].
trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A, mode: Mode) -> Result<Self, A::Error>;
}

/// Reads a [`List`] of `T` in a [`Mode`].
struct ListSeed<T>(Mode, PhantomData<T>);

impl<T> ListSeed<T> {
    fn new(mode: Mode) -> Self {
        ListSeed(mode, PhantomData)
    }
}

impl<'de, T: FromMap<'de>> DeserializeSeed<'de> for ListSeed<T> {
    type Value = List<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
        d.deserialize_any(ListVisitor::<T>(self.0, PhantomData))
    }
}

/// A value of a type a list's visitor does not expect: in [`Mode::Exact`]
/// its shape (`$shape(t)` for type `t`), in [`Mode::Fast`] an error that
/// sends the body to the exact read.
macro_rules! unexpected {
    ($self:ident, $found:expr, $shape:expr) => {
        match $self.0 {
            Mode::Fast => Err(serde::de::Error::custom(format_args!(
                "{} where the documentation gives a list of objects",
                $found.with_article()
            ))),
            Mode::Exact => Ok($shape($found)),
        }
    };
}

/// Implements the `visit_*` of scalars for a list's visitor whose value
/// for a scalar of type `t` is `$shape(t)`.
macro_rules! scalars_are {
    ($shape:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            unexpected!(self, JsonType::Bool, $shape)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            unexpected!(self, JsonType::Number, $shape)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            unexpected!(self, JsonType::Number, $shape)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            unexpected!(self, JsonType::Number, $shape)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            unexpected!(self, JsonType::String, $shape)
        }
    };
}

struct ListVisitor<T>(Mode, PhantomData<T>);

impl<'de, T: FromMap<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(List::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        let mut i = 0;
        while let Some(item) = seq.next_element_seed(Element::<T>(self.0, PhantomData))? {
            match item {
                Ok(item) => items.push(item),
                Err(found) => {
                    // Read the rest (the body must still be well-formed
                    // JSON, and its `Code` still counts), keep nothing.
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(List::Unusable(Shape {
                        found,
                        element: Some(i),
                    }));
                }
            }
            i += 1;
        }
        Ok(List::Items(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let shape = unexpected!(self, JsonType::Object, |found| List::Unusable(Shape {
            found,
            element: None,
        }))?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(shape)
    }

    scalars_are!(|found| List::Unusable(Shape {
        found,
        element: None
    }));
}

/// One element of a [`List`]: the object, or the type that came instead.
struct Element<T>(Mode, PhantomData<T>);

impl<'de, T: FromMap<'de>> DeserializeSeed<'de> for Element<T> {
    type Value = Result<T, JsonType>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: FromMap<'de>> Visitor<'de> for Element<T> {
    type Value = Result<T, JsonType>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map, self.0).map(Ok)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let shape = unexpected!(self, JsonType::List, Err)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(shape)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        unexpected!(self, JsonType::Null, Err)
    }

    scalars_are!(Err);
}

/// The outer object: `{"Code", "Data", "Msg", "RequestId"}`.
#[derive(Debug, Default)]
pub struct Envelope<'a> {
    /// Business status, as its JSON text (null is none); 2000 is success.
    /// See [`Envelope::code`]. (Borrowed: a `serde_json::Value` would make
    /// every envelope twice as long to move.)
    pub code: Option<&'a RawValue>,
    /// Human-readable status, e.g. "成功".
    pub msg: Field<'a>,
    /// The platform's request id, useful when asking its support.
    pub request_id: Field<'a>,
    /// The chats; `null` or absent means none.
    pub data: List<Chat<'a>>,
    /// Read in [`Mode::Fast`]: every documented field a string or null,
    /// every list a list of objects (nothing to look for but extra fields).
    pub as_documented: bool,
}

/// Reads an [`Envelope`] in a [`Mode`].
struct EnvelopeSeed(Mode);

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope<'de>, D::Error> {
        struct V(Mode);
        impl<'de> Visitor<'de> for V {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the answer object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Envelope {
                    as_documented: self.0 == Mode::Fast,
                    ..Envelope::default()
                };
                while let Some(key) = map.next_key_seed(KeySeed::<EnvelopeNames>::new())? {
                    match key {
                        Key::Known(0) => {
                            let raw: &'de RawValue = map.next_value()?;
                            env.code = Some(raw).filter(|r| r.get() != "null");
                        }
                        Key::Known(1) => env.msg = map.next_value_seed(FieldSeed(self.0))?,
                        Key::Known(2) => env.request_id = map.next_value_seed(FieldSeed(self.0))?,
                        Key::Known(_) => env.data = map.next_value_seed(ListSeed::new(self.0))?,
                        Key::Other(_) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(V(self.0))
    }
}

impl<'a> Envelope<'a> {
    /// Read a body: in one pass when it is as documented, in a second,
    /// exact one when the first met a value of another type. (A body that
    /// is not JSON fails both; the exact pass's error is the one kept.)
    pub fn from_json(text: &'a str) -> Result<Envelope<'a>, serde_json::Error> {
        Envelope::read(text, Mode::Fast).or_else(|_| Envelope::read(text, Mode::Exact))
    }

    /// Read a body in one mode.
    pub fn read(text: &'a str, mode: Mode) -> Result<Envelope<'a>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let envelope = EnvelopeSeed(mode).deserialize(&mut de)?;
        de.end()?;
        Ok(envelope)
    }
}

impl Envelope<'_> {
    /// The code as an integer, if it is one: a JSON integer, or a string
    /// holding one.
    pub fn code(&self) -> Option<i64> {
        let raw = self.code?.get();
        match JsonType::of(raw) {
            JsonType::Number => raw.parse().ok(),
            JsonType::String => serde_json::from_str::<Cow<str>>(raw)
                .ok()?
                .trim()
                .parse()
                .ok(),
            _ => None,
        }
    }

    /// The code's JSON text, compact, for messages ("" when there is none).
    pub fn code_text(&self) -> Cow<'_, str> {
        self.code
            .map_or(Cow::Borrowed(""), |raw| compact(raw.get()))
    }

    /// The chats (none when `Data` is unusable).
    pub fn chats(&self) -> &[Chat<'_>] {
        self.data.items()
    }

    /// Where the answer has a shape no row can come from, described for
    /// the failed file (names and JSON types only, no server text).
    pub fn unusable(&self) -> Option<String> {
        if self.as_documented {
            return None;
        }
        let describe = |path: String, shape: Shape, what: &str| match shape.element {
            None => format!(
                "{path} is {}, not a list of {what}s",
                shape.found.with_article()
            ),
            Some(i) => format!(
                "{path}[{i}] is {}, not a {what} object",
                shape.found.with_article()
            ),
        };
        let chats = match &self.data {
            List::Unusable(shape) => return Some(describe("Data".into(), *shape, "chat")),
            List::Items(chats) => chats,
        };
        chats
            .iter()
            .enumerate()
            .find_map(|(i, chat)| match &chat.messages {
                List::Unusable(shape) => {
                    Some(describe(format!("Data[{i}].messages"), *shape, "message"))
                }
                List::Items(_) => None,
            })
    }
}

/// One chat: an id and its messages in order.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Envelope<'_> {
        Envelope::from_json(body).unwrap()
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
        assert!(Envelope::from_json(r#"{"Code":2000,"Data":{"a":[1,"#).is_err());
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

    /// Strings without escapes are borrowed from the body, not copied: a
    /// large answer is not held twice.
    #[test]
    fn unescaped_strings_are_borrowed() {
        let body = "{\"Code\":2000,\"Data\":[{\"chat_id\":\"c\",\"messages\":[{\"content\":\"聚聚\",\"message_type\":\"a\",\"sender_type\":\"b\",\"time\":\"1\"}]}]}";
        let env = Envelope::from_json(body).unwrap();
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
            let env = Envelope::from_json(&body).unwrap();
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
        let fast = Envelope::read(plain, Mode::Fast).unwrap();
        let exact = Envelope::read(plain, Mode::Exact).unwrap();
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
            assert!(Envelope::read(body, Mode::Fast).is_err(), "{body}");
            let env = Envelope::from_json(body).unwrap();
            assert_eq!(env.chats()[0].messages()[0].content.as_str(), content);
        }
        for shape in [
            r#"{"Code":2000,"Data":{"a":1}}"#,
            r#"{"Code":2000,"Data":[{"chat_id":"c","messages":"none"}]}"#,
            r#"{"Code":2000,"Data":[{"chat_id":"c","messages":[1]}]}"#,
        ] {
            assert!(Envelope::read(shape, Mode::Fast).is_err(), "{shape}");
            let env = Envelope::from_json(shape).unwrap();
            assert!(env.unusable().is_some(), "{shape}");
        }
        assert!(Envelope::from_json(r#"{"Code":2000,"Data":[}"#).is_err());
    }
}
