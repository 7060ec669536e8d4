//! Answers that drift from the documentation: values of other JSON types,
//! undocumented fields (the `extra` and `chat_extra` columns), shapes no
//! row can come from, and how the run reports all of it.
//!
//! Expected rows are computed from the simulator's own bodies, read with
//! key order kept; outputs are parsed back with the csv crate and
//! serde_json.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::common::*;
use yuju_export::simulator::data::success_body;
use yuju_export::simulator::{DataProfile, EXAMPLE_CUSTOMER};

/// Every column, the two optional ones last.
pub const ALL_COLUMNS: &str =
    "customer_id,chat_id,seq,sender_type,message_type,content,extra,chat_extra";

/// A JSON object's members in the order they came.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ordered(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl Ordered {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The members not named in `known`, in order.
    fn without(&self, known: &[&str]) -> Vec<(String, Value)> {
        self.0
            .iter()
            .filter(|(n, _)| !known.contains(&n.as_str()))
            .cloned()
            .collect()
    }
}

/// A chat of a simulator body, members and messages in order.
struct SimChat {
    members: Ordered,
    messages: Vec<Ordered>,
}

/// The chats the simulator answers for `id`, read with key order kept.
fn sim_chats(id: &str) -> Vec<SimChat> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(rename = "Data", borrow)]
        data: Option<Vec<&'a RawValue>>,
    }
    #[derive(Deserialize)]
    struct Messages {
        messages: Option<Vec<Ordered>>,
    }
    let body = success_body(id, &DataProfile::Varied, 0);
    let body: Body = serde_json::from_str(&body).unwrap();
    body.data
        .unwrap_or_default()
        .into_iter()
        .map(|chat| SimChat {
            members: serde_json::from_str(chat.get()).unwrap(),
            messages: serde_json::from_str::<Messages>(chat.get())
                .unwrap()
                .messages
                .unwrap_or_default(),
        })
        .collect()
}

/// One row of an output with every column, as parsed back: text cells
/// decoded to what they stand for (a string, or the JSON value whose text
/// they hold), objects with their members in order.
#[derive(Debug, Clone, PartialEq)]
struct FullRow {
    customer_id: String,
    chat_id: Value,
    seq: u64,
    sender_type: Value,
    message_type: Value,
    content: Value,
    extra: Vec<(String, Value)>,
    chat_extra: Vec<(String, Value)>,
}

/// What a documented field's output cell must stand for: a string as
/// itself, null or absent as "", any other value as that value.
fn want(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(v) => v.clone(),
    }
}

/// Decode an output cell the way `want` describes it: as text when a
/// string is expected, else as the JSON text it must be (on one line).
fn decode(cell: &str, expected: &Value) -> Value {
    if expected.is_string() {
        return Value::String(cell.to_string());
    }
    assert!(!cell.contains('\n'), "JSON text on several lines: {cell:?}");
    serde_json::from_str(cell).unwrap_or_else(|e| panic!("{cell:?} is not JSON: {e}"))
}

/// The rows a correct export of `ids` holds, from the simulator's data.
fn expected(ids: &[String]) -> Vec<FullRow> {
    let mut rows = Vec::new();
    for id in ids {
        for chat in sim_chats(id) {
            for (seq, m) in chat.messages.iter().enumerate() {
                rows.push(FullRow {
                    customer_id: id.clone(),
                    chat_id: want(chat.members.get("chat_id")),
                    seq: seq as u64,
                    sender_type: want(m.get("sender_type")),
                    message_type: want(m.get("message_type")),
                    content: want(m.get("content")),
                    extra: m.without(&["content", "message_type", "sender_type"]),
                    chat_extra: chat.members.without(&["chat_id", "messages"]),
                });
            }
        }
    }
    rows
}

/// Parse an output with every column, CSV or JSONL, decoding its cells
/// against the expected rows (same length checked first).
fn read_full(path: &std::path::Path, expected: &[FullRow]) -> Vec<FullRow> {
    let text = std::fs::read_to_string(path).unwrap();
    let raw: Vec<(Vec<String>, Ordered, Ordered)> = if path.extension().unwrap() == "csv" {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>().join(","),
            ALL_COLUMNS
        );
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                let obj = |i: usize| serde_json::from_str::<Ordered>(&rec[i]).unwrap();
                ((0..6).map(|i| rec[i].to_string()).collect(), obj(6), obj(7))
            })
            .collect()
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Line {
            customer_id: String,
            chat_id: String,
            seq: u64,
            sender_type: String,
            message_type: String,
            content: String,
            extra: Ordered,
            chat_extra: Ordered,
        }
        text.lines()
            .map(|line| {
                let l: Line = serde_json::from_str(line).unwrap();
                let keys: Vec<String> = serde_json::from_str::<Ordered>(line)
                    .unwrap()
                    .0
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                assert_eq!(keys.join(","), ALL_COLUMNS);
                (
                    vec![
                        l.customer_id,
                        l.chat_id,
                        l.seq.to_string(),
                        l.sender_type,
                        l.message_type,
                        l.content,
                    ],
                    l.extra,
                    l.chat_extra,
                )
            })
            .collect()
    };
    assert_eq!(raw.len(), expected.len(), "{}", path.display());
    raw.into_iter()
        .zip(expected)
        .map(|((cells, extra, chat_extra), want)| FullRow {
            customer_id: cells[0].clone(),
            chat_id: decode(&cells[1], &want.chat_id),
            seq: cells[2].parse().unwrap(),
            sender_type: decode(&cells[3], &want.sender_type),
            message_type: decode(&cells[4], &want.message_type),
            content: decode(&cells[5], &want.content),
            extra: extra.0,
            chat_extra: chat_extra.0,
        })
        .collect()
}

