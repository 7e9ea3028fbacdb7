//! The crash test: events posted while the server is killed with SIGKILL in
//! the middle of ingest and delivery; after a restart on the same data,
//! every event acknowledged with 202 reaches the receiver. Duplicates are
//! allowed only for messages in flight at the kill, and carry the same
//! X-Tocsin-Message-Id. And SIGKILL in the middle of one large request: after
//! the restart that request is stored whole or not at all.

use crate::common::*;
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Kills and reaps the server however the test ends.
struct Server(std::process::Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(cfg: &std::path::Path, data: &std::path::Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["serve", "--config"])
        .arg(cfg)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("TOCSIN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
}

async fn wait_up(c: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if c.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_and_delivery_loses_nothing_acknowledged() {
    let rx = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(
        &cfg,
        one_hook(&rx.url("/hook"), "    concurrency: 16\n", ALL),
    )
    .unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let mut child = spawn(&cfg, &data, port);
    wait_up(&c, &base).await;

    // Post batches of 100 until the kill; remember what was acknowledged.
    let mut acked: Vec<String> = Vec::new();
    let mut killed = false;
    for b in 0..30 {
        let batch: Vec<String> = (0..100)
            .map(|i| native(&format!("k-{b}-{i}"), "Incident:X", "warn"))
            .collect();
        match c
            .post(format!("{base}/api/v1/events"))
            .body(format!("[{}]", batch.join(",")))
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 202 => {
                let v: serde_json::Value = r.json().await.unwrap();
                acked.extend(
                    v["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_string()),
                );
            }
            _ => break,
        }
        if b == 12 {
            // Mid-stream: deliveries are in flight and more ingest is coming.
            child.kill();
            killed = true;
        }
    }
    assert!(killed && acked.len() >= 1300, "{}", acked.len());
    let before_restart = rx.received().len();
    let _child = spawn(&cfg, &data, port);
    wait_up(&c, &base).await;

    // Every acknowledged event arrives.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let want: HashSet<&str> = acked.iter().map(String::as_str).collect();
    loop {
        let got: HashSet<String> = rx
            .received()
            .iter()
            .flat_map(|r| r.json()["events"].as_array().cloned().unwrap_or_default())
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        let lost = want.iter().filter(|id| !got.contains(**id)).count();
        if lost == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost {lost} of {} acknowledged events",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Duplicates only with the same message id.
    let mut by_event: HashMap<String, HashSet<String>> = HashMap::new();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        let mid = r.header("x-tocsin-message-id").unwrap().to_string();
        for e in r.json()["events"].as_array().cloned().unwrap_or_default() {
            let id = e["id"].as_str().unwrap().to_string();
            by_event.entry(id.clone()).or_default().insert(mid.clone());
            *copies.entry(id).or_default() += 1;
        }
    }
    let duplicated = copies.values().filter(|n| **n > 1).count();
    for (id, mids) in &by_event {
        assert_eq!(
            mids.len(),
            1,
            "{id} was sent in different messages: {mids:?}"
        );
    }
    eprintln!(
        "crash test: {} acknowledged, 0 lost, {duplicated} duplicated (in flight at the kill), {before_restart} delivered before the kill",
        acked.len()
    );
}

/// The ids of the stored events whose id starts with `prefix`.
fn stored_ids(data: &std::path::Path, prefix: &str) -> HashSet<String> {
    let db = rusqlite::Connection::open(data.join("tocsin.db")).unwrap();
    let mut q = db
        .prepare("SELECT id FROM events WHERE substr(id, 1, length(?1)) = ?1")
        .unwrap();
    q.query_map([prefix], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Length and modification time of the store's write-ahead log.
fn wal_state(data: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(data.join("tocsin.db-wal")).ok()?;
    Some((m.len(), m.modified().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_request_stores_the_request_whole_or_not_at_all() {
    let rx = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(&cfg, one_hook(&rx.url("/hook"), "", ALL)).unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let mut child = spawn(&cfg, &data, port);
    wait_up(&c, &base).await;
    let mut acked: HashSet<String> = HashSet::new();
    // Two kills: once the whole body is handed over (the server decodes and
    // routes), and once the store has started writing the batch.
    for (round, when) in ["body sent", "store writing"].into_iter().enumerate() {
        // An acknowledged request first; wait until its deliveries ended, so
        // the only writes left are the big request's own.
        let small: Vec<String> = (0..50)
            .map(|i| native(&format!("ok-{round}-{i}"), "Incident:X", "warn"))
            .collect();
        let r = c
            .post(format!("{base}/api/v1/events"))
            .body(format!("[{}]", small.join(",")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        acked.extend(
            small
                .iter()
                .enumerate()
                .map(|(i, _)| format!("ok-{round}-{i}")),
        );
        idle_db(&data).await;
        // About 3 MB in one request, streamed so the test knows when the last
        // byte has left.
        let prefix = format!("big-{round}-");
        let events: Vec<String> = (0..8_000)
            .map(|i| native(&format!("{prefix}{i}"), "Incident:Y", "info"))
            .collect();
        let body = format!("[{}]", events.join(",")).into_bytes();
        let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
        let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
        let stream = futures::stream::unfold(
            (chunks.into_iter(), Some(sent_tx)),
            |(mut rest, mut sent)| async move {
                let chunk = rest.next()?;
                if rest.len() == 0
                    && let Some(tx) = sent.take()
                {
                    let _ = tx.send(());
                }
                Some((Ok::<_, std::io::Error>(chunk), (rest, sent)))
            },
        );
        let wal_before = wal_state(&data);
        let request = tokio::spawn({
            let c = c.clone();
            let url = format!("{base}/api/v1/events");
            async move {
                c.post(url)
                    .body(reqwest::Body::wrap_stream(stream))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string())
            }
        });
        sent_rx.await.expect("the body is sent");
        let sent_at = tokio::time::Instant::now();
        if when == "store writing" {
            let deadline = tokio::time::Instant::now() + WAIT;
            while wal_state(&data) == wal_before
                && !request.is_finished()
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let wal_changed = wal_state(&data) != wal_before;
        let waited = sent_at.elapsed();
        child.kill();
        let answer = request.await.unwrap();
        child = spawn(&cfg, &data, port);
        wait_up(&c, &base).await;
        let stored = stored_ids(&data, &prefix);
        eprintln!(
            "kill when {when} (wal changed: {wal_changed}, {waited:?} after the body): answer {answer:?}, {} of {} stored",
            stored.len(),
            events.len()
        );
        if answer == Ok(202) {
            assert_eq!(stored.len(), events.len(), "acknowledged, so stored whole");
        } else {
            assert!(
                stored.is_empty() || stored.len() == events.len(),
                "kill when {when}: {} of {} events of one request stored",
                stored.len(),
                events.len()
            );
        }
        if stored.len() == events.len() {
            acked.extend(stored);
        }
        // Every acknowledged event is there after the restart.
        let all = stored_ids(&data, "");
        let missing: Vec<&String> = acked.iter().filter(|id| !all.contains(*id)).collect();
        assert!(missing.is_empty(), "lost acknowledged events: {missing:?}");
    }
    drop(child);
}

/// A second server on the same store would resume the same outbox and send
/// every pending message twice: it is refused, naming the lock, until the
/// first one stops.
#[tokio::test]
async fn one_server_per_data_directory() {
    let mut h = Harness::start("").await;
    let second = tocsin::server::Server::start_with(
        config("", &[]),
        tocsin::server::ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(h.dir.path().to_path_buf()),
            clock: None,
        },
    )
    .await;
    let err = format!(
        "{:#}",
        second.err().expect("a second server on the same data dir")
    );
    assert!(
        err.contains("another Tocsin server is serving")
            && err.contains("tocsin.serve.lock")
            && err.contains("give each server its own --data"),
        "{err}"
    );
    // Once the first has stopped, the directory serves again.
    h.stop().await;
    h.boot(config("", &[])).await;
    assert_eq!(h.get("/healthz").await.0, 200);
}
