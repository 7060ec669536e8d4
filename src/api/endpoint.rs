//! Where the API is and how a request is addressed: the base URL, an
//! endpoint ([`Endpoint`]: its method and path) and the request the engine
//! sends for each item ([`Request`]), and the key that travels in the
//! query string.
//!
//! The key is secret, so only [`Endpoint::url`] (private to the client)
//! ever puts it into a URL; everything that is shown uses
//! [`Endpoint::shown_url`] or [`origin`], which never hold it. Each
//! endpoint has a module of its own ([`super::chat_record`], the key check
//! here).

use std::fmt;

use crate::error::UsageError;

/// The platform's public address.
pub const DEFAULT_BASE_URL: &str = "https://chat.jijyun.cn";
/// How an endpoint is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One endpoint of the platform: its method and its path under the base
/// URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
}

/// The endpoint that validates a key (answers `{"success":true}`).
pub const CHECK: Endpoint = Endpoint {
    method: Method::Get,
    path: "/v1/openapi/check",
};

impl Endpoint {
    /// The endpoint's URL under `base`, without the key: safe to show.
    pub fn shown_url(&self, base: &reqwest::Url) -> reqwest::Url {
        let mut url = base.clone();
        let path = format!("{}{}", base.path().trim_end_matches('/'), self.path);
        url.set_path(&path);
        url
    }

    /// The endpoint's URL with the key in the query string: secret, never
    /// shown.
    pub(super) fn url(&self, base: &reqwest::Url, key: &ApiKey) -> reqwest::Url {
        let mut url = self.shown_url(base);
        url.query_pairs_mut().append_pair("apiKey", key.expose());
        url
    }
}

/// What the engine sends for each item of its list (a customer ID): one
/// endpoint, and the JSON body for the item.
pub trait Request: Send + Sync + fmt::Debug {
    /// The endpoint every request goes to.
    fn endpoint(&self) -> Endpoint;
    /// The JSON body of the request for `item`.
    fn body(&self, item: &str) -> Vec<u8>;
}

/// The API key. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key, rejecting empty ones and ones with whitespace inside.
    pub fn new(key: impl Into<String>) -> Result<Self, UsageError> {
        let key = key.into();
        let key = key.trim();
        if key.is_empty() {
            return Err(UsageError::invalid("the API key is empty"));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UsageError::invalid(
                "the API key holds whitespace or control characters",
            ));
        }
        Ok(ApiKey(key.to_string()))
    }

    /// The secret itself: only the HTTP client calls this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// `scheme://host[:port]` of a URL: what errors and the journal may show of
/// the API's address (never a path's query, user or password).
pub fn origin(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

/// Check a `--base-url`. The value is not echoed whole: a pasted URL may
/// carry `?apiKey=...` or a password, so errors name its origin only.
pub fn parse_base_url(text: &str) -> Result<reqwest::Url, UsageError> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| UsageError::invalid(format!("--base-url: not a valid URL ({e})")))?;
    let shown = origin(&url);
    let bad = |why: &str| UsageError::invalid(format!("--base-url {shown}: {why}"));
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "give the base address only, without a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "give the address without a user or password (the key goes in YUJU_API_KEY)",
        ));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(bad("not a base address"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_never_hold_the_key() {
        let base = parse_base_url("http://127.0.0.1:8080/prefix/").unwrap();
        let key = ApiKey::new("s3cret").unwrap();
        let records = crate::api::chat_record::ENDPOINT;
        assert_eq!(
            records.shown_url(&base).as_str(),
            "http://127.0.0.1:8080/prefix/v1/openapi/chat/record"
        );
        assert!(records
            .url(&base, &key)
            .as_str()
            .ends_with("/prefix/v1/openapi/chat/record?apiKey=s3cret"));
        assert!(CHECK
            .url(&base, &key)
            .as_str()
            .ends_with("/prefix/v1/openapi/check?apiKey=s3cret"));
        assert_eq!(origin(&base), "http://127.0.0.1:8080");
        assert!(!format!("{key:?}").contains("s3cret"));
    }

    #[test]
    fn base_urls_with_secrets_are_refused_without_echo() {
        for bad in [
            "http://u:pw@host/",
            "http://host/?apiKey=zz9",
            "ftp://host/",
        ] {
            let err = parse_base_url(bad).unwrap_err().to_string();
            assert!(!err.contains("pw") && !err.contains("zz9"), "{err}");
        }
    }
}
