//! The pipelines' second stream, `contacts`, and `all_contacts` as the
//! customers of `chat_messages`: `tap-yuju` and `source-yuju` against the
//! simulator over loopback.

use serde_json::{json, Value};

use yuju_export::simulator::contacts::contact_ids_at;
use yuju_export::simulator::{ContactBook, ContactsMode, Scenario};

use crate::common::*;
use crate::pipeline::{
    config, dated, keyed, messages, run, singer_table, truth, Table, SOURCE, TAP,
};

const BOOK: ContactBook = ContactBook {
    count: 8,
    mode: ContactsMode::Normal,
};

fn platform() -> Sim {
    Sim::start(Scenario {
        contacts: BOOK,
        ..dated()
    })
}

/// A config whose customers are the contact list.
fn all_contacts(wd: &Workdir, sim: &Sim) {
    let path = config(wd, sim, &[], "2026-03-05", json!({"all_contacts": true}));
    let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    c.as_object_mut().unwrap().remove("customer_ids");
    wd.write("config.json", c.to_string());
}

/// `--discover` lists `contacts` unselected, its personal data unselected;
/// selecting the stream alone emits `id`, `name` and `extra` and never
/// `mobile` or `email`; naming `mobile` emits it. `chat_messages` takes
/// its customers from the list.
#[test]
fn a_singer_catalog_selects_the_contacts_and_never_unasked_personal_data() {
    let wd = Workdir::new();
    let sim = platform();
    all_contacts(&wd, &sim);
    let o = run(TAP, &wd, &["--config", "config.json", "--discover"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut catalog: Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = catalog["streams"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["stream"] == "contacts")
        .expect("discover lists contacts");
    assert_eq!(entry["key_properties"], json!(["id"]));
    for m in entry["metadata"].as_array_mut().unwrap() {
        if m["breadcrumb"] == json!([]) {
            assert_eq!(m["metadata"]["selected-by-default"], false);
            m["metadata"]["selected"] = json!(true);
        }
        if m["breadcrumb"] == json!(["properties", "mobile"]) {
            assert_eq!(m["metadata"]["selected-by-default"], false);
        }
    }
    wd.write("catalog.json", catalog.to_string());
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--catalog", "catalog.json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    let contacts: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "contacts")
        .map(|m| &m["record"])
        .collect();
    let ids: Vec<&str> = contacts.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, contact_ids_at(BOOK, 0));
    assert!(contacts
        .iter()
        .all(|r| r.get("mobile").is_none() && r.get("email").is_none()));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("13800000"));
    let schema = msgs
        .iter()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == "contacts")
        .unwrap();
    assert!(schema["schema"]["properties"].get("mobile").is_none());

    let chats = singer_table(
        &msgs
            .iter()
            .filter(|m| m["stream"] == "chat_messages")
            .cloned()
            .collect::<Vec<_>>(),
    );
    wd.ids("ids.txt", &contact_ids_at(BOOK, 0));
    assert_eq!(chats, truth(&wd, &sim, "2026-03-01", "2026-03-05"));
    assert!(
        chats
            .keys()
            .all(|(customer, _, _)| ids.contains(&customer.as_str())),
        "every message joins a contact"
    );

    for m in catalog["streams"][1]["metadata"].as_array_mut().unwrap() {
        if m["breadcrumb"] == json!(["properties", "mobile"]) {
            m["metadata"]["selected"] = json!(true);
        }
    }
    wd.write("catalog.json", catalog.to_string());
    let o = run(
        TAP,
        &wd,
        &["--config", "config.json", "--catalog", "catalog.json"],
    );
    let msgs = messages(&o);
    let first = msgs
        .iter()
        .find(|m| m["stream"] == "contacts" && m["type"] == "RECORD")
        .unwrap();
    assert_eq!(first["record"]["mobile"], "13800000000");
}

/// An Airbyte read of both streams: the contacts with only the
/// configured properties and a stream state, then the chat messages of
/// the contacts; every line a protocol message.
#[test]
fn an_airbyte_read_lists_the_contacts_then_their_chats() {
    let wd = Workdir::new();
    let sim = platform();
    all_contacts(&wd, &sim);
    let o = run(SOURCE, &wd, &["discover", "--config", "config.json"]);
    let catalog = &messages(&o)[0]["catalog"];
    let streams = catalog["streams"].as_array().unwrap();
    let contacts = streams.iter().find(|s| s["name"] == "contacts").unwrap();
    assert_eq!(contacts["supported_sync_modes"], json!(["full_refresh"]));
    assert_eq!(contacts["source_defined_primary_key"], json!([["id"]]));
    let mut narrowed = contacts.clone();
    narrowed["json_schema"]["properties"] =
        json!({"id": {"type": "string"}, "name": {"type": ["string", "null"]}});
    let configured = json!({"streams": [
        {"stream": narrowed, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"},
        {"stream": streams.iter().find(|s| s["name"] == "chat_messages").unwrap(),
         "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
         "cursor_field": ["window_end"], "primary_key": [["customer_id"], ["chat_id"], ["seq"]]},
    ]});
    wd.write("catalog.json", configured.to_string());
    let o = run(
        SOURCE,
        &wd,
        &[
            "read",
            "--config",
            "config.json",
            "--catalog",
            "catalog.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let msgs = messages(&o);
    assert!(msgs
        .iter()
        .all(|m| ["RECORD", "STATE", "LOG"].contains(&m["type"].as_str().unwrap())));
    let records = |stream: &str| -> Vec<Value> {
        msgs.iter()
            .filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == stream)
            .map(|m| m["record"]["data"].clone())
            .collect()
    };
    let contacts = records("contacts");
    assert_eq!(contacts.len(), BOOK.count);
    assert!(contacts.iter().all(|c| {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        keys == ["id", "name"]
    }));
    assert!(msgs
        .iter()
        .any(|m| m["type"] == "STATE"
            && m["state"]["stream"]["stream_descriptor"]["name"] == "contacts"));
    let table: Table = records("chat_messages").iter().map(keyed).collect();
    wd.ids("ids.txt", &contact_ids_at(BOOK, 0));
    assert_eq!(table, truth(&wd, &sim, "2026-03-01", "2026-03-05"));
}

/// `all_contacts` excludes the other ways of naming customers; a list
/// that comes back empty fails the sync before any chat is asked for.
#[test]
fn all_contacts_is_one_way_of_naming_the_customers() {
    let wd = Workdir::new();
    let sim = platform();
    config(
        &wd,
        &sim,
        &ids(2),
        "2026-03-05",
        json!({"all_contacts": true}),
    );
    let o = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("all_contacts"), "{}", stderr(&o));

    let empty = Sim::start(Scenario {
        contacts: ContactBook {
            count: 3,
            mode: ContactsMode::Empty,
        },
        ..dated()
    });
    all_contacts(&wd, &empty);
    let o = run(TAP, &wd, &["--config", "config.json"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("came back empty"), "{}", stderr(&o));
    assert!(
        empty.stats().per_customer().is_empty(),
        "a chat was asked for"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("RECORD"));
}
