//! The one HTTP client all notifiers send through: connection pooling, a
//! resolver that applies the egress rules to every resolved address, no
//! redirects, an optional proxy, and errors stripped of their URL (webhook
//! URLs carry the bot's key).

use super::egress::{EgressPolicy, EgressRefused};
use super::{Outgoing, Verdict};
use crate::config::DeliveryConfig;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Applies the egress policy to every address a host name resolves to.
struct GuardedResolver {
    policy: Arc<EgressPolicy>,
    /// The proxy's own host is exempt (it is usually on a private network).
    exempt_host: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let exempt = self
            .exempt_host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(name.as_str()));
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if exempt {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let mut refused = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = match refused {
                    Some(e) => Box::new(e),
                    None => format!("{host} resolved to no address").into(),
                };
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Why a request could not be made or answered.
#[derive(Debug)]
pub enum SendError {
    Egress(EgressRefused),
    BadUrl(String),
    Timeout,
    Connect(String),
    Other(String),
}

impl SendError {
    pub fn into_verdict(self, timeout: Duration) -> Verdict {
        match self {
            SendError::Egress(e) => Verdict::permanent(e.to_string()),
            SendError::BadUrl(s) => {
                Verdict::permanent(format!("the webhook URL is not usable: {s}"))
            }
            SendError::Timeout => Verdict::transport(format!(
                "no answer within {} (delivery.timeout); will retry",
                humanize(timeout)
            )),
            SendError::Connect(s) => {
                Verdict::transport(format!("could not connect: {s}; will retry"))
            }
            SendError::Other(s) => {
                Verdict::transport(format!("the request failed: {s}; will retry"))
            }
        }
    }
}

pub use crate::domain::humanize;

pub struct HttpContext {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl HttpContext {
    pub fn new(delivery: &DeliveryConfig) -> Result<HttpContext, String> {
        crate::install_crypto_provider();
        let policy = Arc::new(EgressPolicy::from_config(delivery));
        let proxy_url = if delivery.proxy.is_empty() {
            None
        } else {
            Some(delivery.proxy.clone())
        };
        // The proxy itself (configured, or from HTTPS_PROXY / HTTP_PROXY, which
        // reqwest honours when no proxy is configured) usually sits on a
        // private network: its own address is exempt from the egress rules.
        let env_proxy = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        let exempt_host = proxy_url
            .clone()
            .or(env_proxy)
            .and_then(|p| url::Url::parse(&p).ok())
            .and_then(|u| u.host_str().map(str::to_string));
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .connect_timeout(Duration::from_secs(10))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
                exempt_host,
            }));
        if let Some(p) = &proxy_url {
            let proxy = reqwest::Proxy::all(p)
                .map_err(|e| format!("delivery.proxy is not usable: {}", e.without_url()))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpContext { client, policy })
    }

    /// POSTs a request. The egress rules apply to IP-literal hosts here, and
    /// to names in the resolver.
    pub async fn post(
        &self,
        out: Outgoing,
        timeout: Duration,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), SendError> {
        let url = url::Url::parse(&out.url).map_err(|e| SendError::BadUrl(e.to_string()))?;
        let literal: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(SendError::BadUrl("no host".into())),
        };
        if let Some(ip) = literal {
            self.policy.check(ip).map_err(SendError::Egress)?;
        }
        let mut req = self.client.post(url).timeout(timeout).body(out.body);
        for (k, v) in &out.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.map_err(classify_error)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(timeout, resp.bytes())
            .await
            .map_err(|_| SendError::Timeout)?
            .map_err(classify_error)?;
        Ok((status, headers, body.to_vec()))
    }
}

/// Maps a reqwest error to a URL-free description.
fn classify_error(e: reqwest::Error) -> SendError {
    let e = e.without_url();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<EgressRefused>() {
            return SendError::Egress(refused.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return SendError::Timeout;
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        SendError::Connect(text)
    } else {
        SendError::Other(text)
    }
}
