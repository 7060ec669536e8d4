//! Answers a hostile or broken server might send, by customer ID prefix,
//! for the tests of the client's limits:
//!
//! | ID prefix    | answer                                                        |
//! |--------------|---------------------------------------------------------------|
//! | `echo…`      | `Code` 4000 whose `Msg` quotes the request line (key and all) and forges a log line with `\r\n`; `echo-big…` adds 5 MB |
//! | `endless…`   | a 200 whose chunked body never ends                           |
//! | `bomb…`      | a 200 gzip body of a few MB that inflates to 4 GiB            |
//! | `redirect…`  | a 302 to another host, with a token in the query              |

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode};
use futures_util::stream;

/// The hostile answer for `id`'s request number `nth` (1-based), if it
/// names one.
pub fn respond(id: &str, raw_query: &str, nth: u64) -> Option<Response<Body>> {
    if id.starts_with("echo") {
        let mut msg = format!(
            "bad request: POST /v1/openapi/chat/record?{raw_query} HTTP/1.1\r\n\
             2026-11-27T03:00:00Z ERROR forged log line"
        );
        if id.starts_with("echo-big") {
            msg.push_str(&"x".repeat(5 << 20));
        }
        let body = serde_json::json!({"Code": 4000, "Data": null, "Msg": msg}).to_string();
        return Some(with_type(
            StatusCode::OK,
            "application/json",
            Body::from(body),
        ));
    }
    if id.starts_with("endless") {
        let head = stream::once(async {
            Ok::<_, std::io::Error>(Bytes::from_static(b"{\"Code\":2000,\"Data\":["))
        });
        let chunk = Bytes::from("{\"chat_id\":\"x\",\"messages\":[]},".repeat(2048));
        let tail = stream::repeat_with(move || Ok(chunk.clone()));
        return Some(with_type(
            StatusCode::OK,
            "application/json",
            Body::from_stream(stream::StreamExt::chain(head, tail)),
        ));
    }
    if id.starts_with("bomb") {
        let mut response = with_type(
            StatusCode::OK,
            "application/json",
            Body::from_stream(bomb()),
        );
        response.headers_mut().insert(
            axum::http::header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("gzip"),
        );
        return Some(response);
    }
    // A gateway's 404: `status-404-once…` for the first request only
    // (a gateway during a deployment), `status-404…` for every one.
    if id.starts_with("status-404-once") && nth <= 1
        || id.starts_with("status-404") && !id.starts_with("status-404-once")
    {
        return Some(with_type(
            StatusCode::NOT_FOUND,
            "text/html",
            Body::from("<html><body><h1>404 Not Found</h1></body></html>"),
        ));
    }
    if id.starts_with("redirect") {
        let mut response = with_type(StatusCode::FOUND, "text/plain", Body::from("moved"));
        response.headers_mut().insert(
            axum::http::header::LOCATION,
            axum::http::HeaderValue::from_static("https://elsewhere.example/login?token=s3cr3t"),
        );
        return Some(response);
    }
    None
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(content_type),
    );
    r
}

/// 4 GiB of a JSON prefix and spaces, gzipped as it is sent (a MiB of
/// spaces compresses to about a KiB), so the simulator never holds it.
fn bomb() -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    const MIB: usize = 1 << 20;
    const TOTAL_MIB: usize = 4096;
    let spaces = vec![b' '; MIB];
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(b"{\"Code\":2000,\"Data\":[");
    stream::unfold(
        (encoder, 0usize, spaces),
        |(mut encoder, sent, spaces)| async move {
            if sent > TOTAL_MIB {
                return None;
            }
            let chunk = if sent == TOTAL_MIB {
                let _ = encoder.write_all(b"]}");
                let done = encoder.finish().unwrap_or_default();
                encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                done
            } else {
                let _ = encoder.write_all(&spaces);
                std::mem::take(encoder.get_mut())
            };
            Some((Ok(Bytes::from(chunk)), (encoder, sent + 1, spaces)))
        },
    )
}
