//! The exact request on the wire, pinned with wiremock, and the tolerant
//! reading of odd but valid answers.

use std::process::Output;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

async fn run(wd: &Workdir, base_url: String, args: Vec<String>) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_yuju-export"));
    cmd.current_dir(wd.dir.path())
        .env_clear()
        .env("YUJU_API_KEY", KEY)
        .env("YUJU_BASE_URL", base_url)
        .arg("export")
        .args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Default request: POST to the documented path, `apiKey` as the only query
/// parameter, JSON content type, and the seven fields with `days` "30" as a
/// string and every unused field empty.
#[tokio::test]
async fn default_request_is_exactly_as_documented() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/openapi/chat/record"))
        .and(query_param("apiKey", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "customer_id": "c1", "days": "30", "start_time": "", "end_time": "",
            "chat_source": [], "chat_robot": [], "seat_member": []
        })))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"Code":2000,"Data":[],"Msg":"成功"}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let wd = Workdir::new();
    wd.ids("ids.txt", &["c1"]);
    let out = run(
        &wd,
        server.uri(),
        strings(&["--ids", "ids.txt", "--out", "x.csv"]),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let pairs: Vec<(String, String)> = reqs[0].url.query_pairs().into_owned().collect();
    assert_eq!(pairs, [("apiKey".to_string(), KEY.to_string())]);
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 7);
}

/// Window and filters: times sent as `YYYY-MM-DD HH:MM:SS` (an RFC 3339
/// instant as wall-clock time in `--tz`) with `days` empty, repeatable
/// filters as arrays in order; a base URL with a path prefix keeps it.
#[tokio::test]
async fn window_and_filters_are_sent_as_strings_and_arrays() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gateway/v1/openapi/chat/record"))
        .and(body_json(json!({
            "customer_id": "c1", "days": "",
            "start_time": "2026-01-01 00:00:00", "end_time": "2026-01-31 23:59:59",
            "chat_source": ["抖音", "企业微信"], "chat_robot": ["bot-1"], "seat_member": ["alice"]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"Code":2000,"Data":[]}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let wd = Workdir::new();
    wd.ids("ids.txt", &["c1"]);
    let out = run(
        &wd,
        format!("{}/gateway/", server.uri()),
        strings(&[
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--start",
            "2026-01-01",
            "--end",
            "2026-01-31T15:59:59Z",
            "--tz",
            "Asia/Shanghai",
            "--chat-source",
            "抖音",
            "--chat-source",
            "企业微信",
            "--chat-robot",
            "bot-1",
            "--seat-member",
            "alice",
        ]),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// Odd but valid answers: `Data: null`, a chat without `messages`, null
/// fields, `Code` as a string and unknown extra fields are all accepted.
#[tokio::test]
async fn tolerant_reading_of_valid_answers() {
    let server = MockServer::start().await;
    let body = json!({
        "Code": "2000", "Msg": "成功", "Unknown": {"a": 1},
        "Data": [
            {"chat_id": "a", "extra": true},
            {"chat_id": "b", "messages": [
                {"content": "hi", "message_type": "AI对话", "sender_type": "用户", "ts": 1},
                {"content": null, "message_type": "人工对话"}
            ]}
        ]
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let wd = Workdir::new();
    wd.ids("ids.txt", &["c1"]);
    let out = run(
        &wd,
        server.uri(),
        strings(&["--ids", "ids.txt", "--out", "x.csv", "--summary", "s.json"]),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv(&wd.path("x.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].seq, 1);
    assert_eq!(rows[1].content, "");
    assert_eq!(rows[1].sender_type, "");
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["chats"], 2);
}
