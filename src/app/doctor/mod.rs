//! `yuju-export doctor`: before any schedule, whether this platform
//! behaves as the tool assumes. A handful of paced requests ([`probe`]):
//! the key, the contact list, one contact's chats in the last 30 days, in
//! the year 2000 and in the last 7 days. A short report, or JSON with
//! `--json` for a support ticket (the key redacted, no personal data: no
//! contact's id, name, number or message). Exit 0 when everything matches,
//! 1 when something differs (each with what to do), 3 when the platform
//! refuses the key or cannot be reached.

pub mod probe;

use chrono::Duration as Days;
use serde::Serialize;

use crate::api::chat_record::Records;
use crate::api::client::KeyProof;
use crate::api::ApiClient;
use crate::config::ExportConfig;
use crate::error::Exit;
use probe::{last_days, window, Chats, Probe};

/// How many contacts are tried for one with chats in the last 30 days.
const CONTACTS_TRIED: usize = 3;

/// One thing checked.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked (`key`, `contact list`, `record shape`, `window`, …).
    pub check: &'static str,
    /// `ok`, `differs` or `unknown` (could not be checked).
    pub verdict: Verdict,
    /// What was found.
    pub found: String,
    /// What to do about it, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Differs,
    Unknown,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool_version: &'static str,
    /// The platform's origin (scheme, host, port): never a URL with a key.
    pub platform: String,
    pub findings: Vec<Finding>,
    /// Requests made, and what came back: HTTP statuses and envelope codes.
    pub requests: u64,
    pub http_statuses: std::collections::BTreeMap<String, u64>,
    pub api_codes: std::collections::BTreeMap<String, u64>,
    pub exit_code: u8,
}

impl Finding {
    fn ok(check: &'static str, found: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Ok,
            found: found.into(),
            advice: None,
        }
    }

    fn differs(
        check: &'static str,
        found: impl Into<String>,
        advice: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            verdict: Verdict::Differs,
            found: found.into(),
            advice: Some(advice.into()),
        }
    }

    fn unknown(check: &'static str, found: impl Into<String>) -> Finding {
        Finding {
            check,
            verdict: Verdict::Unknown,
            found: found.into(),
            advice: None,
        }
    }
}

/// Run the checks of `config` and print the report (JSON with `json`).
pub async fn run(config: ExportConfig, json: bool) -> Exit {
    let client = match ApiClient::new(&config.base_url, &config.api_key, &config.client) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("yuju-export: error: {e:#}");
            return Exit::Usage;
        }
    };
    let mut probe = Probe::new(client);
    let (findings, reached) = examine(&config, &mut probe).await;
    let exit = if !reached {
        Exit::StoppedByApi
    } else if findings.iter().any(|f| f.verdict == Verdict::Differs) {
        Exit::SomeFailed
    } else {
        Exit::Success
    };
    let report = Report {
        tool_version: env!("CARGO_PKG_VERSION"),
        platform: crate::api::endpoint::origin(&config.base_url),
        findings,
        requests: probe.requests,
        http_statuses: probe.statuses.clone(),
        api_codes: probe.codes.clone(),
        exit_code: exit.code(),
    };
    let text = if json {
        serde_json::to_string_pretty(&report).expect("the report serialises") + "\n"
    } else {
        render(&report)
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return Exit::OutputError;
    }
    exit
}

