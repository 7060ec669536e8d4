//! What an answer from the platform means, in one place.
//!
//! | answer                                   | verdict                          |
//! |------------------------------------------|----------------------------------|
//! | 200, `Code` 2000                         | success: use `Data`              |
//! | 200, any other `Code`                    | by its class ([`super::codes`]): definitive, transient, throttled or unknown |
//! | 200, `Code` 2000, a list that is not one | unusable shape, not retried      |
//! | 401                                      | stop the run: bad key            |
//! | 402                                      | stop the run: quota exhausted    |
//! | 408, 425, 429, 5xx                       | transient: retry with backoff    |
//! | other status (3xx, 400, 403, 404, ...)   | not the platform's answer: retried once, then this customer fails as `unknown`; one status for every customer (or 20 in a row) stops the run |
//! | an answer over `--max-response-bytes`    | this customer fails, not retried |
//! | a TLS certificate refused                | stop the run                     |
//! | timeout, connect error, reset            | transient                        |
//! | truncated, non-JSON or shapeless body    | transient                        |

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::codes::{CodeClass, CodePolicy};
use super::envelope::{Envelope, Item};

/// Why a whole run must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// HTTP 401: the key is invalid or expired.
    BadKey,
    /// HTTP 402: the account's resource package is used up.
    QuotaExhausted,
    /// Transient failures dominate: the platform looks down.
    PlatformDown,
    /// The platform's TLS certificate was refused.
    Certificate,
    /// Customer after customer got the same foreign status (one the
    /// platform does not answer with): the base URL is probably wrong, or
    /// a gateway stands in the platform's place.
    Misdirected {
        /// The HTTP status they all got.
        status: u16,
        /// How many customers in a row got it.
        streak: u64,
    },
}

impl StopReason {
    /// What to tell the operator.
    pub fn message(self) -> String {
        match self {
            StopReason::Certificate => {
                "the platform's TLS certificate was refused (the reason is above). For a \
                 TLS-inspecting proxy or a private CA, pass its certificate with --ca-cert PATH \
                 or install it in the system's trust store"
                    .into()
            }
            StopReason::Misdirected { status, streak } => {
                let why = if status == 404 || (300..400).contains(&status) {
                    "--base-url probably names the wrong address"
                } else {
                    "the platform answers in its envelope, so --base-url probably names \
                     something else (a proxy, a gateway), or the platform is being deployed"
                };
                format!("the API answered HTTP {status} to {streak} customer(s) in a row: {why}")
            }
            StopReason::BadKey => {
                "the API answered 401: the API key is invalid or expired. Check YUJU_API_KEY or --api-key-file".into()
            }
            StopReason::QuotaExhausted => {
                "the API answered 402: the account's resource package (quota) is exhausted. Top it up, then run again".into()
            }
            StopReason::PlatformDown => {
                "the platform looks down: transient failures dominate (see the summary). Try again later".into()
            }
        }
    }
}

/// The kind of a transient fault, counted separately in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// 429: over the per-second rate limit.
    RateLimited,
    /// 5xx (and 408, 425).
    Server,
    /// The request timed out.
    Timeout,
    /// Connecting failed or the connection was reset.
    Connection,
    /// Truncated, non-JSON or unexpected body.
    BadBody,
    /// A 200 whose `Code` is a transient fault (busy, a 5xx or 5xxx code).
    CodeTransient,
    /// A 200 whose `Msg` reads as a rate limit: a 429 told in the envelope.
    CodeThrottled,
    /// A 200 whose `Code` nobody has classified: retried once.
    CodeUnknown,
    /// An HTTP status the platform does not answer with (3xx, 400, 403,
    /// 404, ...): retried once.
    HttpStatus,
}

impl Cause {
    pub const ALL: [Cause; 9] = [
        Cause::RateLimited,
        Cause::Server,
        Cause::Timeout,
        Cause::Connection,
        Cause::BadBody,
        Cause::CodeTransient,
        Cause::CodeThrottled,
        Cause::CodeUnknown,
        Cause::HttpStatus,
    ];

    /// Whether the cause is the key's rate limit (an HTTP 429, or one told
    /// in the envelope): it slows the limiter and spends the 429 allowance.
    pub fn is_throttle(self) -> bool {
        matches!(self, Cause::RateLimited | Cause::CodeThrottled)
    }

    pub fn name(self) -> &'static str {
        match self {
            Cause::RateLimited => "429",
            Cause::Server => "5xx",
            Cause::Timeout => "timeout",
            Cause::Connection => "connection",
            Cause::BadBody => "bad_body",
            Cause::CodeTransient => "code_transient",
            Cause::CodeThrottled => "code_throttled",
            Cause::CodeUnknown => "code_unknown",
            Cause::HttpStatus => "http_status",
        }
    }
}

