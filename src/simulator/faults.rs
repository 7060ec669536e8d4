//! The faults the simulator can inject, and how each is answered.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`.
    TooMany,
    /// 500 with an HTML body.
    Status500,
    /// 502 with an HTML body.
    Status502,
    /// 503 with an HTML body.
    Status503,
    /// The connection is dropped before any body byte.
    Reset,
    /// A `Content-Length` promising more than is sent, then a drop.
    Truncated,
    /// 200 with an HTML page.
    Html,
    /// 200 with JSON that does not parse.
    Malformed,
    /// No answer for a long time (beyond any sensible timeout).
    Hang,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::TooMany,
        Fault::Status500,
        Fault::Status502,
        Fault::Status503,
        Fault::Reset,
        Fault::Truncated,
        Fault::Html,
        Fault::Malformed,
        Fault::Hang,
    ];

    /// Parse a comma-separated list (`all` = every kind).
    pub fn parse_list(list: &str) -> Result<Vec<Fault>, String> {
        if list.trim() == "all" {
            return Ok(Fault::ALL.to_vec());
        }
        list.split(',').map(|s| s.trim().parse()).collect()
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "429" => Fault::TooMany,
            "500" => Fault::Status500,
            "502" => Fault::Status502,
            "503" => Fault::Status503,
            "reset" => Fault::Reset,
            "truncated" => Fault::Truncated,
            "html" => Fault::Html,
            "malformed" => Fault::Malformed,
            "hang" => Fault::Hang,
            other => {
                return Err(format!(
                    "unknown fault {other:?}: use 429,500,502,503,reset,truncated,html,malformed,hang or all"
                ))
            }
        })
    }
}

/// The body the platform sends with a rate-limit 429.
pub const TOO_MANY: &str = "Too Many Requests in one second";

pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response<Body> {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn html(status: StatusCode) -> Response<Body> {
    text(
        status,
        "text/html",
        format!("<html><head><title>{status}</title></head><body><h1>{status}</h1><hr>nginx</body></html>"),
    )
}

/// A body stream that fails after `prefix`, so hyper drops the connection.
fn broken_body(prefix: Vec<u8>) -> Body {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from(prefix)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        )),
    ];
    Body::from_stream(futures_util::stream::iter(chunks))
}

/// The answer for a fault; `good` is the body a healthy answer would have.
/// `Hang` is handled by the caller (it sleeps, then answers normally).
pub fn respond(fault: Fault, good: &str, retry_after: Duration) -> Response<Body> {
    match fault {
        Fault::TooMany => {
            let mut r = text(StatusCode::TOO_MANY_REQUESTS, "text/plain", TOO_MANY);
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.as_secs().to_string()).expect("digits"),
            );
            r
        }
        Fault::Status500 => html(StatusCode::INTERNAL_SERVER_ERROR),
        Fault::Status502 => html(StatusCode::BAD_GATEWAY),
        Fault::Status503 => html(StatusCode::SERVICE_UNAVAILABLE),
        Fault::Reset => text(StatusCode::OK, "application/json", broken_body(Vec::new())),
        Fault::Truncated => {
            let half = good.len() / 2;
            let mut r = text(
                StatusCode::OK,
                "application/json",
                broken_body(good.as_bytes()[..half].to_vec()),
            );
            r.headers_mut().insert(
                header::CONTENT_LENGTH,
                HeaderValue::from_str(&good.len().to_string()).expect("digits"),
            );
            r
        }
        Fault::Html => html(StatusCode::OK),
        Fault::Malformed => text(
            StatusCode::OK,
            "application/json",
            "{\"Code\": 2000, \"Data\": [{\"chat_id\": \"x\", \"messages\": [}]}",
        ),
        Fault::Hang => unreachable!("the caller handles hangs"),
    }
}
