//! Slow and many clients (issue 10, defect 6): header, body and idle
//! deadlines, the connection cap and its short lane, the ingest cap. Raw
//! TCP on loopback, so the test controls every byte and its pace.

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's address (host:port).
fn addr(h: &Harness) -> std::net::SocketAddr {
    h.server.as_ref().expect("running").addr
}

/// Reads one response (head and Content-Length body) within [`WAIT`]:
/// (status, head, body).
async fn read_response(conn: &mut TcpStream) -> (u16, String, String) {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.expect("read response");
            assert!(n > 0, "closed before a whole response: {got:?}");
            got.extend_from_slice(&buf[..n]);
            let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let length: usize = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(str::trim))
                .map_or(0, |v| v.parse().expect("content-length"));
            if got.len() >= end + 4 + length {
                let status = head[9..12].parse().expect("status");
                let body = String::from_utf8_lossy(&got[end + 4..end + 4 + length]).to_string();
                return (status, head, body);
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("a response within the wait")
}

/// Waits (within [`WAIT`]) until the server closes `conn`; false if it
/// never does. Bytes the server sends first are read and dropped.
async fn closed_by_server(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let until_closed = async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, until_closed).await.is_ok()
}

/// True when `conn` has already seen the server close it (no waiting).
fn already_closed(conn: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match conn.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// A connection that has sent part of a request head.
async fn half_head(h: &Harness) -> TcpStream {
    let mut conn = TcpStream::connect(addr(h)).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\n")
        .await
        .expect("write");
    conn
}

/// A client that opens a new connection for every request.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(WAIT)
        .build()
        .expect("client")
}

#[tokio::test]
async fn trickling_headers_are_cut_at_the_header_timeout_while_health_and_ingest_answer() {
    let h = Harness::start("server:\n  header_timeout: 1s\n").await;
    // 300 connections, each sending its head one byte every 50 ms, forever.
    let mut trickles = Vec::new();
    for _ in 0..300 {
        let mut conn = half_head(&h).await;
        trickles.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(50));
            let mut buf = [0u8; 256];
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        if conn.write_all(b"X").await.is_err() {
                            return true;
                        }
                    }
                    read = conn.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return true,
                        Ok(_) => {}
                    },
                    () = tokio::time::sleep_until(deadline) => return false,
                }
            }
        }));
    }
    let client = fresh_client();
    let health = client.get(h.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let (status, body) = h
        .post(
            "/api/v1/events",
            &native("t-1", "Suspicious:Login", "critical"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    for t in trickles {
        assert!(
            t.await.expect("trickle"),
            "a trickling connection was still open after {WAIT:?}"
        );
    }
    // And the server is still fine afterwards.
    let health = client.get(h.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_body_slower_than_the_body_timeout_gets_408() {
    let h = Harness::start("server:\n  body_timeout: 300ms\n").await;
    for path in ["/api/v1/events", "/api/v1/subscriptions/dry-run"] {
        let mut conn = TcpStream::connect(addr(&h)).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: tocsin\r\ncontent-type: application/json\r\n\
             content-length: 1000\r\n\r\n[{{\"id\":"
        );
        conn.write_all(head.as_bytes()).await.expect("write");
        let (status, _, body) = read_response(&mut conn).await;
        assert_eq!(status, 408, "{path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            v["error"], "the request body did not arrive within 300ms (server.body_timeout)",
            "{path}"
        );
        assert!(closed_by_server(&mut conn).await, "{path}: left open");
    }
    let metrics = fresh_client()
        .get(h.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("tocsin_ingest_requests_total{status=\"408\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn ingest_over_max_concurrent_ingest_gets_503_and_retry_after() {
    let h = Harness::start("server:\n  max_concurrent_ingest: 1\n").await;
    // A quarantined request, to replay while the slot is taken.
    let (status, bad) = h.post("/api/v1/events", r#"{"product": "Sas"}"#).await;
    assert_eq!(status, 400, "{bad}");
    let quarantined = bad["quarantine_id"]
        .as_str()
        .expect("quarantine_id")
        .to_string();
    // One ingest request holds the only slot: its body is half sent.
    let event = native("held-1", "Suspicious:Login", "critical");
    let mut held = TcpStream::connect(addr(&h)).await.expect("connect");
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: tocsin\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        event.len()
    );
    held.write_all(head.as_bytes()).await.expect("head");
    held.write_all(&event.as_bytes()[..10]).await.expect("part");
    // Once the server has taken the held request in, every other is refused.
    let client = fresh_client();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut n = 0;
    let refused = loop {
        n += 1;
        let resp = client
            .post(h.url("/api/v1/events"))
            .header("content-type", "application/json")
            .body(native(&format!("other-{n}"), "Suspicious:Login", "info"))
            .send()
            .await
            .expect("ingest");
        if resp.status() == 503 {
            break resp;
        }
        assert_eq!(resp.status(), 202);
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refused while a body was being read"
        );
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    let v: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(
        v["error"],
        "too many ingest requests at once (server.max_concurrent_ingest is 1); nothing was stored, try again"
    );
    // A replay decodes a body just as large: it waits for a slot too.
    let replay = client
        .post(h.url(&format!("/api/v1/quarantine/{quarantined}/replay")))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 503);
    assert_eq!(replay.headers()["retry-after"], "1");
    // The held request completes normally, and frees its slot.
    held.write_all(&event.as_bytes()[10..]).await.expect("rest");
    let (status, _, body) = read_response(&mut held).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = h
        .post(
            "/api/v1/events",
            &native("after-1", "Suspicious:Login", "info"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    h.event("held-1").await;
}

#[tokio::test]
async fn connections_over_max_connections_wait_and_health_keeps_a_short_lane() {
    // 4 slots: 3 regular, 1 short lane (1 s for a head there).
    let h = Harness::start("server:\n  max_connections: 4\n  header_timeout: 60s\n").await;
    let mut regular = Vec::new();
    for _ in 0..3 {
        regular.push(half_head(&h).await);
    }
    // The regular slots are held; health still answers, through the short lane.
    let health = fresh_client()
        .get(h.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    // A slow client takes the short lane; the next connection must wait
    // until the short lane cuts it (its head did not come within 1 s).
    let mut slow = half_head(&h).await;
    let mut next = TcpStream::connect(addr(&h)).await.expect("connect");
    next.write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (status, _, _) = read_response(&mut next).await;
    assert_eq!(status, 200);
    // The answer came only after a slot freed: the slow one was cut first.
    assert!(
        already_closed(&slow),
        "a fifth connection was served while four were open"
    );
    assert!(closed_by_server(&mut slow).await);
    // The regular slots keep their 60 s.
    for conn in &regular {
        assert!(!already_closed(conn), "a regular connection was cut early");
    }
    // The metric counts open connections by lane: the three held ones, and
    // the scrape's own in the short lane.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = fresh_client()
            .get(h.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if text.contains("tocsin_http_connections{lane=\"regular\"} 3")
            && text.contains("tocsin_http_connections{lane=\"short\"} 1")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let h = Harness::start("server:\n  idle_timeout: 300ms\n  header_timeout: 60s\n").await;
    let mut conn = TcpStream::connect(addr(&h)).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        .await
        .expect("write");
    let (status, head, _) = read_response(&mut conn).await;
    assert_eq!(status, 200);
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // A second request on the same connection works (keep-alive)...
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut conn).await.0, 200);
    // ...and then, idle, it is closed at the idle timeout, not the 60 s
    // header timeout.
    assert!(closed_by_server(&mut conn).await);
}
