//! The HTTP client: one pooled reqwest client, rustls, gzip, no redirects.
//!
//! The request URL carries the key, so it lives only in this struct's private
//! field; errors leave here already stripped of it (see
//! [`super::classify::describe_error`]) and `Debug` redacts it.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::classify::{classify_error, classify_status, Verdict};
use super::endpoint::{ApiKey, Endpoint, Method, Request, CHECK};
use super::untrusted::Redactor;

/// Most bytes preallocated from a `Content-Length` header (a lying header
/// must not make us allocate gigabytes up front).
const MAX_PREALLOC: u64 = 16 * 1024 * 1024;

/// An answer past this size needs the client's one large-answer pass to
/// grow further: however many requests are in flight, at most one answer
/// (and its rows) is large at a time, so memory stays near
/// `--max-response-bytes` plus a few of these per request, whatever the
/// server sends.
pub const LARGE_ANSWER: usize = 4 * 1024 * 1024;

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Timeout of one whole request, body included.
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Idle connections kept per host (the concurrency).
    pub pool_size: usize,
    /// Largest answer accepted, counted after decompression.
    pub max_response_bytes: u64,
    /// A PEM file of extra root certificates (a private CA, a
    /// TLS-inspecting proxy's).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// A 200 answer's body. While it holds the large-answer pass, no other
/// answer may grow past [`LARGE_ANSWER`]: keep it only as long as the body
/// (and the rows made from it) are needed.
pub struct Answer {
    pub body: Vec<u8>,
    _large: Option<OwnedSemaphorePermit>,
}

/// Which request proved a key good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProof {
    /// `GET /v1/openapi/check` answered `{"success":true}`.
    CheckEndpoint,
    /// That endpoint answered otherwise; the probe's answer was an
    /// envelope.
    Probe,
}