/// The verdict on an answer that is not a success (a success is the
/// parsed [`Envelope`] itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A non-2000 `Code`, judged by its class.
    Code(CodeAnswer),
    /// `Code` 2000, but a shape no row can come from (`Data` an object,
    /// `messages` a string): this customer fails; not retried, as the same
    /// bytes would come back.
    Unusable { detail: String },
    /// An HTTP status that is none of the platform's (200, 401, 402, 429,
    /// 5xx): not an answer about the customer. Retried once.
    Rejected {
        status: u16,
        /// Where a redirect points, without its query (server text: made
        /// safe before it is shown).
        location: Option<String>,
    },
    /// The answer passed `--max-response-bytes` (counted decompressed);
    /// not retried: the same answer would come back.
    TooLarge { limit: u64 },
    /// The TLS certificate was refused: the run stops.
    Certificate { detail: String },
    /// The run must stop.
    Stop(StopReason),
    /// Worth retrying after a backoff.
    Transient {
        cause: Cause,
        /// What went wrong, for the failed file (never holds a URL).
        detail: String,
        /// The wait the platform asked for, if any.
        retry_after: Option<Duration>,
    },
}

/// A 200 answer with a `Code` other than 2000.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeAnswer {
    /// The code, if it is an integer.
    pub code: Option<i64>,
    /// The code's JSON text, compact (`5000`, `"E1"`), for reports.
    pub text: String,
    /// What it means.
    pub class: CodeClass,
    /// `Msg`, or `API Code <text>` when it is empty (server text: made
    /// safe before it is shown).
    pub msg: String,
}

impl CodeAnswer {
    /// How the failed file and the log tell it: `API Code 4000: 客户不存在`.
    pub fn describe(&self) -> String {
        match self.code {
            Some(code) => format!("API Code {code}: {}", self.msg),
            None => format!("API error: {}", self.msg),
        }
    }
}

/// Judge the status line; `None` means "200: read the body".
pub fn classify_status(status: StatusCode, headers: &HeaderMap) -> Option<Verdict> {
    let transient = |cause, detail: String| Verdict::Transient {
        cause,
        detail,
        retry_after: headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
    };
    match status.as_u16() {
        200 => None,
        401 => Some(Verdict::Stop(StopReason::BadKey)),
        402 => Some(Verdict::Stop(StopReason::QuotaExhausted)),
        429 => Some(transient(
            Cause::RateLimited,
            "HTTP 429 Too Many Requests".into(),
        )),
        408 | 425 | 500..=599 => Some(transient(Cause::Server, format!("HTTP {status}"))),
        other => Some(Verdict::Rejected {
            status: other,
            location: (300..400)
                .contains(&other)
                .then(|| headers.get(reqwest::header::LOCATION))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .map(without_query),
        }),
    }
}

/// A redirect target without its query or fragment (they may carry
/// tokens), as the operator may be shown it.
fn without_query(location: &str) -> String {
    let end = location.find(['?', '#']).unwrap_or(location.len());
    location[..end].to_string()
}

/// Whether a transport error is a TLS certificate being refused.
fn is_certificate_error(err: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") {
            return true;
        }
        source = s.source();
    }
    false
}

/// Judge a transport error. The description never holds the URL.
pub fn classify_error(err: &reqwest::Error) -> Verdict {
    if is_certificate_error(err) {
        return Verdict::Certificate {
            detail: describe_error(err),
        };
    }
    let cause = if err.is_timeout() {
        Cause::Timeout
    } else if err.is_body() || err.is_decode() {
        Cause::BadBody
    } else {
        Cause::Connection
    };
    Verdict::Transient {
        cause,
        detail: describe_error(err),
        retry_after: None,
    }
}

/// An error chain without any URL: reqwest puts the URL (and so the key) in
/// its own `Display`, so it is stripped before anything is formatted.
pub fn describe_error(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "request timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else if err.is_body() || err.is_decode() {
        "response body was cut off or unreadable".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let part = s.to_string();
        if !part.contains("apiKey") && !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Judge a 200 body: the envelope when `Code` says success for its items
/// `T` (2000 for chats), otherwise the verdict, another code judged by
/// `codes`.
pub fn classify_body<'a, T: Item<'a>>(
    body: &'a [u8],
    codes: &CodePolicy,
) -> Result<Envelope<'a, T>, Verdict> {
    let bad_body = |detail: String| Verdict::Transient {
        cause: Cause::BadBody,
        detail,
        retry_after: None,
    };
    // Validate UTF-8 once, with SIMD, instead of string by string inside
    // serde_json: most of the body is non-ASCII (Chinese) text.
    let text = simdutf8::basic::from_utf8(body)
        .map_err(|_| bad_body(format!("body is not UTF-8 ({} bytes)", body.len())))?;
    let envelope = Envelope::from_json(text).map_err(|e| {
        let what = if e.is_eof() {
            "truncated JSON body"
        } else {
            "body is not the expected JSON"
        };
        bad_body(format!("{what} ({} bytes): {e}", body.len()))
    })?;
    if envelope.is_success() {
        return match envelope.unusable() {
            None => Ok(envelope),
            Some(detail) => Err(Verdict::Unusable { detail }),
        };
    }
    match envelope.code() {
        None if envelope.code.is_none() => Err(bad_body("JSON body without a Code".into())),
        code => {
            let msg = envelope.msg.as_str();
            Err(Verdict::Code(CodeAnswer {
                code,
                text: envelope.code_text().into_owned(),
                class: codes.classify(code, msg),
                msg: Some(msg)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("API Code {}", envelope.code_text())),
            }))
        }
    }
}

