//! TLS: a certificate the machine does not trust stops the run at once
//! (exit 3) saying so; `--ca-cert` adds a private CA. The server is a small
//! HTTPS endpoint on loopback with a certificate made for the test.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// The answer every request gets: one chat of one message.
const ANSWER: &str = r#"{"Code":2000,"Data":[{"chat_id":"c1","messages":[{"content":"你好","message_type":"AI对话","sender_type":"用户"}]}],"Msg":"成功","RequestId":"t"}"#;

/// An HTTPS server on 127.0.0.1 whose certificate is signed by a CA of
/// its own; returns its URL, the CA's PEM and the count of requests.
struct TlsServer {
    url: String,
    ca_pem: String,
    requests: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

fn tls_server() -> TlsServer {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "yuju-export test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if read_request(&mut tls).await.is_some() {
                    counted.fetch_add(1, Relaxed);
                    let mut reply = Vec::new();
                    write!(
                        reply,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    )
                    .unwrap();
                    let _ = tls.write_all(&reply).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    TlsServer {
        url: format!("https://{addr}"),
        ca_pem: ca.pem(),
        requests,
        _rt: rt,
    }
}

/// Read one request (head and a Content-Length body).
async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            return Some(());
        }
    }
}

fn run(wd: &Workdir, server: &TlsServer, extra: &[&str]) -> std::process::Output {
    let sim = Sim::healthy();
    let mut cmd = wd.cmd(&sim);
    cmd.env("YUJU_BASE_URL", &server.url)
        .args([
            "export",
            "--ids",
            "ids.txt",
            "--out",
            "x.csv",
            "--summary",
            "s.json",
        ])
        .args(extra);
    cmd.output().unwrap()
}

/// A certificate from a CA the machine does not trust: the run stops at
/// once with exit 3, saying it was the certificate and how to add a CA,
/// instead of retrying until the platform "looks down".
#[test]
fn an_untrusted_certificate_stops_the_run_at_once() {
    let server = tls_server();
    let wd = Workdir::new();
    wd.ids("ids.txt", &ids(100));
    let o = run(&wd, &server, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("--ca-cert"), "{err}");
    assert!(!err.contains("looks down"), "{err}");
    assert_eq!(server.requests.load(Relaxed), 0);
    let s = read_summary(&wd.path("s.json"));
    assert_eq!(s["stopped_because"], "certificate");
    assert!(s["requests"].as_u64().unwrap() <= 8, "{s}");
}

/// `--ca-cert` with the private CA: the same server is trusted and the
/// export completes.
#[test]
fn a_private_ca_is_trusted_with_ca_cert() {
    let server = tls_server();
    let wd = Workdir::new();
    let list = ids(5);
    wd.ids("ids.txt", &list);
    wd.write("ca.pem", &server.ca_pem);
    let o = run(&wd, &server, &["--ca-cert", "ca.pem"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = read_csv(&wd.path("x.csv"));
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.content == "你好"));
    assert_eq!(server.requests.load(Relaxed), 5);
    let o = run(&wd, &server, &["--ca-cert", "ids.txt"]);
    assert_eq!(code(&o), 2, "not a certificate: {}", stderr(&o));
}
