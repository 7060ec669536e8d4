//! Host names resolved by the binary itself (the `static-resolver`
//! feature, which the static build uses): `/etc/hosts` first, then the
//! name servers of `/etc/resolv.conf`, with no `getaddrinfo` and so no
//! NSS modules to load. An IPv4 answer is used without waiting for an
//! IPv6 one, so a name that `/etc/hosts` gives an IPv4 address never
//! waits on a name server (in an empty root there may be none).

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::config::{LookupIpStrategy, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::OnceCell;

/// The resolver reqwest asks, built on first use.
#[derive(Debug, Default, Clone)]
pub struct OwnResolver {
    state: Arc<OnceCell<TokioResolver>>,
}

impl Resolve for OwnResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let state = self.state.clone();
        Box::pin(async move {
            let resolver = state.get_or_init(|| async { new_resolver() }).await;
            let lookup = resolver.lookup_ip(name.as_str()).await?;
            let addrs: Addrs = Box::new(
                lookup
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

/// `/etc/resolv.conf`'s name servers, or none (then only `/etc/hosts`
/// answers) when it cannot be read.
fn new_resolver() -> TokioResolver {
    let mut builder = TokioResolver::builder_tokio().unwrap_or_else(|e| {
        tracing::debug!("no usable /etc/resolv.conf ({e}): host names come from /etc/hosts only");
        TokioResolver::builder_with_config(
            ResolverConfig::new(),
            TokioConnectionProvider::default(),
        )
    });
    builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
    builder.build()
}
