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
    /// to names in the resolver. `timeout` is one deadline for the whole
    /// attempt: connect, send, and the answer's headers and body. Only the
    /// first [`REPLY_LIMIT`] bytes of the answer are read (that is what the
    /// classification sees); the rest is never read: the connection is
    /// dropped instead, so a receiver answering gigabytes costs 64 KiB.
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
        let mut req = self.client.post(url).body(out.body);
        for (k, v) in &out.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let attempt = async {
            let mut resp = req.send().await.map_err(classify_error)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = read_limited(&mut resp, REPLY_LIMIT).await?;
            Ok((status, headers, body))
        };
        // Dropping `attempt` at the deadline drops the connection with it.
        tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| SendError::Timeout)?
    }
}

/// How much of a reply is read. Platforms answer a few hundred bytes; an
/// error page fits too. Anything longer is cut here.
pub const REPLY_LIMIT: usize = 64 << 10;

/// Reads the body chunk by chunk, keeping at most `limit` bytes. Stops
/// reading once `limit` bytes are in: the caller drops the response, which
/// closes the connection rather than draining the rest.
async fn read_limited(resp: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, SendError> {
    let mut body = Vec::new();
    while body.len() < limit {
        match resp.chunk().await.map_err(classify_error)? {
            Some(chunk) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            None => break,
        }
    }
    Ok(body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Channel, Config};
    use crate::notify::{Disposition, notifier_for, send};
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// DingTalk's refusal, as the start of every reply below.
    const REFUSAL: &[u8] = br#"{"errcode":310000,"errmsg":"keywords not in content"}"#;

    fn context() -> HttpContext {
        let mut delivery = Config::embedded_default().delivery;
        delivery.allow_private_networks = true;
        HttpContext::new(&delivery).expect("client")
    }

    fn outgoing(addr: std::net::SocketAddr) -> Outgoing {
        Outgoing {
            url: format!("http://{addr}/robot/send"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"msgtype":"text","text":{"content":"x"}}"#.to_vec(),
        }
    }

    /// Reads one request (head and its Content-Length body) off `conn`.
    async fn read_request(conn: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.expect("read request");
            assert!(n > 0, "the client closed before sending its request");
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().expect("length"));
                if got.len() >= end + 4 + length {
                    return got;
                }
            }
        }
    }

    /// A receiver that answers one request with `head`, then writes `chunk`
    /// `repeat` times (pausing `pause` between writes), counting the bytes
    /// it managed to write before the client went away.
    async fn receiver(
        head: String,
        chunk: Vec<u8>,
        repeat: usize,
        pause: Duration,
    ) -> (
        std::net::SocketAddr,
        Arc<AtomicU64>,
        tokio::task::JoinHandle<Vec<u8>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let task = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let request = read_request(&mut conn).await;
            conn.write_all(head.as_bytes()).await.expect("head");
            conn.write_all(REFUSAL).await.expect("start of body");
            for _ in 0..repeat {
                if conn.write_all(&chunk).await.is_err() {
                    break;
                }
                counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            request
        });
        (addr, written, task)
    }

    #[tokio::test]
    async fn a_huge_reply_is_read_up_to_64_kib_and_classified_from_its_start() {
        // 200 MB of JSON whitespace after DingTalk's refusal: still one valid
        // JSON document, so only the first 64 KiB decide.
        let chunk = vec![b' '; 64 << 10];
        let repeat = 200_000_000 / chunk.len();
        let length = REFUSAL.len() + repeat * chunk.len();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
        );
        let (addr, written, task) = receiver(head, chunk, repeat, Duration::ZERO).await;
        let http = context();
        let (status, _, body) = http
            .post(outgoing(addr), Duration::from_secs(20))
            .await
            .expect("answered");
        assert_eq!(status, 200);
        assert_eq!(body.len(), REPLY_LIMIT);
        assert!(body.starts_with(REFUSAL));
        let request = task.await.expect("receiver");
        assert!(request.starts_with(b"POST /robot/send HTTP/1.1\r\n"));
        // What the receiver got out before the connection closed: 64 KiB plus
        // the socket buffers, not the 200 MB.
        let sent = written.load(Ordering::SeqCst);
        assert!(sent < 32 << 20, "the client took {sent} bytes of the reply");

        // The same reply through a notifier: the classification sees the start.
        let (addr, _, task) = receiver(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
            ),
            vec![b' '; 64 << 10],
            repeat,
            Duration::ZERO,
        )
        .await;
        let verdict = send(
            &http,
            notifier_for(Channel::Dingtalk),
            outgoing(addr),
            Duration::from_secs(20),
        )
        .await;
        task.await.expect("receiver");
        assert_eq!(verdict.disposition, Disposition::Permanent, "{verdict:?}");
        assert_eq!(
            verdict.platform_code.as_deref(),
            Some("310000"),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn an_endless_reply_ends_the_attempt_once_64_kib_are_in() {
        // Chunked, 1 KiB at a time, never ending: the attempt must not wait
        // for an end that never comes (the deadline is far away).
        let mut chunk = format!("{:x}\r\n", 1024).into_bytes();
        chunk.extend(std::iter::repeat_n(b' ', 1024));
        chunk.extend_from_slice(b"\r\n");
        let refusal_chunk = {
            let mut c = format!("{:x}\r\n", REFUSAL.len()).into_bytes();
            c.extend_from_slice(REFUSAL);
            c.extend_from_slice(b"\r\n");
            c
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            read_request(&mut conn).await;
            conn.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .expect("head");
            conn.write_all(&refusal_chunk).await.expect("start");
            let mut every = tokio::time::interval(Duration::from_millis(2));
            loop {
                every.tick().await;
                if conn.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let verdict = send(
            &context(),
            notifier_for(Channel::Dingtalk),
            outgoing(addr),
            Duration::from_secs(20),
        )
        .await;
        task.await.expect("the receiver saw the connection close");
        assert_eq!(
            verdict.platform_code.as_deref(),
            Some("310000"),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn a_trickled_reply_fails_at_the_one_deadline() {
        // Headers, then one byte every 20 ms of a body that never completes
        // (and never reaches 64 KiB): the attempt ends with the timeout.
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n";
        let (addr, _, task) = receiver(
            head.to_string(),
            b" ".to_vec(),
            usize::MAX,
            Duration::from_millis(20),
        )
        .await;
        let timeout = Duration::from_millis(300);
        let verdict = send(
            &context(),
            notifier_for(Channel::Dingtalk),
            outgoing(addr),
            timeout,
        )
        .await;
        task.await.expect("receiver");
        assert_eq!(
            verdict.disposition,
            Disposition::Retry { retry_after: None },
            "{verdict:?}"
        );
        assert_eq!(
            verdict.reason,
            "no answer within 300ms (delivery.timeout); will retry"
        );
    }
}