/// Drift counts computed from the simulator's bodies: values that are
/// neither strings nor null, per documented field; undocumented names.
fn expected_drift(ids: &[String]) -> Value {
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    let odd = |v: Option<&Value>| matches!(v, Some(v) if !v.is_string() && !v.is_null());
    for id in ids {
        for chat in sim_chats(id) {
            if odd(chat.members.get("chat_id")) {
                *types.entry("chat_id".into()).or_default() += 1;
            }
            for (n, _) in chat.members.without(&["chat_id", "messages"]) {
                *names.entry(format!("chats.{n}")).or_default() += 1;
            }
            for m in &chat.messages {
                for field in ["content", "message_type", "sender_type"] {
                    if odd(m.get(field)) {
                        *types.entry(field.into()).or_default() += 1;
                    }
                }
                for (n, _) in m.without(&["content", "message_type", "sender_type"]) {
                    *names.entry(format!("messages.{n}")).or_default() += 1;
                }
            }
        }
    }
    serde_json::json!({"unexpected_types": types, "undocumented_fields": names})
}

/// Customers whose answers drift, mixed with ordinary ones and the
/// documented example.
fn mixed_ids() -> Vec<String> {
    let mut list = Vec::new();
    for (i, id) in ids(8).into_iter().enumerate() {
        if i % 2 == 0 {
            list.push(format!("drift-{id}"));
        }
        list.push(id);
    }
    list.push(EXAMPLE_CUSTOMER.to_string());
    list
}

/// Values of every JSON type in the documented fields, and undocumented
/// fields, are kept in CSV and in JSONL: strings unescaped, other values
/// as their JSON text on one line, `extra`/`chat_extra` holding the other
/// fields in the order received (`{}` when none). No customer fails and
/// none is asked twice. With the default columns the same run gives the
/// same six columns, and the usual header.
#[test]
fn drifted_answers_keep_every_message_in_csv_and_jsonl() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = mixed_ids();
    wd.ids("ids.txt", &list);
    let want = expected(&list);
    // The data holds each kind of drift the test is about.
    let has = |pred: &dyn Fn(&FullRow) -> bool| want.iter().any(pred);
    assert!(has(&|r| r.content.is_object()));
    assert!(has(&|r| r.content.is_array()));
    assert!(has(&|r| r.content.is_number()));
    assert!(has(&|r| r.content.is_boolean()));
    assert!(has(
        &|r| r.message_type.is_number() && r.sender_type.is_number()
    ));
    assert!(has(&|r| r.chat_id.is_number()));
    assert!(has(&|r| r.extra.iter().any(|(k, _)| k == "time")));
    assert!(has(&|r| r
        .chat_extra
        .iter()
        .any(|(k, _)| k == "create_time")));
    assert!(has(&|r| r.extra.is_empty()));

    for out in ["all.csv", "all.jsonl"] {
        let o = wd.export(
            &sim,
            &["--ids", "ids.txt", "--out", out, "--columns", ALL_COLUMNS],
        );
        assert_eq!(code(&o), 0, "{out}: {}", stderr(&o));
        assert_eq!(read_full(&wd.path(out), &want), want, "{out}");
    }
    for id in &list {
        assert_eq!(sim.stats().requests_for(id), 2, "{id}: one request per run");
    }

    // Default columns: the first six of the full rows.
    for out in ["six.csv", "six.jsonl"] {
        let o = wd.export(&sim, &["--ids", "ids.txt", "--out", out]);
        assert_eq!(code(&o), 0, "{out}: {}", stderr(&o));
        let rows = if out.ends_with("csv") {
            read_csv(&wd.path(out))
        } else {
            read_jsonl(&wd.path(out))
        };
        assert_eq!(rows.len(), want.len());
        for (row, w) in rows.iter().zip(&want) {
            assert_eq!(row.customer_id, w.customer_id);
            assert_eq!(row.seq, w.seq);
            assert_eq!(decode(&row.chat_id, &w.chat_id), w.chat_id);
            assert_eq!(decode(&row.content, &w.content), w.content, "{row:?}");
            assert_eq!(decode(&row.message_type, &w.message_type), w.message_type);
            assert_eq!(decode(&row.sender_type, &w.sender_type), w.sender_type);
        }
    }
}