/// Every check in order; `false` when the platform could not be asked at
/// all (the key refused, no answer).
async fn examine(config: &ExportConfig, probe: &mut Probe) -> (Vec<Finding>, bool) {
    let mut findings = Vec::new();
    let key_probe = Records {
        query: last_days(30),
    };
    match probe.key(&key_probe).await {
        Ok(KeyProof::CheckEndpoint) => findings.push(Finding::ok(
            "key",
            "valid: GET /v1/openapi/check answered {\"success\":true}",
        )),
        Ok(KeyProof::Probe) => findings.push(Finding::differs(
            "key",
            "valid, proved by the record endpoint: GET /v1/openapi/check did not answer as \
             documented ({\"success\":true})",
            "nothing to do: the tool proves the key with the record endpoint whenever the check \
             endpoint answers otherwise (source-yuju check does the same)",
        )),
        Err(why) => {
            findings.push(Finding::differs(
                "key",
                why,
                "set YUJU_API_KEY (or --api-key-file) to a valid key, check --base-url, and run \
                 doctor again",
            ));
            return (findings, false);
        }
    }
    let ids = match probe.contacts(&config.contacts.request).await {
        Ok(listed) => {
            findings.push(list_finding(&listed));
            listed.ids
        }
        Err(why) => {
            findings.push(Finding::differs(
                "contact list",
                format!("POST /v1/openapi/contacts failed: {why}"),
                "export with --ids FILE instead of --all-contacts until the list answers",
            ));
            Vec::new()
        }
    };
    records(config, probe, &ids, &mut findings).await;
    (findings, true)
}

/// What the contact list held.
fn list_finding(listed: &probe::Listed) -> Finding {
    let n = listed.ids.len();
    let mut found = format!("{n} contacts (Code {})", listed.code);
    if n == 0 {
        return Finding::differs(
            "contact list",
            found,
            "an empty list stops export --all-contacts (exit 3): check the filters, or give \
             --ids FILE",
        );
    }
    if listed.undocumented.is_empty() {
        return Finding::ok("contact list", found);
    }
    let names: Vec<&str> = listed.undocumented.keys().map(String::as_str).collect();
    found.push_str(&format!(
        "; fields the documentation does not name: {}",
        names.join(", ")
    ));
    Finding::differs(
        "contact list",
        found,
        "yuju-export contacts --columns id,name,extra keeps them, as a JSON object",
    )
}

/// The record endpoint for one contact with chats: its shape, its codes,
/// and whether it honours the window.
async fn records(
    config: &ExportConfig,
    probe: &mut Probe,
    ids: &[String],
    findings: &mut Vec<Finding>,
) {
    let mut tried = 0;
    let mut found: Option<(&str, Chats)> = None;
    for id in ids.iter().filter(|id| !id.is_empty()).take(CONTACTS_TRIED) {
        tried += 1;
        match probe.chats(id, last_days(30)).await {
            Ok(chats) if !chats.success => {
                findings.push(Finding::differs(
                    "record endpoint",
                    format!(
                        "answered Code {} where the documentation shows 2000 for success",
                        chats.code
                    ),
                    "export takes only Code 2000 as success here: such answers are retried, then \
                     failed as unknown_code, and the watermark holds. Ask the platform's \
                     support which Code means success, and report it on the issue tracker",
                ));
                return;
            }
            Ok(chats) if !chats.ids.is_empty() => {
                found = Some((id, chats));
                break;
            }
            Ok(_) => {}
            Err(why) => {
                findings.push(Finding::differs(
                    "record endpoint",
                    format!("POST /v1/openapi/chat/record failed: {why}"),
                    "see the exit codes and the failed file's classes in docs/reference.md",
                ));
                return;
            }
        }
    }
    let Some((id, recent)) = found else {
        findings.push(Finding::unknown(
            "window",
            format!(
                "none of the {tried} contacts tried had chats in the last 30 days: the shape \
                 and the window could not be checked"
            ),
        ));
        return;
    };
    findings.push(shape_finding(&recent));
    window_findings(config, probe, id, &recent, findings).await;
}

/// Whether the answer had the documented shape.
fn shape_finding(chats: &Chats) -> Finding {
    if chats.drift.is_empty() {
        return Finding::ok(
            "record shape",
            format!(
                "{} chat(s) in the last 30 days, as documented",
                chats.ids.len()
            ),
        );
    }
    let mut what = Vec::new();
    if !chats.drift.undocumented.is_empty() {
        let names: Vec<&str> = chats
            .drift
            .undocumented
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        what.push(format!(
            "fields the documentation does not name: {}",
            names.join(", ")
        ));
    }
    let others: u64 = chats.drift.unexpected.iter().sum();
    if others > 0 {
        what.push(format!("{others} documented values of another JSON type"));
    }
    Finding::differs(
        "record shape",
        what.join("; "),
        "every message is kept either way; --columns ...,extra,chat_extra writes the \
         undocumented fields (a message time is often among them), and the summary's drift \
         counts them on every run",
    )
}

