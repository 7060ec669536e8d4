//! Where the API is and how a request is addressed: the base URL, the
//! endpoint's path, and the key that travels in the query string.
//!
//! The key is secret, so only [`endpoint_url`] (private to the client)
//! ever puts it into a URL; everything that is shown uses [`endpoint`] or
//! [`origin`], which never hold it.

use std::fmt;

use crate::error::UsageError;

/// The platform's public address.
pub const DEFAULT_BASE_URL: &str = "https://chat.jijyun.cn";
/// Path of the endpoint under the base URL.
pub const RECORD_PATH: &str = "/v1/openapi/chat/record";

/// The endpoint that validates a key (answers `{"success":true}`).
pub const CHECK_PATH: &str = "/v1/openapi/check";

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

/// The endpoint URL under `base`, without the key: safe to show.
pub fn endpoint(base: &reqwest::Url) -> reqwest::Url {
    let mut url = base.clone();
    let path = format!("{}{}", base.path().trim_end_matches('/'), RECORD_PATH);
    url.set_path(&path);
    url
}

/// The key check's URL with the key in the query string: secret, never
/// shown.
pub(super) fn check_url(base: &reqwest::Url, key: &ApiKey) -> reqwest::Url {
    let mut url = base.clone();
    let path = format!("{}{}", base.path().trim_end_matches('/'), CHECK_PATH);
    url.set_path(&path);
    url.query_pairs_mut().append_pair("apiKey", key.expose());
    url
}

/// The endpoint URL with the key in the query string: secret, never shown.
pub(super) fn endpoint_url(base: &reqwest::Url, key: &ApiKey) -> reqwest::Url {
    let mut url = endpoint(base);
    url.query_pairs_mut().append_pair("apiKey", key.expose());
    url
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
        assert_eq!(
            endpoint(&base).as_str(),
            "http://127.0.0.1:8080/prefix/v1/openapi/chat/record"
        );
        assert!(endpoint_url(&base, &key)
            .as_str()
            .ends_with("?apiKey=s3cret"));
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