/// `Data` an object or `messages` a string: that customer alone fails,
/// after one request, as `unexpected_shape`, and the failed file says
/// which shape came; the other customers are exported.
#[test]
fn unusable_shapes_fail_one_customer_once() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let good = ids(3);
    let list = vec![
        good[0].clone(),
        "shape-data-1".to_string(),
        good[1].clone(),
        "shape-messages-1".to_string(),
        "drift-1".to_string(),
        good[2].clone(),
    ];
    wd.ids("ids.txt", &list);
    let kept: Vec<String> = list
        .iter()
        .filter(|i| !i.starts_with("shape"))
        .cloned()
        .collect();
    let want = expected(&kept);
    for out in ["x.csv", "x.jsonl"] {
        let summary = format!("{out}.summary.json");
        let o = wd.export(
            &sim,
            &[
                "--ids",
                "ids.txt",
                "--out",
                out,
                "--columns",
                ALL_COLUMNS,
                "--summary",
                &summary,
            ],
        );
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let failed = read_failed(&wd.path(&format!("{out}.failed.csv")));
        let failed_ids: Vec<&str> = failed.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(failed_ids, ["shape-data-1", "shape-messages-1"]);
        let words = |e: &str| {
            e.split(|c: char| !c.is_alphanumeric() && c != '_')
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let (data_err, messages_err) = (words(&failed[0].1), words(&failed[1].1));
        for w in ["Data", "object"] {
            assert!(data_err.iter().any(|x| x == w), "{:?}", failed[0]);
        }
        for w in ["messages", "string"] {
            assert!(messages_err.iter().any(|x| x == w), "{:?}", failed[1]);
        }
        let s = read_summary(&wd.path(&summary));
        assert_eq!(s["failed_by_kind"]["unexpected_shape"], 2, "{s}");
        assert_eq!(s["customers"]["failed"], 2);
        assert_eq!(s["retries"], 0);
        assert_eq!(read_full(&wd.path(out), &want), want, "{out}");
    }
    assert_eq!(sim.stats().requests_for("shape-data-1"), 2, "one per run");
    assert_eq!(
        sim.stats().requests_for("shape-messages-1"),
        2,
        "one per run"
    );
}

/// The summary counts, per documented field, the values of an unexpected
/// type, and lists the undocumented fields with how often each came, as
/// computed from the simulator's data; the run logs each undocumented
/// field once, a warning naming the columns that would keep it, or an info
/// line when they are chosen (so `-q` with them is silent); the summary
/// line mentions the drift.
#[test]
fn drift_is_counted_in_the_summary_and_warned_once_per_field() {
    let sim = Sim::healthy();
    let wd = Workdir::new();
    let list = mixed_ids();
    wd.ids("ids.txt", &list);
    let want = expected_drift(&list);
    assert!(want["undocumented_fields"]["messages.time"].as_u64() > Some(1));
    assert!(want["undocumented_fields"]["chats.create_time"].as_u64() > Some(0));

    for (out, columns, kept) in [("x.csv", None, false), ("y.csv", Some(ALL_COLUMNS), true)] {
        let mut args = vec!["--ids", "ids.txt", "--out", out, "--summary", "s.json"];
        if let Some(c) = columns {
            args.extend(["--columns", c]);
        }
        let o = wd.export(&sim, &args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let s = read_summary(&wd.path("s.json"));
        assert_eq!(s["drift"], want, "{s}");

        let err = stderr(&o);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("its documentation does not name"))
            .collect();
        let names = want["undocumented_fields"].as_object().unwrap();
        assert_eq!(warnings.len(), names.len(), "{err}");
        for name in names.keys() {
            let quoted = format!("{name:?}");
            let about: Vec<&&str> = warnings.iter().filter(|w| w.contains(&quoted)).collect();
            assert_eq!(about.len(), 1, "{name}: {warnings:#?}");
            if kept {
                assert!(about[0].contains(" column"), "{}", about[0]);
            } else {
                assert!(about[0].contains("extra,chat_extra"), "{}", about[0]);
                assert!(about[0].contains("--columns"), "{}", about[0]);
            }
        }
        assert!(
            err.lines()
                .any(|l| l.contains("drift (") && l.contains("messages.time")),
            "{err}"
        );
    }
    let o = wd.export_to(&sim, "z.csv", &["--columns", ALL_COLUMNS, "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

/// With the two new columns and answers that drift, a run killed with
/// SIGKILL five times and resumed each time ends byte-identical to an
/// uninterrupted one, in CSV and in JSONL, with the same drift counts in
/// its summary (they are journaled with each checkpoint).
#[test]
#[cfg(unix)]
fn kill_9_and_resume_with_drift_and_extra_columns() {
    let mut list = Vec::new();
    for (i, id) in ids(600).into_iter().enumerate() {
        list.push(if i % 4 == 0 {
            format!("drift-{id}")
        } else {
            id
        });
    }
    let columns = ["--columns", ALL_COLUMNS];
    crate::resume::kill_and_resume_with("k.csv", "ref.csv", 11, &list, &columns);
    crate::resume::kill_and_resume_with("k.jsonl", "ref.jsonl", 12, &list, &columns);
}
