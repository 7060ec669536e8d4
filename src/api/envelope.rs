//! The envelope every answer of the platform comes in: `Code`, `Msg`,
//! `RequestId` and `Data`, a list of the endpoint's items, read tolerantly
//! (see [`super::json`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::json::compact;
pub use super::json::Field;
use super::json::{names, FieldSeed, FromMap, JsonType, Key, KeySeed, List, ListSeed, Mode, Names};

/// The `Code` of a successful answer.
pub const CODE_OK: i64 = 2000;

names!(EnvelopeNames: "Code" => 0, "Msg" => 1, "RequestId" => 2, "Data" => 3);

/// An item of an endpoint's `Data`: read from an object, and able to say
/// where it holds a list of a shape no row can come from.
pub trait Item<'de>: FromMap<'de> {
    /// What one item is called in messages ("chat").
    const NAME: &'static str;
    /// The `Code`s that mean success for this endpoint.
    const SUCCESS: &'static [i64] = &[CODE_OK];

    /// Where item number `i` holds an unusable list, described.
    fn unusable_inside(&self, _i: usize) -> Option<String> {
        None
    }
}

/// The outer object of every answer: `{"Code", "Data", "Msg",
/// "RequestId"}`, with `Data` a list of the endpoint's items `T`.
#[derive(Debug)]
pub struct Envelope<'a, T> {
    /// Business status, as its JSON text (null is none); 2000 is success.
    /// See [`Envelope::code`]. (Borrowed: a `serde_json::Value` would make
    /// every envelope twice as long to move.)
    pub code: Option<&'a RawValue>,
    /// Human-readable status, e.g. "成功".
    pub msg: Field<'a>,
    /// The platform's request id, useful when asking its support.
    pub request_id: Field<'a>,
    /// The items of `Data`; `null` or absent means none.
    pub data: List<T>,
    /// Read in [`Mode::Fast`]: every documented field a string or null,
    /// every list a list of objects (nothing to look for but extra fields).
    pub as_documented: bool,
}

impl<T> Default for Envelope<'_, T> {
    fn default() -> Self {
        Envelope {
            code: None,
            msg: Field::default(),
            request_id: Field::default(),
            data: List::default(),
            as_documented: false,
        }
    }
}

/// Reads an [`Envelope`] in a [`Mode`].
struct EnvelopeSeed<T>(Mode, PhantomData<T>);

impl<'de, T: FromMap<'de>> DeserializeSeed<'de> for EnvelopeSeed<T> {
    type Value = Envelope<'de, T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope<'de, T>, D::Error> {
        struct V<T>(Mode, PhantomData<T>);
        impl<'de, T: FromMap<'de>> Visitor<'de> for V<T> {
            type Value = Envelope<'de, T>;
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
        d.deserialize_map(V(self.0, PhantomData))
    }
}

impl<'a, T: FromMap<'a>> Envelope<'a, T> {
    /// Read a body: in one pass when it is as documented, in a second,
    /// exact one when the first met a value of another type. (A body that
    /// is not JSON fails both; the exact pass's error is the one kept.)
    pub fn from_json(text: &'a str) -> Result<Envelope<'a, T>, serde_json::Error> {
        Envelope::read(text, Mode::Fast).or_else(|_| Envelope::read(text, Mode::Exact))
    }

    /// Read a body in one mode.
    pub fn read(text: &'a str, mode: Mode) -> Result<Envelope<'a, T>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let envelope = EnvelopeSeed(mode, PhantomData).deserialize(&mut de)?;
        de.end()?;
        Ok(envelope)
    }
}

impl<T> Envelope<'_, T> {
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
}

impl<'a, T: Item<'a>> Envelope<'a, T> {
    /// Where the answer has a shape no row can come from, described for
    /// the failed file (names and JSON types only, no server text).
    pub fn unusable(&self) -> Option<String> {
        if self.as_documented {
            return None;
        }
        match &self.data {
            List::Unusable(shape) => Some(shape.describe("Data", T::NAME)),
            List::Items(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| item.unusable_inside(i)),
        }
    }

    /// Whether `Code` says success for this endpoint.
    pub fn is_success(&self) -> bool {
        self.code().is_some_and(|code| T::SUCCESS.contains(&code))
    }
}
