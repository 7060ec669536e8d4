//! Deterministic synthetic chat data: the same customer ID always yields the
//! same chats, whatever the order or timing of requests.

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use crate::api::query::WIRE_TIME_FORMAT;

/// The customer of the documented example, answered verbatim.
pub const EXAMPLE_CUSTOMER: &str = "57a286a608894aa7b26a9e589f4d3333";

/// The documented example response, verbatim (API.md).
pub const EXAMPLE_RESPONSE: &str = r#"{
  "Code": 2000,
  "Data": [
    {
      "chat_id": "5c82cf0c-8db0-4bcd-94de-dece5c011f8b-258262",
      "messages": [
        { "content": "你好", "message_type": "AI对话", "sender_type": "用户" },
        { "content": "人工回复: 1777", "message_type": "人工对话", "sender_type": "客服" },
        { "content": "访客发送: 777", "message_type": "人工对话", "sender_type": "用户" },
        { "content": "客服回复: 000", "message_type": "人工对话", "sender_type": "客服" },
        { "content": "访客发送: 456", "message_type": "人工对话", "sender_type": "用户" },
        { "content": "人工回复: 666", "message_type": "人工对话", "sender_type": "客服" },
        { "content": "访客发送: 123", "message_type": "人工对话", "sender_type": "用户" }
      ]
    }
  ],
  "Msg": "成功",
  "RequestId": "27126e34-42c1-437c-a569-a79d5c590a40"
}"#;

/// Message texts, hostile ones included: quotes, commas, CR/LF, tabs,
/// emoji, U+2028, formula-like and HTML-like text.
const TEXTS: &[&str] = &[
    "你好，请问怎么退货？",
    "您好！这里是客服小聚，很高兴为您服务。",
    "订单号 20261126-0042 还没发货",
    "他说\"明天到\"，结果没到",
    "first line\nsecond line",
    "windows\r\nline end",
    "tab\tseparated\tvalues",
    "emoji 😀🎉👍🏽 and 汉字",
    "line\u{2028}separator and\u{2029}paragraph",
    "=SUM(A1:A9)",
    "+86 138 0000 0000",
    "-5 stars, @support",
    "a, b, c, \"d\"",
    "<b>bold</b> & 'quotes'",
    "C:\\path\\to\\file",
    "",
    " leading and trailing spaces ",
    "😀",
    "访客发送: 好的，谢谢",
    "人工回复: 已为您登记，请稍候",
];
const CHANNELS: &[&str] = &["抖音", "企业微信", "公众号", "小红书", "网页"];

/// A small deterministic PRNG (splitmix64), stable across crate versions.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A stable hash of a customer ID.
pub fn hash(s: &str) -> u64 {
    crate::config::shard::fnv1a(s.as_bytes())
}

/// Shape of generated data.
#[derive(Debug, Clone, PartialEq)]
pub enum DataProfile {
    /// 0 to 4 chats of 1 to 10 messages, from the hostile text pool.
    Varied,
    /// Exactly one chat of `messages` messages of about `bytes` bytes each.
    Fixed { messages: usize, bytes: usize },
}

