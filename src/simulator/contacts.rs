//! The simulator's contact list, `POST /v1/openapi/contacts`: its
//! customers as the platform's external contacts (`Code` 0), `equal`
//! filters on `name` and `mobile` honoured, any other filter answered
//! `Code` 4000. [`ContactsMode`] makes the list misbehave as a test needs.

use std::sync::atomic::Ordering::Relaxed;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::data::SplitMix;

/// How the contact list behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ContactsMode {
    /// As documented: every contact, every time.
    #[default]
    Normal,
    /// The first two calls answer 503; the third answers.
    Flaky,
    /// No contact at all.
    Empty,
    /// Every contact carries fields the documentation does not name.
    Undocumented,
    /// From the second call on, the first half of the list is replaced by
    /// other contacts.
    Changing,
    /// From the second call on, only the first third of the list is left.
    Shrinking,
}

/// The contact list's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactBook {
    /// Contacts in the list (the customers [`sample_ids`] gives).
    pub count: usize,
    pub mode: ContactsMode,
}

impl Default for ContactBook {
    fn default() -> Self {
        ContactBook {
            count: 50,
            mode: ContactsMode::Normal,
        }
    }
}

/// Sample customer IDs: the documented example first, then 32-hex IDs.
pub fn sample_ids(n: usize) -> Vec<String> {
    let mut rng = SplitMix(2026);
    let mut ids = vec![super::EXAMPLE_CUSTOMER.to_string()];
    while ids.len() < n {
        ids.push(format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()));
    }
    ids.truncate(n);
    ids
}

/// Contact number `i` of the list (0-based, in list order): its id is
/// the `i`-th of `sample_ids` after the documented example, which is no
/// contact (its chats ignore every window).
pub fn contact(i: usize, ids: &[String]) -> Value {
    json!({
        "email": if i.is_multiple_of(3) { Value::Null } else { json!(format!("c{i}@example.com")) },
        "id": ids[i + 1],
        "mobile": format!("138{:08}", i),
        "name": format!("访客{i}"),
    })
}

/// The contacts the list holds at call `call` (0-based), in order.
pub fn contacts_at(book: ContactBook, call: u64) -> Vec<Value> {
    let n = book.count;
    match book.mode {
        ContactsMode::Empty => Vec::new(),
        ContactsMode::Shrinking if call > 0 => {
            let ids = sample_ids(n + 1);
            (0..n / 3).map(|i| contact(i, &ids)).collect()
        }
        ContactsMode::Changing if call > 0 => {
            // The first half is replaced by contacts past the end of the
            // first list.
            let ids = sample_ids(n + n / 2 + 1);
            (n..n + n / 2)
                .chain(n / 2..n)
                .map(|i| contact(i, &ids))
                .collect()
        }
        _ => {
            let ids = sample_ids(n + 1);
            (0..n).map(|i| contact(i, &ids)).collect()
        }
    }
}

/// The IDs of the contacts at call `call`: what an export of the whole
/// list must fetch.
pub fn contact_ids_at(book: ContactBook, call: u64) -> Vec<String> {
    contacts_at(book, call)
        .iter()
        .map(|c| {
            c["id"]
                .as_str()
                .expect("every contact has an id")
                .to_string()
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    filter: Vec<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    filter_key: String,
    filter_condition: String,
    filter_value: String,
}

/// The answer to call `call` of the list with `body`: (status, JSON).
pub fn answer(
    book: ContactBook,
    call: u64,
    body: &[u8],
    calls: &std::sync::atomic::AtomicU64,
) -> (StatusCode, String) {
    calls.fetch_add(1, Relaxed);
    if book.mode == ContactsMode::Flaky && call < 2 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"Code":503,"Msg":"服务暂时不可用"}"#.into(),
        );
    }
    let list: ListBody = match serde_json::from_slice(body) {
        Ok(list) => list,
        Err(e) => return refuse(&format!("参数错误: {e}")),
    };
    let mut contacts = contacts_at(book, call);
    for f in &list.filter {
        if f.filter_condition != "equal" || !["name", "mobile"].contains(&f.filter_key.as_str()) {
            return refuse(&format!(
                "不支持的筛选条件: {} {}",
                f.filter_key, f.filter_condition
            ));
        }
        contacts.retain(|c| c[&f.filter_key] == json!(f.filter_value));
    }
    if book.mode == ContactsMode::Undocumented {
        for (i, c) in contacts.iter_mut().enumerate() {
            c["create_time"] = json!(1_715_665_855 + i as u64);
            c["company"] = Value::Null;
            c["tags"] = json!(["vip"]);
        }
    }
    let body = json!({"Code": 0, "Data": contacts, "Msg": "成功"});
    (StatusCode::OK, body.to_string())
}

fn refuse(msg: &str) -> (StatusCode, String) {
    (
        StatusCode::OK,
        json!({"Code": 4000, "Data": null, "Msg": msg}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_changes_as_its_mode_says() {
        let book = |mode| ContactBook { count: 9, mode };
        let first = contact_ids_at(book(ContactsMode::Normal), 0);
        assert_eq!(first.len(), 9);
        assert_eq!(first, sample_ids(10)[1..]);
        assert_eq!(contact_ids_at(book(ContactsMode::Normal), 5), first);
        assert_eq!(contact_ids_at(book(ContactsMode::Shrinking), 1), first[..3]);
        let changed = contact_ids_at(book(ContactsMode::Changing), 1);
        assert_eq!(changed.len(), 9);
        assert_eq!(changed[4..], first[4..]);
        assert!(changed[..4].iter().all(|id| !first.contains(id)));
        assert!(contact_ids_at(book(ContactsMode::Empty), 0).is_empty());
    }

    #[test]
    fn equal_filters_on_name_and_mobile_are_honoured_and_others_refused() {
        let calls = std::sync::atomic::AtomicU64::new(0);
        let ask = |body: &str| {
            let (status, text) = answer(ContactBook::default(), 0, body.as_bytes(), &calls);
            assert_eq!(status, StatusCode::OK);
            serde_json::from_str::<Value>(&text).unwrap()
        };
        let all = ask(r#"{"filter":[]}"#);
        assert_eq!(all["Code"], 0);
        assert_eq!(all["Data"].as_array().unwrap().len(), 50);
        let one = ask(
            r#"{"filter":[{"filter_key":"name","filter_condition":"equal","filter_value":"访客7"}]}"#,
        );
        assert_eq!(one["Data"][0]["mobile"], "13800000007");
        assert_eq!(one["Data"].as_array().unwrap().len(), 1);
        let bad = ask(
            r#"{"filter":[{"filter_key":"email","filter_condition":"like","filter_value":"x"}]}"#,
        );
        assert_eq!(bad["Code"], 4000);
        assert!(bad["Msg"].as_str().unwrap().contains("email"));
    }
}
