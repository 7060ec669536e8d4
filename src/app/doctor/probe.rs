//! The requests `doctor` makes, paced, each answer tallied: the key check,
//! the contact list, and the chat records of one contact in three windows.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::api::bufpool::BufPool;
use crate::api::chat_record::Records;
use crate::api::client::KeyProof;
use crate::api::contacts::{ContactAnswer, ListRequest};
use crate::api::query::Query;
use crate::api::{ApiClient, ChatAnswer, Request, StopReason, Verdict};
use crate::record::drift::CustomerDrift;

/// The least time between two requests.
const PACE: Duration = Duration::from_millis(250);

/// Most requests `doctor` makes.
pub const MOST_REQUESTS: u64 = 10;

/// Sends `doctor`'s requests, at most one per [`PACE`], and counts what
/// came back.
pub struct Probe {
    client: ApiClient,
    pool: BufPool,
    last: Option<tokio::time::Instant>,
    pub requests: u64,
    /// HTTP statuses (or faults) by name, and how many answers had them.
    pub statuses: BTreeMap<String, u64>,
    /// Envelope `Code`s by endpoint (`contacts 0`, `chat/record 2000`).
    pub codes: BTreeMap<String, u64>,
}

/// One answer of the record endpoint, as far as `doctor` cares.
#[derive(Debug, Default, Clone)]
pub struct Chats {
    /// The envelope's `Code`, as its JSON text.
    pub code: String,
    /// Whether the `Code` is the documented success, 2000.
    pub success: bool,
    /// The chat ids, in order.
    pub ids: Vec<String>,
    /// Fields the documentation does not name (`messages.time`), and
    /// documented fields of another JSON type.
    pub drift: CustomerDrift,
}

/// What the contact list answered.
#[derive(Debug, Default)]
pub struct Listed {
    pub code: String,
    /// Every contact's id, in order (kept in memory only).
    pub ids: Vec<String>,
    /// Fields the documentation does not name, with how many contacts
    /// had each.
    pub undocumented: BTreeMap<String, u64>,
}

impl Probe {
    pub fn new(client: ApiClient) -> Probe {
        Probe {
            client,
            pool: BufPool::new(1 << 20, 2),
            last: None,
            requests: 0,
            statuses: BTreeMap::new(),
            codes: BTreeMap::new(),
        }
    }

    /// Wait for the pace, and count a request.
    async fn paced(&mut self) -> bool {
        if self.requests >= MOST_REQUESTS {
            return false;
        }
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + PACE).await;
        }
        self.last = Some(tokio::time::Instant::now());
        self.requests += 1;
        true
    }

    /// The key: which request proved it, or why it is refused.
    pub async fn key(&mut self, probe: &Records) -> Result<KeyProof, String> {
        self.paced().await;
        let proof = self.client.check_key(probe).await;
        let mut seen = |name: &str| *self.statuses.entry(name.to_string()).or_default() += 1;
        match proof {
            Ok(KeyProof::CheckEndpoint) => seen("200"),
            Ok(KeyProof::Probe) => {
                // The fallback sent a second request.
                seen("check endpoint not as documented");
                seen("200");
                self.requests += 1;
            }
            Err(_) => seen("key refused or unchecked"),
        }
        proof
    }

    /// One request; the body of a 200, or what came instead, said.
    async fn send(&mut self, request: &dyn Request, item: &str) -> Result<Vec<u8>, String> {
        if !self.paced().await {
            return Err(format!(
                "not asked: doctor makes at most {MOST_REQUESTS} requests"
            ));
        }
        match self.client.send(request, item, &self.pool).await {
            Ok(answer) => {
                *self.statuses.entry("200".into()).or_default() += 1;
                Ok(answer.body)
            }
            Err(verdict) => {
                let (name, said) = describe(&verdict);
                *self.statuses.entry(name).or_default() += 1;
                Err(self.client.shown(&said))
            }
        }
    }

    /// The contact list, filtered as `request` says.
    pub async fn contacts(&mut self, request: &ListRequest) -> Result<Listed, String> {
        let body = self.send(request, "").await?;
        let text =
            std::str::from_utf8(&body).map_err(|_| "the answer is not UTF-8 text".to_string())?;
        let answer = ContactAnswer::from_json(text)
            .map_err(|e| format!("the answer is not the documented JSON envelope ({e})"))?;
        let code = answer.code_text().into_owned();
        *self.codes.entry(format!("contacts {code}")).or_default() += 1;
        if !answer.is_success() {
            return Err(format!(
                "Code {code}: {}",
                self.client.shown(answer.msg.as_str())
            ));
        }
        let mut listed = Listed {
            code,
            ..Listed::default()
        };
        for contact in answer.contacts() {
            listed.ids.push(contact.id.as_str().to_string());
            for (name, _) in &contact.extra {
                *listed.undocumented.entry(name.to_string()).or_default() += 1;
            }
        }
        Ok(listed)
    }

    /// The chats of `customer` in `query`'s window.
    pub async fn chats(&mut self, customer: &str, query: Query) -> Result<Chats, String> {
        let body = self.send(&Records { query }, customer).await?;
        let text =
            std::str::from_utf8(&body).map_err(|_| "the answer is not UTF-8 text".to_string())?;
        let answer = ChatAnswer::from_json(text)
            .map_err(|e| format!("the answer is not the documented JSON envelope ({e})"))?;
        let code = answer.code_text().into_owned();
        *self.codes.entry(format!("chat/record {code}")).or_default() += 1;
        Ok(Chats {
            success: answer.is_success(),
            ids: answer.chats().iter().map(|c| c.id().to_string()).collect(),
            drift: CustomerDrift::of(&answer),
            code,
        })
    }
}

/// A verdict's name in the tally (the HTTP status where there is one) and
/// its words.
fn describe(verdict: &Verdict) -> (String, String) {
    match verdict {
        Verdict::Stop(StopReason::BadKey) => ("401".into(), "HTTP 401: the key is refused".into()),
        Verdict::Stop(StopReason::QuotaExhausted) => {
            ("402".into(), "HTTP 402: the quota is exhausted".into())
        }
        Verdict::Stop(reason) => ("stop".into(), reason.message()),
        Verdict::Rejected { status, .. } => (status.to_string(), format!("HTTP {status}")),
        Verdict::Transient { cause, detail, .. } => (cause.name().to_string(), detail.clone()),
        Verdict::TooLarge { limit } => (
            "too_large".into(),
            format!("the answer passed --max-response-bytes ({limit} bytes)"),
        ),
        Verdict::Certificate { detail } => ("certificate".into(), detail.clone()),
        Verdict::Code(code) => ("200".into(), format!("Code {}", code.text)),
        Verdict::Unusable { detail } => ("200".into(), detail.clone()),
    }
}

/// A query of the last `days` days, counted by the platform.
pub fn last_days(days: u32) -> Query {
    Query {
        days: Some(days),
        ..Query::default()
    }
}

/// A query of the window `start`..`end`.
pub fn window(start: NaiveDateTime, end: NaiveDateTime) -> Query {
    Query {
        start: Some(start),
        end: Some(end),
        ..Query::default()
    }
}
