//! The contact list, `POST /v1/openapi/contacts`: the platform's external
//! contacts, each `{id, name, mobile, email}`, whose `id` is the
//! `customer_id` the chat-record endpoint takes. One request lists them
//! all (no paging is documented), narrowed by a list of filters
//! ([`ContactFilter`]). Success is `Code` 0 here, and 2000 as elsewhere.

use std::fmt;

use serde::de::MapAccess;

use super::endpoint::{Endpoint, Method, Request};
use super::envelope::{Envelope, Item, CODE_OK};
use super::json::{
    extra_value, names, Extra, Field, FieldSeed, FromMap, Key, KeySeed, Mode, Names,
};

names!(ContactNames: "id" => 0, "name" => 1, "mobile" => 2, "email" => 3);

/// `POST /v1/openapi/contacts`.
pub const ENDPOINT: Endpoint = Endpoint {
    method: Method::Post,
    path: "/v1/openapi/contacts",
};

/// One contact. `mobile` and `email` are the platform's customers'
/// personal data.
#[derive(Debug, Default)]
pub struct Contact<'a> {
    pub id: Field<'a>,
    pub name: Field<'a>,
    pub mobile: Field<'a>,
    pub email: Field<'a>,
    /// The contact's other fields, in the order received.
    pub extra: Extra<'a>,
}

impl<'de> FromMap<'de> for Contact<'de> {
    fn from_map<A: MapAccess<'de>>(mut map: A, mode: Mode) -> Result<Self, A::Error> {
        let mut c = Contact::default();
        while let Some(key) = map.next_key_seed(KeySeed::<ContactNames>::new())? {
            match key {
                Key::Known(0) => c.id = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(1) => c.name = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(2) => c.mobile = map.next_value_seed(FieldSeed(mode))?,
                Key::Known(_) => c.email = map.next_value_seed(FieldSeed(mode))?,
                Key::Other(key) => {
                    let value = extra_value(&mut map)?;
                    c.extra.push((key, value));
                }
            }
        }
        Ok(c)
    }
}

impl<'de> Item<'de> for Contact<'de> {
    const NAME: &'static str = "contact";
    const SUCCESS: &'static [i64] = &[0, CODE_OK];
}

/// The contact list's envelope.
pub type ContactAnswer<'a> = Envelope<'a, Contact<'a>>;

impl ContactAnswer<'_> {
    /// The contacts (none when `Data` is unusable).
    pub fn contacts(&self) -> &[Contact<'_>] {
        self.data.items()
    }
}

/// One condition of the list's `filter`: `FIELD:CONDITION:VALUE` on the
/// command line (`name:equal:访客290`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactFilter {
    pub filter_key: String,
    pub filter_condition: String,
    pub filter_value: String,
}

impl ContactFilter {
    /// Parse `FIELD:CONDITION:VALUE`; the value may hold colons.
    pub fn parse(text: &str) -> Result<ContactFilter, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(key), Some(condition), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{text:?} is not FIELD:CONDITION:VALUE (such as name:equal:访客290)"
            ));
        };
        let word =
            |w: &str| !w.is_empty() && !w.chars().any(|c| c.is_whitespace() || c.is_control());
        if !word(key) || !word(condition) {
            return Err(format!(
                "{text:?}: the field and the condition are single words (such as name:equal:访客290)"
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{text:?}: the value holds a control character"));
        }
        Ok(ContactFilter {
            filter_key: key.to_string(),
            filter_condition: condition.to_string(),
            filter_value: value.to_string(),
        })
    }
}

impl fmt::Display for ContactFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.filter_key, self.filter_condition, self.filter_value
        )
    }
}

/// The one request of the list: `{"filter": [...]}`, empty without
/// filters (every contact).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub filters: Vec<ContactFilter>,
}

impl Request for ListRequest {
    fn endpoint(&self) -> Endpoint {
        ENDPOINT
    }

    /// The list takes no item: the body is the filters.
    fn body(&self, _item: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "filter": self.filters }))
            .expect("the filter list always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_field_condition_value() {
        let f = ContactFilter::parse("name:equal:访客290").unwrap();
        assert_eq!(f.filter_key, "name");
        assert_eq!(f.filter_condition, "equal");
        assert_eq!(f.filter_value, "访客290");
        assert_eq!(f.to_string(), "name:equal:访客290");
        let f = ContactFilter::parse("note:equal:a:b").unwrap();
        assert_eq!(f.filter_value, "a:b");
        assert_eq!(
            ContactFilter::parse("mobile:equal:").unwrap().filter_value,
            ""
        );
        for bad in ["name", "name:equal", ":equal:x", "na me:equal:x", "name::x"] {
            assert!(ContactFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_body_is_the_documented_filter_list() {
        let empty = ListRequest::default().body("ignored");
        assert_eq!(empty, br#"{"filter":[]}"#);
        let one = ListRequest {
            filters: vec![ContactFilter::parse("name:equal:访客290").unwrap()],
        };
        let body: serde_json::Value = serde_json::from_slice(&one.body("")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"filter": [{"filter_key": "name",
                "filter_condition": "equal", "filter_value": "访客290"}]})
        );
    }

    #[test]
    fn both_success_codes_and_any_shape_of_contact_are_read() {
        for code in ["0", "2000", "\"0\""] {
            let body = format!(
                r#"{{"Code":{code},"Data":[{{"email":null,"id":"a1","mobile":"138","name":"n",
                "create_time":1715665855}}],"Msg":"ok"}}"#
            );
            let env = ContactAnswer::from_json(&body).unwrap();
            assert!(env.is_success(), "{code}");
            let c = &env.contacts()[0];
            assert_eq!(
                (c.id.as_str(), c.name.as_str(), c.email.as_str()),
                ("a1", "n", "")
            );
            assert_eq!(c.extra.len(), 1);
            assert_eq!(c.extra[0].0, "create_time");
        }
        let env = ContactAnswer::from_json(r#"{"Code":4000,"Data":null,"Msg":"x"}"#).unwrap();
        assert!(!env.is_success() && env.contacts().is_empty());
    }
}