/// Parse `Retry-After`: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(1e9)));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Chat;
    use reqwest::header::HeaderValue;

    fn codes() -> CodePolicy {
        CodePolicy::default()
    }

    fn status(code: u16) -> Option<Verdict> {
        classify_status(StatusCode::from_u16(code).unwrap(), &HeaderMap::new())
    }

    fn cause(v: Option<Verdict>) -> Option<Cause> {
        match v {
            Some(Verdict::Transient { cause, .. }) => Some(cause),
            _ => None,
        }
    }

    #[test]
    fn status_table_matches_the_contract() {
        assert_eq!(status(200), None);
        assert_eq!(status(401), Some(Verdict::Stop(StopReason::BadKey)));
        assert_eq!(status(402), Some(Verdict::Stop(StopReason::QuotaExhausted)));
        assert_eq!(cause(status(429)), Some(Cause::RateLimited));
        for s in [500, 502, 503, 504, 408] {
            assert_eq!(cause(status(s)), Some(Cause::Server), "{s}");
        }
        assert_eq!(
            status(404),
            Some(Verdict::Rejected {
                status: 404,
                location: None
            })
        );
    }

    #[test]
    fn retry_after_header_is_read() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let v = classify_status(StatusCode::TOO_MANY_REQUESTS, &h);
        assert!(
            matches!(v, Some(Verdict::Transient { retry_after: Some(d), .. }) if d == Duration::from_secs(3))
        );
    }

    #[test]
    fn retry_after_both_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn success_body_gives_the_envelope() {
        let env =
            classify_body::<Chat>(br#"{"Code":2000,"Data":[],"Msg":"ok"}"#, &codes()).unwrap();
        assert!(env.chats().is_empty());
    }

    #[test]
    fn business_failure_carries_msg() {
        let v = classify_body::<Chat>(
            "{\"Code\":4000,\"Msg\":\"客户不存在\"}".as_bytes(),
            &codes(),
        )
        .unwrap_err();
        let Verdict::Code(answer) = v else {
            panic!("{v:?}")
        };
        assert_eq!(answer.code, Some(4000));
        assert_eq!(answer.class, CodeClass::Definitive);
        assert_eq!(answer.describe(), "API Code 4000: 客户不存在");
    }

    #[test]
    fn envelope_faults_are_judged_by_their_class() {
        let judge = |body: &str| match classify_body::<Chat>(body.as_bytes(), &codes()) {
            Err(Verdict::Code(a)) => (a.text, a.class, a.msg),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            judge(r#"{"Code":5000,"Msg":"系统繁忙，请稍后再试"}"#),
            (
                "5000".into(),
                CodeClass::Transient,
                "系统繁忙，请稍后再试".into()
            )
        );
        assert_eq!(
            judge(r#"{"Code":"E1","Msg":""}"#),
            (
                r#""E1""#.into(),
                CodeClass::Unknown,
                r#"API Code "E1""#.into()
            )
        );
        assert_eq!(
            judge(r#"{"Code":4290,"Msg":"Too Many Requests in one second"}"#).1,
            CodeClass::Throttled
        );
    }

    #[test]
    fn bad_bodies_are_transient() {
        for body in [
            &b"<html><body>502 Bad Gateway</body></html>"[..],
            br#"{"Code":2000,"Data":[{"chat_id":"x","mess"#,
            br#"{"Data":[]}"#,
            b"",
            br#"[{"Code":2000}]"#,
        ] {
            let v = classify_body::<Chat>(body, &codes()).unwrap_err();
            assert!(
                matches!(
                    v,
                    Verdict::Transient {
                        cause: Cause::BadBody,
                        ..
                    }
                ),
                "{v:?}"
            );
        }
    }

    /// Odd value types are an answer like any other; only a list that is
    /// not a list makes it unusable, and that is not transient.
    #[test]
    fn drifted_values_succeed_and_unusable_shapes_are_final() {
        let body = br#"{"Code":2000,"Data":[{"chat_id":1,"messages":[{"content":{"a":1}}]}]}"#;
        assert_eq!(
            classify_body::<Chat>(body, &codes()).unwrap().chats().len(),
            1
        );
        let v = classify_body::<Chat>(br#"{"Code":2000,"Data":{"chat_id":"x"}}"#, &codes())
            .unwrap_err();
        assert_eq!(
            v,
            Verdict::Unusable {
                detail: "Data is an object, not a list of chats".into()
            }
        );
        // A business failure is reported as such, whatever its Data.
        let v =
            classify_body::<Chat>(br#"{"Data":{},"Code":4000,"Msg":"no"}"#, &codes()).unwrap_err();
        assert!(matches!(v, Verdict::Code(_)), "{v:?}");
    }
}
