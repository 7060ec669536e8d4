//! The HTTP client: one pooled reqwest client, rustls, gzip, no redirects.
//!
//! The request URL carries the key, so it lives only in this struct's private
//! field; errors leave here already stripped of it (see
//! [`super::classify::describe_error`]) and `Debug` redacts it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};

use super::classify::{classify_error, classify_status, Verdict};
use super::endpoint::{endpoint_url, ApiKey};
use crate::query::Query;

/// Most bytes preallocated from a `Content-Length` header (a lying header
/// must not make us allocate gigabytes up front).
const MAX_PREALLOC: u64 = 256 * 1024 * 1024;

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Timeout of one whole request, body included.
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Idle connections kept per host (the concurrency).
    pub pool_size: usize,
}

/// Posts one customer's query and returns the raw answer.
pub struct ApiClient {
    http: reqwest::Client,
    /// The endpoint URL with `apiKey` in its query: secret.
    url: reqwest::Url,
    query: Query,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("host", &self.url.host_str())
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(
        base: &reqwest::Url,
        key: &ApiKey,
        query: Query,
        settings: &ClientSettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("yuju-export/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .pool_max_idle_per_host(settings.pool_size)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(ApiClient {
            http,
            url: endpoint_url(base, key),
            query,
        })
    }

    /// One attempt for one customer: the body of a 200, or the verdict on
    /// what came back instead. The body is not judged here.
    ///
    /// The body is read chunk by chunk into one buffer sized from
    /// `Content-Length`, so a large answer costs its size once, not twice.
    /// Fetch one customer's answer into a buffer from `pool`.
    pub async fn post(
        &self,
        customer_id: &str,
        pool: &crate::bufpool::BufPool,
    ) -> Result<Vec<u8>, Verdict> {
        let body = serde_json::to_vec(&self.query.body(customer_id))
            .expect("the request body always serialises");
        let response = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|e| classify_error(&e))?;
        if let Some(verdict) = classify_status(response.status(), response.headers()) {
            return Err(verdict);
        }
        let mut response = response;
        let expected = response.content_length().unwrap_or(0).min(MAX_PREALLOC) as usize;
        let mut body = pool.take(expected);
        while let Some(chunk) = response.chunk().await.map_err(|e| classify_error(&e))? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
