//! `tocsin backup` of a live store under ingest load, `tocsin restore` into
//! a fresh directory and a server on it with the same history; the refusals
//! with their messages.

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

fn tocsin(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .env("TOCSIN_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `N events` out of the summary line.
fn count_in(summary: &str, what: &str) -> u64 {
    let before = summary
        .split(&format!(" {what},"))
        .next()
        .unwrap_or_else(|| panic!("no {what} in {summary:?}"));
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of {what} in {summary:?}"))
}

fn batch(prefix: &str, n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| native(&format!("{prefix}-{i}"), "Incident:X", "warn"))
        .collect();
    format!("[{}]", items.join(","))
}

/// Every stored event's id with its deliveries (`{status: count}`).
async fn all_ids(h: &Harness) -> Vec<(String, Value)> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/events?limit=1000&cursor={c}"),
            None => "/api/v1/events?limit=1000".to_string(),
        };
        let (status, page) = h.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for e in page["events"].as_array().unwrap() {
            ids.push((
                e["id"].as_str().unwrap().to_string(),
                e["deliveries"].clone(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_into_a_server_with_the_same_history() {
    let rx = WebhookReceiver::start().await;
    let yaml = one_hook(&rx.url("/hook"), "    concurrency: 8\n", ALL);
    let mut h = Harness::start(&yaml).await;

    // A delivered history: 600 events, each with its delivery and attempt.
    for b in 0..6 {
        let (status, v) = h
            .post("/api/v1/events", &batch(&format!("old-{b}"), 100))
            .await;
        assert_eq!(status, 202, "{v}");
    }
    rx.wait_for(600, WAIT).await;
    idle(&h).await;
    let mut delivered = Vec::new();
    for id in ["old-0-0", "old-2-50", "old-5-99"] {
        let v = h.event(id).await;
        assert_eq!(v["deliveries"][0]["status"], "delivered", "{v:#}");
        delivered.push(v);
    }

    // Load: batches of 20 until told to stop; remember what was acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (count_tx, mut count) = tokio::sync::watch::channel(0usize);
    let load = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let url = h.url("/api/v1/events");
        let client = h.client.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = batch(&format!("load-{n}"), 20);
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 202);
                let v: Value = resp.json().await.unwrap();
                let ids = v["ids"].as_array().unwrap();
                let mut acked = acked.lock().await;
                acked.extend(ids.iter().map(|i| i.as_str().unwrap().to_string()));
                let _ = count_tx.send(acked.len());
                n += 1;
            }
        })
    };
    // The load is running before the backup starts.
    count.wait_for(|n| *n >= 100).await.unwrap();
    let before: HashSet<String> = acked.lock().await.iter().cloned().collect();

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("tocsin-backup.db");
    let args = [
        "backup".to_string(),
        "--data".into(),
        p(h.dir.path()).into(),
        "--to".into(),
        p(&file).into(),
    ];
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        tocsin(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let during = acked.lock().await.len() - before.len();
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("(integrity check ok)"), "{out}");
    assert!(out.contains(", schema 7, "), "{out}");
    assert!(!file.with_extension("db.tmp").exists());
    let events = count_in(&out, "events");
    eprintln!("backup under load: {out}  ({during} events acknowledged while it ran)");

    // The server holds the store: a restore into its directory is refused.
    let (code, _, err) = tocsin(&["restore", "--from", p(&file), "--data", p(h.dir.path())]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("has this store open") && err.contains("tocsin.lock"),
        "{err}"
    );
    h.stop().await;

    // Restore into a fresh directory and serve it.
    let mut restored = Harness {
        server: None,
        dir: tempfile::tempdir().unwrap(),
        client: client(),
        clock: None,
    };
    let (code, out, err) = tocsin(&[
        "restore",
        "--from",
        p(&file),
        "--data",
        p(restored.dir.path()),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(count_in(&out, "events"), events, "{out}");
    restored.boot(config(&yaml, &[])).await;

    let ids = all_ids(&restored).await;
    assert_eq!(ids.len() as u64, events, "the summary's count");
    let deliveries: std::collections::HashMap<String, Value> = ids.into_iter().collect();
    let ids: HashSet<String> = deliveries.keys().cloned().collect();
    let all_acked: HashSet<String> = acked.lock().await.iter().cloned().collect();
    for b in 0..6 {
        for i in 0..100 {
            assert!(ids.contains(&format!("old-{b}-{i}")), "old-{b}-{i} lost");
        }
    }
    for id in &before {
        assert!(
            ids.contains(id),
            "{id}, acknowledged before the backup, lost"
        );
        // Routed to the one contact: one delivery, whatever its status then.
        let d = deliveries[id].as_object().unwrap();
        assert_eq!(
            d.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
            1,
            "{id}: {d:?}"
        );
    }
    for id in ids.iter().filter(|i| i.starts_with("load-")) {
        assert!(all_acked.contains(id), "{id} was never acknowledged");
    }
    // The delivered history with its attempts, byte for byte.
    for v in &delivered {
        let id = v["id"].as_str().unwrap();
        assert_eq!(&restored.event(id).await, v, "{id}");
    }
    // A working server: a new event is stored and delivered.
    let (status, v) = restored
        .post("/api/v1/events", &batch("after-restore", 1))
        .await;
    assert_eq!(status, 202, "{v}");
    restored
        .wait_status("after-restore-0", "hook", "delivered")
        .await;
    restored.stop().await;
}

/// A small store of 3 events made by a real server, stopped.
async fn small_store() -> Harness {
    let mut h = Harness::start("server:\n  listen: 127.0.0.1:0\n").await;
    let (status, v) = h.post("/api/v1/events", &batch("e", 3)).await;
    assert_eq!(status, 202, "{v}");
    h.stop().await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_refuse_what_they_must_not_touch() {
    let h = small_store().await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("b.db");
    let data = p(h.dir.path());

    let (code, out, err) = tocsin(&["backup", "--data", data, "--to", p(&file)]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(": 3 events, "), "{out}");

    // An existing FILE stays as it was unless --force.
    std::fs::write(&file, b"keep me").unwrap();
    let (code, _, err) = tocsin(&["backup", "--data", data, "--to", p(&file)]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!(
            "tocsin backup: {}: already exists; pass --force to replace it",
            p(&file)
        )
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let (code, _, err) = tocsin(&["backup", "--data", data, "--to", p(&file), "--force"]);
    assert_eq!(code, Some(0), "{err}");

    // No store where --data points.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, _, err) = tocsin(&[
        "backup",
        "--data",
        p(&empty),
        "--to",
        p(&work.path().join("x.db")),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("tocsin.db: no such file;") && err.contains("holds no Tocsin store"),
        "{err}"
    );

    // Restoring what is not a Tocsin store, into a directory never created.
    let target = work.path().join("target");
    let text = work.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text long enough").unwrap();
    let (code, _, err) = tocsin(&["restore", "--from", p(&text), "--data", p(&target)]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!(
            "tocsin restore: {}: not an SQLite database (file is not a database)",
            p(&text)
        )
    );
    let other = work.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');")
            .unwrap();
    }
    let (code, _, err) = tocsin(&["restore", "--from", p(&other), "--data", p(&target)]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "an SQLite database but not a Tocsin store (schema version 0, no events table)"
        ),
        "{err}"
    );
    assert!(!target.exists(), "a refused restore created {}", p(&target));

    // A newer schema.
    let newer = work.path().join("newer.db");
    std::fs::copy(&file, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let (code, _, err) = tocsin(&["restore", "--from", p(&newer), "--data", p(&target)]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("written by a newer Tocsin (schema 99; this build reads up to 7)"),
        "{err}"
    );

    // A corrupted copy: every page after the first two overwritten.
    let corrupt = work.path().join("corrupt.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let page = 4096;
    assert!(bytes.len() > 3 * page);
    for b in &mut bytes[2 * page..] {
        *b = 0xA5;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    let (code, _, err) = tocsin(&["restore", "--from", p(&corrupt), "--data", p(&target)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "tocsin restore: {}: failed its integrity check: ",
            p(&corrupt)
        )),
        "{err}"
    );
    assert!(!target.join("tocsin.db").exists());

    // A good backup over an existing store: refused, then moved aside with --force.
    let (code, _, err) = tocsin(&["restore", "--from", p(&file), "--data", data]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("already holds a Tocsin store; pass --force"),
        "{err}"
    );
    let old = std::fs::read(h.dir.path().join("tocsin.db")).unwrap();
    let (code, out, err) = tocsin(&["restore", "--from", p(&file), "--data", data, "--force"]);
    assert_eq!(code, Some(0), "{err}");
    let aside = out
        .lines()
        .find_map(|l| l.strip_prefix("tocsin restore: the previous store is at "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(aside.contains("tocsin.db.before-restore-"), "{aside}");
    assert_eq!(std::fs::read(aside).unwrap(), old);
    assert!(!h.dir.path().join("tocsin.db-wal").exists());
    assert!(!h.dir.path().join("tocsin.db.restore-tmp").exists());
}

#[test]
fn version_names_the_commit() {
    let (code, out, _) = tocsin(&["--version"]);
    assert_eq!(code, Some(0));
    let line = out.trim();
    assert!(
        line.starts_with(concat!("tocsin ", env!("CARGO_PKG_VERSION"), " (commit "))
            && line.contains(", built ")
            && line.ends_with(')'),
        "{line}"
    );
}
