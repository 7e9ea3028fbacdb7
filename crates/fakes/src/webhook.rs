//! A generic webhook receiver: records requests, answers from a script (then
//! 200), and, given the signing secret, verifies Tocsin's signature the way a
//! careful receiver should (refusing a bad or stale one with 401).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
    /// When it arrived (ms since the Unix epoch).
    pub at_ms: i64,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Status, extra headers and a body.
    Full(u16, Vec<(String, String)>, String),
    /// Wait this long before answering 200 (to exceed a timeout).
    Hang(Duration),
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
    /// Requests whose body was read, answered or not (a hanging one counts).
    arrived: usize,
    secret: Option<String>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
}

pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body), written
/// independently of Tocsin's own signer.
pub fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookReceiver {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> WebhookReceiver {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the fake receiver");
        let addr = listener.local_addr().expect("local addr");
        let shared = Shared {
            inner: Arc::default(),
            notify: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { addr, shared, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Verify every request's signature with this secret (401 when wrong).
    pub fn require_signature(&self, secret: &str) {
        self.lock().secret = Some(secret.to_string());
    }

    /// Answers to give, in order, before falling back to 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many requests arrived (cheaper than `received().len()`).
    pub fn count(&self) -> usize {
        self.lock().received.len()
    }

    /// Waits until at least `n` requests arrived, or the timeout passes.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            if self.count() >= n || tokio::time::Instant::now() >= deadline {
                return self.received();
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    /// Waits until `n` requests have arrived (read, but perhaps not yet
    /// answered, as with [`Reply::Hang`]); returns how many did.
    pub async fn wait_for_arrivals(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            let arrived = self.lock().arrived;
            if arrived >= n || tokio::time::Instant::now() >= deadline {
                return arrived;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn handle(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (reply, secret) = {
        let mut inner = s.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.arrived += 1;
        (inner.script.pop_front(), inner.secret.clone())
    };
    s.notify.notify_waiters();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut response: (u16, Vec<(String, String)>, String) = (200, vec![], "ok".into());
    if let Some(secret) = secret {
        let ts = header("x-tocsin-timestamp");
        let fresh = ts
            .parse::<i64>()
            .ok()
            .is_some_and(|t| (now_secs() - t).abs() <= 300);
        if !fresh || header("x-tocsin-signature") != expected_signature(&secret, &ts, &body) {
            response = (401, vec![], "bad signature".into());
        }
    }
    if response.0 == 200 {
        match reply {
            Some(Reply::Status(code)) => response = (code, vec![], String::new()),
            Some(Reply::Full(code, h, b)) => response = (code, h, b),
            Some(Reply::Hang(d)) => tokio::time::sleep(d).await,
            None => {}
        }
    }
    let received = Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        status: response.0,
        at_ms: now_ms(),
    };
    s.inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .received
        .push(received);
    s.notify.notify_waiters();
    let mut r = (
        StatusCode::from_u16(response.0).unwrap_or(StatusCode::OK),
        response.2,
    )
        .into_response();
    for (k, v) in response.1 {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vector() {
        assert_eq!(
            expected_signature("s3cret", "1700000000", br#"{"a":1}"#),
            "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
