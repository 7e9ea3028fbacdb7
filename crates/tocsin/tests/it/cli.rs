//! The real binary: check, send, serve with its logs, SIGHUP and SIGTERM.

use crate::common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn tocsin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
}

#[test]
fn check_reports_every_problem_with_file_line_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "server:\n  max_body: lots\ndelivery:\n  timeout: 10\n  retyr_horizon: 1h\ncontacts:\n  - { name: a, channel: webhook, webhook: \"http://x/y\" }\n  - { name: a, channel: webhook, webhook: \"http://x/z\" }\nsubscriptions:\n  - { name: s, deny_list: true, notification_policy: missing }\n",
    )
    .unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for (line, key) in [
        (2, "server.max_body"),
        (4, "delivery.timeout"),
        (5, "delivery.retyr_horizon"),
        (8, "contacts[1].name"),
        (10, "subscriptions[0]"),
    ] {
        let prefix = format!("{file}:{line}: {key}");
        assert!(
            err.lines().any(|l| l.starts_with(&prefix)),
            "missing {prefix} in:\n{err}"
        );
    }
    assert!(err.contains("notification_policy"), "{err}");

    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "server:\n  listen: 127.0.0.1:9750\n").unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["check", "--help"],
        vec!["send", "--help"],
    ] {
        let out = tocsin().args(&cmd).output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}

#[test]
fn send_exit_codes() {
    // Unreachable server: 2.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let mut child = tocsin()
        .args(["send", "--server", &format!("http://{addr}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(base: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(base.trim_start_matches("http://")) {
            let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not start");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_send_sighup_sigterm_and_no_secret_in_logs() {
    let rx = WebhookReceiver::start().await;
    rx.script((0..1000).map(|_| Reply::Status(500)));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(&cfg, crate::secrets::secret_config(&rx.url(""))).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("stderr.log");
    let child = tocsin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .env("API_TOKEN", "SEKRETAPI")
        .env("TOCSIN_LOG", "debug")
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = Child(child);
    wait_ready(&base);

    // tocsin send, from a file, with the ingest token; prints the ids.
    let events = dir.path().join("events.json");
    std::fs::write(&events, format!("[{}]", native("cli-1", "x", "critical"))).unwrap();
    let out = tocsin()
        .args(["send", "--server", &base, "--token", "SEKRETINGEST"])
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli-1\n");
    // Rejected: 1, with the server's error.
    let out = tocsin()
        .args([
            "send",
            "--server",
            &base,
            "--token",
            "SEKRETINGEST",
            "--format",
            "native",
        ])
        .arg(dir.path().join("events.json"))
        .env_remove("TOCSIN_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&events, r#"{"product":"Sas"}"#).unwrap();
    let out = tocsin()
        .args(["send", "--server", &base, "--token", "SEKRETINGEST"])
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name"));

    // Let delivery fail (500s until the 300ms horizon) so errors get logged.
    rx.wait_for(2, WAIT).await;
    wait_for_text(&log, "message failed").await;

    // SIGHUP with a broken file: refused, still serving.
    std::fs::write(&cfg, "contacts: [1]\n").unwrap();
    signal(child.0.id(), "HUP");
    wait_for_text(&log, "reload refused").await;
    let c = client();
    let r = c
        .get(format!("{base}/api/v1/contacts"))
        .bearer_auth("SEKRETAPI")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let mut child = child;
    signal(child.0.id(), "TERM");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("reload refused"), "{logs}");
    assert!(logs.contains("message failed"), "{logs}");
    for mark in crate::secrets::MARKS {
        assert!(!logs.contains(mark), "{mark} leaked into the logs:\n{logs}");
    }
}
