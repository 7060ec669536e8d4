//! Where requests go: `--base-url`, checked.

use crate::api::endpoint::parse_base_url;
use crate::config::options::ExportOptions;
use crate::error::UsageError;

use super::defaulted;

/// `--base-url`, checked; plain http only to this machine unless allowed.
pub(super) fn base_url(o: &ExportOptions) -> Result<reqwest::Url, UsageError> {
    let url = parse_base_url(
        o.base_url
            .as_deref()
            .unwrap_or_else(|| defaulted("base_url")),
    )?;
    if url.scheme() == "http" && !is_loopback(&url) && !o.allow_insecure_http {
        return Err(UsageError::invalid(format!(
            "--base-url {}: plain http to a host other than this machine would send the \
             API key in clear text; use https, or pass --allow-insecure-http",
            crate::api::endpoint::origin(&url)
        )));
    }
    Ok(url)
}

/// Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, ::1).
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
