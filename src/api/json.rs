//! Tolerant JSON reading, whatever the endpoint: the answers of the
//! platform drift from its documentation (API.md, "What is not known"), so
//! its bodies are read by hand-written serde visitors rather than derived:
//!
//! - `null`, a missing list or a missing field is empty;
//! - a documented field takes any JSON value: a string is kept as text,
//!   anything else as its JSON text ([`Field`]);
//! - the fields the documentation does not name are kept, in the order
//!   received, as name and JSON text ([`Extra`]);
//! - a list that is not a list, or an element that is not an object, does
//!   not fail the parse: it is recorded as a [`Shape`] ([`List`]).
//!
//! A body is read in one pass when it is as documented ([`Mode::Fast`]:
//! each value asked for as the documented type, as cheap as a derived,
//! string-only parse), and again, capturing every field's JSON text and
//! every list's shape, when that pass meets another type ([`Mode::Exact`]).
//! Strings without escapes are borrowed from the body.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A key of an object: which of the documented names it is, or any other
/// name, borrowed from the body when it holds no escapes. (Matched while
/// it is read, as a derived `Deserialize` does, rather than read as a
/// string and then compared.)
pub(crate) enum Key<'a> {
    /// The position of the name in the object's [`Names`].
    Known(u8),
    Other(Cow<'a, str>),
}

/// The documented names of an object's fields.
pub(crate) trait Names {
    /// The position of `name` among them.
    fn index(name: &str) -> Option<u8>;
}

/// Reads a [`Key`] of an object whose documented names are `N`.
pub(crate) struct KeySeed<N>(PhantomData<N>);

impl<N> KeySeed<N> {
    pub(crate) fn new() -> Self {
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
    pub(crate) fn of(json: &str) -> JsonType {
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
pub(crate) struct FieldSeed(pub(crate) Mode);

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
pub(crate) fn compact(json: &str) -> Cow<'_, str> {
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
pub(crate) fn extra_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Cow<'de, str>, A::Error> {
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

impl Shape {
    /// The shape of the list at `path` (of `what` objects), for the failed
    /// file: names and JSON types only, no server text.
    pub fn describe(&self, path: &str, what: &str) -> String {
        match self.element {
            None => format!(
                "{path} is {}, not a list of {what}s",
                self.found.with_article()
            ),
            Some(i) => format!(
                "{path}[{i}] is {}, not a {what} object",
                self.found.with_article()
            ),
        }
    }
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
pub trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A, mode: Mode) -> Result<Self, A::Error>;
}

/// Reads a [`List`] of `T` in a [`Mode`].
pub(crate) struct ListSeed<T>(Mode, PhantomData<T>);

impl<T> ListSeed<T> {
    pub(crate) fn new(mode: Mode) -> Self {
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

pub(crate) use names;