/// The `Data` array for a customer.
pub fn chats_for(customer_id: &str, profile: &DataProfile) -> Value {
    let mut rng = SplitMix(hash(customer_id));
    match profile {
        DataProfile::Varied => {
            let chats = match rng.below(10) {
                0 => 0,
                n => 1 + n % 4,
            };
            let list: Vec<Value> = (0..chats)
                .map(|c| {
                    let messages = 1 + rng.below(10);
                    let chat_id = format!(
                        "{}-{c}-{:06}",
                        customer_id.chars().take(8).collect::<String>(),
                        rng.below(1_000_000)
                    );
                    // A channel is drawn but not sent: the documented chat
                    // has no such field (`drift…` customers carry
                    // undocumented ones). The draw keeps every customer's
                    // data as it has always been.
                    let _channel = CHANNELS[rng.below(CHANNELS.len() as u64) as usize];
                    json!({
                        "chat_id": chat_id,
                        "messages": (0..messages).map(|_| message(&mut rng)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            Value::Array(list)
        }
        DataProfile::Fixed { messages, bytes } => {
            let filler = "聚".repeat(bytes / 3);
            json!([{
                "chat_id": format!("{customer_id}-big"),
                "messages": (0..*messages).map(|i| json!({
                    "content": format!("{i} {filler}"),
                    "message_type": if i % 2 == 0 { "AI对话" } else { "人工对话" },
                    "sender_type": if i % 2 == 0 { "用户" } else { "客服" },
                })).collect::<Vec<_>>(),
            }])
        }
    }
}

fn message(rng: &mut SplitMix) -> Value {
    let text = TEXTS[rng.below(TEXTS.len() as u64) as usize];
    let content = if rng.below(3) == 0 {
        format!("{text} #{}", rng.below(10_000))
    } else {
        text.to_string()
    };
    let human = rng.below(2) == 0;
    json!({
        "content": content,
        "message_type": if human { "人工对话" } else { "AI对话" },
        "sender_type": if rng.below(2) == 0 { "用户" } else { "客服" },
    })
}

/// Personal data planted in messages, in each form `--mask` accepts:
/// none of these may reach a masked output.
pub const PII_PLANTED: [&str; 12] = [
    "13812340000",
    "+86 139 1234 5678",
    "0086-13712345678",
    "150-1234-5678",
    "11010519491231002X",
    "4111111111111111",
    "4111 1111 1111 1111",
    "6011-1111-1111-1117",
    "zhang.san@example.com",
    "li_si+chat@mail.example.cn",
    "18612345678",
    "wang@example.org",
];

/// Decoys next to them, which masking must leave as they are.
pub const PII_DECOYS: [&str; 8] = [
    "202611260001234",
    "1764115200",
    "¥1380.00",
    "123456789012",
    "12345678901234",
    "913812345678",
    "https://shop.example.com/@store/13600001111x",
    "4111111111111112",
];

/// The chats of a `pii…` customer: every planted value and every decoy in
/// message text, and a planted value in an undocumented string field (a
/// number stays a number).
pub fn pii_data() -> String {
    let text = |values: &[&str]| -> String {
        values
            .iter()
            .map(|v| format!("见 {v} 。"))
            .collect::<Vec<_>>()
            .join("")
    };
    let messages: Vec<serde_json::Value> = PII_PLANTED
        .iter()
        .chain(PII_DECOYS.iter())
        .map(|v| json!({"content": text(&[v]), "message_type": "人工对话", "sender_type": "用户"}))
        .chain([
            json!({"content": text(&PII_PLANTED[..3]), "message_type": "人工对话",
            "sender_type": "用户", "note": format!("回电 {}", PII_PLANTED[10]),
            "phone": 13912345678u64}),
        ])
        .collect();
    json!([{"chat_id": "pii-chat", "contact": PII_PLANTED[11], "messages": messages}]).to_string()
}

/// The `Data` of a `drift…` customer: answers that stray from the
/// documentation as API.md ("What is not known") warns they may. Written
/// as text, not built as a `Value`, to control key order and whitespace:
/// - `content` an object (spaced and on several lines), a number in
///   exponent form, a list, a boolean, null, and an escaped string;
/// - `message_type`, `sender_type` and `chat_id` numbers or booleans;
/// - undocumented fields: a message `time` (a string of Unix seconds),
///   `msg_id` (before the documented fields, once), a chat `create_time`.
pub fn drift_data(customer_id: &str) -> String {
    let mut rng = SplitMix(hash(customer_id));
    let short: String = customer_id.chars().take(12).collect();
    let chat_id = serde_json::to_string(&format!("{short}-d0")).expect("a string serialises");
    let n = rng.below(10_000);
    let t = 1_715_600_000 + rng.below(86_400);
    let numeric_chat = rng.below(1_000_000_000);
    format!(
        r#"[
  {{"chat_id": {chat_id}, "create_time": "{t0}", "messages": [
    {{"content": {{"url": "https://img.example.com/{n}.png",
                  "w": 640}}, "message_type": "图片", "sender_type": "用户",
     "time": "{t}", "msg_id": "m-{n}-0"}},
    {{"msg_id": "m-{n}-1", "content": 42, "message_type": 1, "sender_type": 2, "time": "{t1}"}},
    {{"content": ["a", 1, null, {{"k": "v"}}], "message_type": "AI对话", "sender_type": "客服", "time": "{t2}"}},
    {{"content": true, "message_type": "AI对话", "sender_type": "用户"}},
    {{"content": "文本 \"quoted\", with\nline", "message_type": "人工对话", "sender_type": "客服",
     "time": "{t3}", "msg_id": "m-{n}-4"}},
    {{"content": null, "message_type": null, "sender_type": null}},
    {{"content": -3.5e2, "message_type": "AI对话", "sender_type": false}}
  ]}},
  {{"chat_id": {numeric_chat}, "messages": [
    {{"content": {{"card": {{"title": "订单 {n}", "items": [1, 2]}}}}, "message_type": "卡片", "sender_type": "客服"}}
  ]}}
]"#,
        t0 = t - 60,
        t1 = t + 5,
        t2 = t + 9,
        t3 = t + 20,
    )
}

/// The span of time the simulated chats happened in: each chat gets a
/// deterministic time in `from..to`, and a request gets only the chats in
/// its window. Without a calendar chats have no time and every window
/// gets them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

impl std::str::FromStr for Calendar {
    type Err = String;
    /// `FROM..TO`, each `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.
    fn from_str(s: &str) -> Result<Calendar, String> {
        let time = |t: &str| {
            let t = t.trim();
            NaiveDateTime::parse_from_str(t, WIRE_TIME_FORMAT)
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
                })
                .map_err(|_| format!("{t:?} is not YYYY-MM-DD or \"YYYY-MM-DD HH:MM:SS\""))
        };
        let (from, to) = s
            .split_once("..")
            .ok_or("expected FROM..TO, e.g. 2026-03-01..2026-04-01")?;
        let (from, to) = (time(from)?, time(to)?);
        if from >= to {
            return Err("FROM must be before TO".into());
        }
        Ok(Calendar { from, to })
    }
}

/// The window of one request: `start <= t < end`, either side open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

impl Span {
    pub fn contains(&self, t: NaiveDateTime) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }
}

impl Calendar {
    /// When chat `index` of `customer_id` happened. Drawn from a generator
    /// of its own, so the chats themselves are those of an undated run.
    pub fn chat_time(&self, customer_id: &str, index: usize) -> NaiveDateTime {
        let mut rng = SplitMix(hash(customer_id) ^ 0x00DA_7E0F_C4A7 ^ ((index as u64) << 48));
        let span = (self.to - self.from).num_seconds().max(1) as u64;
        self.from + chrono::Duration::seconds(rng.below(span) as i64)
    }

    /// The window a request asks for: `start_time`/`end_time` when given
    /// (the wire format), else the last `days` days before the calendar's
    /// end (the simulator's clock stands still there, so tests do not
    /// depend on the real one).
    pub fn span(&self, days: &str, start: &str, end: &str) -> Result<Span, String> {
        let time = |t: &str, name: &str| match t {
            "" => Ok(None),
            t => NaiveDateTime::parse_from_str(t, WIRE_TIME_FORMAT)
                .map(Some)
                .map_err(|_| format!("{name} 格式错误")),
        };
        let span = Span {
            start: time(start, "start_time")?,
            end: time(end, "end_time")?,
        };
        if span != Span::default() || days.is_empty() {
            return Ok(span);
        }
        let days: u32 = days.parse().map_err(|_| "days 格式错误".to_string())?;
        Ok(Span {
            start: Some(self.to - chrono::Duration::days(days as i64)),
            end: Some(self.to),
        })
    }
}

/// The full success body for a customer.
///
/// Besides [`EXAMPLE_CUSTOMER`], prefixes choose the answer: `null…`
/// (`Data: null`), `empty…` (no chats), `drift…` ([`drift_data`]), and
/// two shapes no row can come from: `shape-data…` (`Data` an object) and
/// `shape-messages…` (`messages` a string).
pub fn success_body(customer_id: &str, profile: &DataProfile, request_no: u64) -> String {
    success_body_in(customer_id, profile, request_no, None)
}

/// The success body for a customer, with only the chats of `dated`'s
/// window when given. The documented example customer is answered
/// verbatim, whatever the window.
pub fn success_body_in(
    customer_id: &str,
    profile: &DataProfile,
    request_no: u64,
    dated: Option<(&Calendar, &Span)>,
) -> String {
    if customer_id == EXAMPLE_CUSTOMER {
        return EXAMPLE_RESPONSE.to_string();
    }
    let data = if customer_id.starts_with("pii") {
        Some(pii_data())
    } else if customer_id.starts_with("drift") {
        Some(drift_data(customer_id))
    } else if customer_id.starts_with("shape-data") {
        Some(r#"{"chat_id": "c1", "messages": [{"content": "你好"}]}"#.to_string())
    } else if customer_id.starts_with("shape-messages") {
        Some(r#"[{"chat_id": "c1", "messages": "你好"}]"#.to_string())
    } else {
        None
    };
    if let Some(data) = data {
        return format!(
            r#"{{"Code": 2000, "Data": {data}, "Msg": "成功", "RequestId": "sim-{request_no:08}"}}"#
        );
    }
    let data = if customer_id.starts_with("null") {
        Value::Null
    } else if customer_id.starts_with("empty") {
        json!([])
    } else {
        let mut chats = chats_for(customer_id, profile);
        if let (Some((calendar, span)), Value::Array(list)) = (dated, &mut chats) {
            let mut index = 0;
            list.retain(|_| {
                let keep = span.contains(calendar.chat_time(customer_id, index));
                index += 1;
                keep
            });
        }
        chats
    };
    json!({
        "Code": 2000,
        "Data": data,
        "Msg": "成功",
        "RequestId": format!("sim-{request_no:08}"),
        "Extra": {"ignored": true},
    })
    .to_string()
}

/// A success body answered with another success `Code` (a platform that
/// answers 0, as its contact list does) and, when `undocumented`, with
/// the fields the older GET variant gives every message: a Unix `time`
/// (a JSON string, as that variant sends it) and an `id`.
pub fn restyled(body: String, code: i64, undocumented: bool) -> String {
    if code == crate::api::envelope::CODE_OK && !undocumented {
        return body;
    }
    let Ok(mut answer) = serde_json::from_str::<Value>(&body) else {
        return body;
    };
    answer["Code"] = json!(code);
    if undocumented {
        // Each message's fields follow from its chat and place, whatever
        // the window asked: the same message has the same time in every
        // answer.
        for chat in answer["Data"].as_array_mut().into_iter().flatten() {
            let chat_id = match &chat["chat_id"] {
                Value::String(id) => id.clone(),
                other => other.to_string(),
            };
            let base = 1_715_665_855 + hash(&chat_id) % 10_000_000;
            let messages = chat["messages"].as_array_mut().into_iter().flatten();
            for (m, message) in messages.enumerate() {
                message["time"] = json!(format!("{}", base + 60 * m as u64));
                message["id"] = json!(format!("{chat_id}-{m}"));
            }
        }
    }
    answer.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_id_same_data() {
        let a = chats_for("abc", &DataProfile::Varied);
        assert_eq!(a, chats_for("abc", &DataProfile::Varied));
        assert_ne!(a, chats_for("abd", &DataProfile::Varied));
    }

    /// Dated chats are the undated ones, split between windows: two
    /// adjacent windows hold each chat exactly once, and `days` counts
    /// back from the calendar's end.
    #[test]
    fn windows_split_the_chats_without_loss_or_overlap() {
        let calendar: Calendar = "2026-03-01..2026-03-11".parse().unwrap();
        let chats = |span: &Span| -> Vec<Value> {
            let body =
                success_body_in("abcdef12", &DataProfile::Varied, 0, Some((&calendar, span)));
            let v: Value = serde_json::from_str(&body).unwrap();
            v["Data"].as_array().unwrap().clone()
        };
        let all = chats(&Span::default());
        assert_eq!(
            Value::Array(all.clone()),
            chats_for("abcdef12", &DataProfile::Varied)
        );
        let first = chats(
            &calendar
                .span("", "2026-03-01 00:00:00", "2026-03-06 00:00:00")
                .unwrap(),
        );
        let second = chats(
            &calendar
                .span("", "2026-03-06 00:00:00", "2026-03-11 00:00:00")
                .unwrap(),
        );
        assert_eq!([first.clone(), second.clone()].concat(), all);
        assert_eq!(chats(&calendar.span("30", "", "").unwrap()), all);
        let last5 = calendar.span("5", "", "").unwrap();
        assert_eq!(last5.start, Some(calendar.from + chrono::Duration::days(5)));
        assert!(calendar.span("", "yesterday", "").is_err());
        assert!("2026-03-02..2026-03-01".parse::<Calendar>().is_err());
    }

    #[test]
    fn example_is_verbatim_json() {
        let v: Value =
            serde_json::from_str(&success_body(EXAMPLE_CUSTOMER, &DataProfile::Varied, 0)).unwrap();
        assert_eq!(v["Data"][0]["messages"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn drift_and_shape_bodies_are_json() {
        for id in ["drift-1", "shape-data-1", "shape-messages-1"] {
            let v: Value =
                serde_json::from_str(&success_body(id, &DataProfile::Varied, 3)).unwrap();
            assert_eq!(v["Code"], 2000, "{id}");
        }
        assert_eq!(drift_data("drift-1"), drift_data("drift-1"));
        assert_ne!(drift_data("drift-1"), drift_data("drift-2"));
    }
}