/// The year 2000 must come back empty, and the last 7 days within the
/// last 30.
async fn window_findings(
    config: &ExportConfig,
    probe: &mut Probe,
    id: &str,
    recent: &Chats,
    findings: &mut Vec<Finding>,
) {
    let at = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a valid date")
    };
    let old = match probe
        .chats(id, window(at(2000, 1, 1), at(2001, 1, 1)))
        .await
    {
        Ok(old) => old,
        Err(why) => {
            findings.push(Finding::unknown(
                "window",
                format!("the year 2000 could not be asked: {why}"),
            ));
            return;
        }
    };
    if !old.ids.is_empty() {
        findings.push(Finding::differs(
            "window",
            format!(
                "THE PLATFORM IGNORES start_time AND end_time: a contact with {} chats in the \
                 last 30 days has {} in the year 2000",
                recent.ids.len(),
                old.ids.len()
            ),
            "every nightly --state file would repeat the same chats. Until the platform honours \
             the window, do not schedule windows: export the whole history on demand (one \
             file), and deduplicate downstream on (customer_id, chat_id, seq); tell the \
             platform's support",
        ));
        return;
    }
    let now = config.zone.wall(chrono::Utc::now());
    let narrow = match probe.chats(id, window(now - Days::days(7), now)).await {
        Ok(narrow) => narrow,
        Err(why) => {
            findings.push(Finding::unknown(
                "window",
                format!("the last 7 days could not be asked: {why}"),
            ));
            return;
        }
    };
    let outside: Vec<&String> = narrow
        .ids
        .iter()
        .filter(|c| !recent.ids.contains(c))
        .collect();
    if !outside.is_empty() {
        findings.push(Finding::differs(
            "window",
            format!(
                "the last 7 days (start_time, end_time) hold {} chats the last 30 days (days) \
                 do not",
                outside.len()
            ),
            "the platform reads days and start_time/end_time differently: schedule with \
             --state (start_time/end_time), and compare one night's file with the console",
        ));
        return;
    }
    findings.push(Finding::ok(
        "window",
        format!(
            "honoured: of the contact's {} chat(s) in the last 30 days, none is in the year \
             2000 and {} in the last 7 days",
            recent.ids.len(),
            narrow.ids.len()
        ),
    ));
}

/// The report for a person.
fn render(report: &Report) -> String {
    let mut text = format!(
        "yuju-export {} doctor: {}\n\n",
        report.tool_version, report.platform
    );
    for f in &report.findings {
        let mark = match f.verdict {
            Verdict::Ok => "ok     ",
            Verdict::Differs => "DIFFERS",
            Verdict::Unknown => "unknown",
        };
        text.push_str(&format!("{mark}  {:<15} {}\n", f.check, f.found));
        if let Some(advice) = &f.advice {
            text.push_str(&format!("         {:<15} what to do: {advice}\n", ""));
        }
    }
    let statuses: Vec<String> = report
        .http_statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let codes: Vec<String> = report
        .api_codes
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    text.push_str(&format!(
        "\n{} requests; HTTP {}; Code {}{}\n",
        report.requests,
        statuses.join(", "),
        codes.join(", "),
        if report.http_statuses.contains_key("429") {
            "; a 429 came: the limit is low, and export's limiter finds it (docs/limits.md)"
        } else {
            "; no 429"
        }
    ));
    let verdict = match report.exit_code {
        0 => "everything matches the tool's assumptions",
        1 => "something differs: see what to do above",
        _ => "the platform could not be examined",
    };
    text.push_str(&format!("{verdict} (exit {})\n", report.exit_code));
    text
}