/// Sends one item's request to an endpoint and returns the raw answer.
pub struct ApiClient {
    http: reqwest::Client,
    /// The base URL, without the key.
    base: reqwest::Url,
    /// The key, put into each request's URL only here (see
    /// [`super::endpoint::Endpoint::url`]).
    key: ApiKey,
    /// Keeps the key out of server text shown (see [`Self::shown`]).
    redactor: Redactor,
    /// The URL (with the key) of the first endpoint requested, kept: a run
    /// sends every request to one endpoint.
    url: OnceLock<(Endpoint, reqwest::Url)>,
    max_response_bytes: u64,
    /// Timeout of one request, body included (`--timeout`).
    timeout: Duration,
    /// The one pass to grow an answer past [`LARGE_ANSWER`].
    large: Arc<Semaphore>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("host", &self.base.host_str())
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(
        base: &reqwest::Url,
        key: &ApiKey,
        settings: &ClientSettings,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("yuju-export/", env!("CARGO_PKG_VERSION")))
            // The request's own deadline is kept in `post`: the time an
            // answer waits for the large-answer pass is not the platform's.
            .connect_timeout(settings.connect_timeout)
            .pool_max_idle_per_host(settings.pool_size)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none());
        #[cfg(feature = "static-resolver")]
        {
            builder = builder.dns_resolver(Arc::new(super::resolve::OwnResolver::default()));
        }
        if let Some(path) = &settings.ca_cert {
            for cert in read_ca_cert(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(ApiClient {
            http,
            base: base.clone(),
            key: key.clone(),
            redactor: Redactor::new(key),
            url: OnceLock::new(),
            max_response_bytes: settings.max_response_bytes,
            timeout: settings.timeout,
            large: Arc::new(Semaphore::new(1)),
        })
    }

    /// Ask the platform whether the key is valid (`GET /v1/openapi/check`).
    /// That endpoint's shape comes from a secondary source: when it answers
    /// anything else (a 404, another body), the key is proved with
    /// `probe` instead (the record endpoint: 401 is a bad key, any
    /// envelope a good one). The error says why not, never with the URL.
    pub async fn check_key(&self, probe: &dyn Request) -> Result<KeyProof, String> {
        match self.ask_check().await? {
            Some(true) => Ok(KeyProof::CheckEndpoint),
            Some(false) => Err("the platform refused the API key: it is invalid or expired".into()),
            None => self.prove_key(probe).await.map(|()| KeyProof::Probe),
        }
    }

    /// `GET /v1/openapi/check`: `Some(valid)` when it answered as
    /// documented, `None` when it answered anything else.
    async fn ask_check(&self) -> Result<Option<bool>, String> {
        let answer = self
            .http
            .get(CHECK.url(&self.base, &self.key))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| super::classify::describe_error(&e))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| super::classify::describe_error(&e))?;
        let success = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("success").and_then(|s| s.as_bool()));
        Ok(match (status.as_u16(), success) {
            (200, Some(valid)) => Some(valid),
            (401, _) => Some(false),
            (402, _) => return Err("the account's resource package (quota) is exhausted".into()),
            _ => None,
        })
    }

    /// Prove the key with one request of `probe`: 401 is a bad key, 402 an
    /// exhausted quota, and any envelope the platform's answer to a good
    /// key.
    async fn prove_key(&self, probe: &dyn Request) -> Result<(), String> {
        let pool = crate::api::bufpool::BufPool::new(1 << 20, 1);
        match self.send(probe, "key-check", &pool).await {
            Ok(answer) => {
                let envelope: Result<super::envelope::Envelope<'_, super::Chat<'_>>, _> =
                    super::classify::classify_body(&answer.body, &super::CodePolicy::default());
                match envelope {
                    Ok(_) | Err(Verdict::Code(_)) | Err(Verdict::Unusable { .. }) => Ok(()),
                    Err(_) => Err("the key check answered neither as documented nor with an \
                                   envelope: the address may not be the platform's"
                        .into()),
                }
            }
            Err(Verdict::Stop(super::StopReason::BadKey)) => {
                Err("the platform refused the API key: it is invalid or expired".into())
            }
            Err(Verdict::Stop(super::StopReason::QuotaExhausted)) => {
                Err("the account's resource package (quota) is exhausted".into())
            }
            Err(Verdict::Rejected { status, .. }) => Err(format!(
                "the platform's address answered HTTP {status}: check base_url"
            )),
            Err(Verdict::Transient { detail, .. } | Verdict::Certificate { detail }) => Err(
                format!("the key could not be checked: {}", self.shown(&detail)),
            ),
            Err(_) => Err("the key could not be checked".into()),
        }
    }

    /// Server text made safe to show (see [`super::untrusted`]).
    pub fn shown(&self, text: &str) -> String {
        self.redactor.shown(text)
    }

    /// One attempt of `request` for one item (a customer ID): the body of
    /// a 200, or the verdict on what came back instead. The body is not
    /// judged here.
    ///
    /// The body is read chunk by chunk into one buffer from `pool`, sized
    /// from `Content-Length` (up to a bound), and never past
    /// `--max-response-bytes`, counted after decompression.
    pub async fn send(
        &self,
        request: &dyn Request,
        item: &str,
        pool: &crate::api::bufpool::BufPool,
    ) -> Result<Answer, Verdict> {
        let endpoint = request.endpoint();
        let url = match self.url.get() {
            Some((kept, url)) if *kept == endpoint => url.clone(),
            _ => {
                let url = endpoint.url(&self.base, &self.key);
                let _ = self.url.set((endpoint, url.clone()));
                url
            }
        };
        let builder = match endpoint.method {
            Method::Post => self
                .http
                .post(url)
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(request.body(item)),
            Method::Get => self.http.get(url),
        };
        // `--timeout` covers sending, the status and the whole body, less
        // any wait for the large-answer pass.
        let mut deadline = tokio::time::Instant::now() + self.timeout;
        let send = builder.send();
        let response = tokio::time::timeout_at(deadline, send)
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| classify_error(&e))?;
        if let Some(verdict) = classify_status(response.status(), response.headers()) {
            return Err(verdict);
        }
        let limit = self.max_response_bytes;
        let too_large = Verdict::TooLarge { limit };
        let mut response = response;
        let announced = response.content_length().unwrap_or(0);
        if announced > limit {
            return Err(too_large);
        }
        let mut body = pool.take(announced.min(MAX_PREALLOC) as usize);
        let mut large = None;
        loop {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| classify_error(&e))?;
            let Some(chunk) = chunk else {
                break;
            };
            let len = body.len() + chunk.len();
            if len as u64 > limit {
                pool.give(body);
                return Err(too_large);
            }
            if len > LARGE_ANSWER && large.is_none() {
                let waiting = tokio::time::Instant::now();
                large = Some(
                    self.large
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the large-answer semaphore is never closed"),
                );
                deadline += waiting.elapsed();
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            body,
            _large: large,
        })
    }
}

/// The verdict on a request that outlasted `--timeout`.
fn timed_out() -> Verdict {
    Verdict::Transient {
        cause: super::Cause::Timeout,
        detail: "request timed out".into(),
        retry_after: None,
    }
}

/// The certificates of a PEM file given as `--ca-cert`.
fn read_ca_cert(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("--ca-cert: cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        anyhow::anyhow!(
            "--ca-cert {}: not PEM certificates: {}",
            path.display(),
            e.without_url()
        )
    })?;
    if certs.is_empty() {
        anyhow::bail!("--ca-cert {}: no certificate in it", path.display());
    }
    Ok(certs)
}
