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
fn check_takes_cron_weekday_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digests.yaml");
    std::fs::write(
        &path,
        "contacts:\n  - { name: c, channel: webhook, webhook: \"https://h/x\" }\ncontact_groups:\n  - { name: g, contacts: [c] }\nnotification_policies:\n  - { name: p, contact_groups: [g] }\nsubscriptions:\n  - { name: weekly, digest: { schedule: \"0 10 * * MON\" }, notification_policy: p }\n  - { name: workdays, digest: { schedule: \"0 9 * * MON-FRI\", timezone: Europe/Berlin }, notification_policy: p }\n",
    )
    .unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tocsin check` on one file: exit code, stdout, stderr.
fn check_file(
    dir: &std::path::Path,
    name: &str,
    yaml: &str,
) -> (Option<i32>, String, String, String) {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    let out = tocsin()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path.display().to_string(),
    )
}

/// One contact `a` (lines 2 to 5, its webhook on line 4) reached by one
/// subscription `s` (line 11; its `filters` from line 13); `delivery`
/// (or any top-level keys) after them.
fn one_contact(delivery: &str, channel: &str, webhook: &str, filters: &str) -> String {
    format!(
        "contacts:\n  - name: a\n    channel: {channel}\n    webhook: \"{webhook}\"\n    keywords: [alert]\ncontact_groups:\n  - {{ name: g, contacts: [a] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\nsubscriptions:\n  - name: s\n    notification_policy: p\n{filters}{delivery}"
    )
}

// Nothing is sent: `check` reads the file only (the addresses are never
// connected to; nothing listens on them in this test).
#[test]
fn check_errors_on_a_loopback_or_private_contact_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (url, ip)) in [
        ("http://127.0.0.1/hook", "127.0.0.1"),
        ("http://10.0.0.5/hook", "10.0.0.5"),
    ]
    .into_iter()
    .enumerate()
    {
        let (code, out, err, file) = check_file(
            dir.path(),
            &format!("private{i}.yaml"),
            &one_contact("", "webhook", url, ""),
        );
        assert_eq!(code, Some(1), "{url}: {err}");
        let prefix = format!("{file}:4: contacts[0].webhook: ");
        let line = err
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{url}: no {prefix} in:\n{err}"));
        assert!(
            line.contains(ip) && line.contains("delivery.allow_private_networks: true"),
            "{line}"
        );
        assert!(!out.contains(": ok"), "{out}");
        // Allowed: no error (the loopback fakes of the tests are used so).
        let allowed = one_contact(
            "delivery:\n  allow_private_networks: true\n",
            "webhook",
            url,
            "",
        );
        let (code, out, err, _) = check_file(dir.path(), &format!("allowed{i}.yaml"), &allowed);
        assert_eq!(code, Some(0), "{url}: {err}");
        assert!(!err.contains("contacts[0].webhook"), "{err}");
        assert!(out.contains(": ok ("), "{out}");
    }
}

#[test]
fn check_errors_on_a_url_of_another_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err, file) = check_file(
        dir.path(),
        "wecom-on-lark.yaml",
        &one_contact(
            "",
            "wecom",
            "https://open.feishu.cn/open-apis/bot/v2/hook/0b1c2d3e",
            "",
        ),
    );
    assert_eq!(code, Some(1), "{err}");
    let prefix = format!("{file}:4: contacts[0].webhook: ");
    let line = err
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in:\n{err}"));
    assert!(
        line.contains("lark bot's") && line.contains("`channel: wecom`"),
        "{line}"
    );
    // The hook id is not echoed.
    assert!(!err.contains("0b1c2d3e"), "{err}");
}

#[test]
fn check_warns_on_unknown_event_types_names_and_stopped_switches() {
    let dir = tempfile::tempdir().unwrap();
    let hook = "https://hooks.example/x";
    // The event type `Incidents` (line 13, item 0).
    let (code, _, err, file) = check_file(
        dir.path(),
        "types.yaml",
        &one_contact("", "webhook", hook, "    event_types: [Incidents]\n"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.lines().any(|l| l
            == format!("warning: {file}:13: subscriptions[0].event_types[0]: s: event type \"Incidents\" is not one the security product sends; did you mean \"Incident\"?")),
        "{err}"
    );
    // The name `Incident:BruteForse` (line 14, item 0).
    let (code, out, err, file) = check_file(
        dir.path(),
        "names.yaml",
        &one_contact(
            "",
            "webhook",
            hook,
            "    event_names:\n      - \"Incident:BruteForse\"\n",
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(": ok ("), "{out}");
    assert!(
        err.lines().any(|l| l
            == format!("warning: {file}:14: subscriptions[0].event_names[0]: s: event name \"Incident:BruteForse\" is not in the catalog; did you mean \"Incident:BruteForce\"?")),
        "{err}"
    );
    // A push switch that stops every event type the subscription asks for.
    let (code, _, err, file) = check_file(
        dir.path(),
        "switch.yaml",
        &one_contact(
            "sources:\n  - name: sc\n    items:\n      alert: { details: false }\n",
            "webhook",
            hook,
            "    products: [Sas]\n    event_types: [Suspicious]\n",
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    let prefix = format!("warning: {file}:14: subscriptions[0].event_types: ");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&prefix) && l.contains("push switch is off (Suspicious)")),
        "{err}"
    );
    // A clean file: no findings at all.
    let (code, _, err, _) = check_file(
        dir.path(),
        "clean.yaml",
        &one_contact(
            "",
            "webhook",
            hook,
            "    event_names: [\"Incident:BruteForce\"]\n",
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "", "{err}");
}

#[test]
fn doctor_says_when_the_data_directory_is_missing_or_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.yaml");
    std::fs::write(
        &path,
        one_contact("", "webhook", "https://hooks.example/x", ""),
    )
    .unwrap();
    let missing = dir.path().join("no-such-dir");
    let out = tocsin()
        .args(["doctor", "--config"])
        .arg(&path)
        .arg("--data")
        .arg(&missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("--data {}: no such directory", missing.display())),
        "{err}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = tocsin()
        .args(["doctor", "--config"])
        .arg(&path)
        .arg("--data")
        .arg(&empty)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("holds no tocsin.db"), "{text}");
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

/// `serve` still starts with a config `check` refuses (the egress rules
/// refuse each send, and the history says so), and logs the findings as
/// warnings at start and at each reload. No event is sent: nothing connects
/// to the contact's address.
#[tokio::test(flavor = "multi_thread")]
async fn serve_starts_with_a_loopback_contact_and_logs_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(
        &cfg,
        one_contact("", "webhook", "http://127.0.0.1:9/hook", ""),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("stderr.log");
    let child = tocsin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = Child(child);
    wait_ready(&base);
    let finding = format!(
        "warning: {}:4: contacts[0].webhook: a: every send to this webhook is refused: 127.0.0.1",
        cfg.display()
    );
    wait_for_text(&log, &finding).await;
    signal(child.0.id(), "HUP");
    wait_for_text(&log, "configuration reloaded").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches(&finding).count(), 2, "{text}");
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
    // The log says which file was read and what it holds.
    wait_for_text(
        &log,
        "configuration loaded: 1 contact, 1 contact group, 1 notification policy",
    )
    .await;
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("tocsin.yaml")
    );

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
    // stderr is a file, not a terminal: no colour codes.
    assert!(
        !logs.contains('\x1b'),
        "ANSI escapes in a log file:\n{logs}"
    );
    for mark in crate::secrets::MARKS {
        assert!(!logs.contains(mark), "{mark} leaked into the logs:\n{logs}");
    }
}

#[test]
fn json_logs_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("stderr.log");
    let child = tocsin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .env("TOCSIN_LOG_FORMAT", "json")
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    wait_ready(&base);
    // A request with a proxy's id: echoed on the answer, and on the log
    // line the request made (the quarantine's), as `span.request_id`.
    let ask = |head: &str| {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(
            format!("POST /api/v1/events HTTP/1.1\r\nHost: t\r\n{head}Content-Length: 8\r\nConnection: close\r\n\r\nnot json")
                .as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
        answer
    };
    let answer = ask("X-Request-Id: probe-42\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("x-request-id: probe-42\r\n"), "{answer}");
    // An id that is not a plain token is replaced by a new one.
    let answer = ask("X-Request-Id: a b\r\n");
    let id = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an id");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{answer}"
    );
    signal(child.0.id(), "TERM");
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                v["span"]["request_id"] == "probe-42" && v["span"]["path"] == "/api/v1/events"
            })
        }),
        "{logs}"
    );
    let mut lines = 0;
    for line in logs.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
        lines += 1;
    }
    // The shutdown line at least, and nothing but JSON besides the
    // listening banner (printed for people, not through the logger).
    assert!(lines >= 1, "{logs}");
    assert!(
        logs.lines()
            .all(|l| l.starts_with('{') || l.starts_with("tocsin: listening")),
        "{logs}"
    );
}

/// SIGTERM with a send hanging at the receiver and an upload still coming
/// in: the process exits 0 within the README's 5 s (one deadline for the
/// HTTP drain and the sends, not one after the other), and the unsent
/// message is still pending after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_within_one_deadline_and_leaves_the_rest_pending() {
    let rx = WebhookReceiver::start().await;
    rx.script((0..10).map(|_| Reply::Hang(Duration::from_secs(120))));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(
        &cfg,
        format!(
            "delivery: {{ allow_private_networks: true, timeout: 60s }}\n\
             contacts: [{{ name: hook, channel: webhook, webhook: \"{}\" }}]\n\
             contact_groups: [{{ name: g, contacts: [hook] }}]\n\
             notification_policies: [{{ name: p, contact_groups: [g] }}]\n\
             subscriptions: [{{ name: s, notification_policy: p }}]\n",
            rx.url("/hook")
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let start = |log: &str| {
        tocsin()
            .args(["serve", "--config"])
            .arg(&cfg)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path().join("data"))
            .stderr(std::fs::File::create(dir.path().join(log)).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = Child(start("first.log"));
    wait_ready(&base);
    let c = client();
    let r = c
        .post(format!("{base}/api/v1/events"))
        .body(native("term-1", "x", "critical"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(rx.wait_for_arrivals(1, WAIT).await, 1); // the send is in flight, hanging
    // An upload that never finishes: headers and half a body.
    let mut upload = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    upload
        .write_all(
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"product\":",
        )
        .unwrap();
    let asked = std::time::Instant::now();
    signal(child.0.id(), "TERM");
    let status = child.0.wait().unwrap();
    let took = asked.elapsed();
    eprintln!("SIGTERM to exit: {took:?}");
    assert_eq!(status.code(), Some(0));
    // The contract is 5 s; the bound leaves room for a loaded machine (the
    // drain and the sends one after the other took over 10 s).
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    drop(upload);

    let child = Child(start("second.log"));
    wait_ready(&base);
    let v: serde_json::Value = c
        .get(format!("{base}/api/v1/events/term-1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["deliveries"][0]["status"], "pending", "{v}");
    drop(child); // SIGKILL: the retry hangs again, nothing more to learn
}

/// Client commands talk to the server they are told about, and say which:
/// with a demo on one port and the user's server on another, `send` honours
/// `TOCSIN_SERVER` and `--config` (its server.listen and token; the file
/// beats the environment, flags beat both), and every message names the
/// server it asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_reach_the_server_named_by_env_or_config() {
    let demo = Harness::start("").await;
    let mine = Harness::start("server:\n  api_token: MINE-TOKEN\n").await;
    let mine_base = mine.url("");
    let demo_base = demo.url("");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  listen: {}\n  api_token: ${{MY_TOKEN}}\n",
            mine_base.trim_start_matches("http://")
        ),
    )
    .unwrap();
    let events = dir.path().join("events.json");
    let send = |id: &str, args: &[&str], env: &[(&str, &str)]| {
        std::fs::write(&events, native(id, "x", "warn")).unwrap();
        let mut cmd = tocsin();
        cmd.arg("send").args(args).arg(&events);
        cmd.env_remove("TOCSIN_SERVER")
            .env_remove("TOCSIN_API_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // The environment names the server and the token.
    let (code, out, err) = send(
        "env-1",
        &[],
        &[
            ("TOCSIN_SERVER", &mine_base),
            ("TOCSIN_API_TOKEN", "MINE-TOKEN"),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "env-1\n");
    assert_eq!(
        err.trim_end(),
        format!("tocsin send: {mine_base} accepted 1 event")
    );
    // The config file beats the environment (which names the demo here).
    let (code, out, err) = send(
        "cfg-1",
        &["--config", cfg.to_str().unwrap()],
        &[("TOCSIN_SERVER", &demo_base), ("MY_TOKEN", "MINE-TOKEN")],
    );
    assert_eq!((code, out.as_str()), (Some(0), "cfg-1\n"), "{err}");
    assert!(err.contains(&mine_base), "{err}");
    // Sent again: a duplicate, and the summary says so.
    let (code, _, err) = send(
        "cfg-1",
        &["--config", cfg.to_str().unwrap()],
        &[("MY_TOKEN", "MINE-TOKEN")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("accepted 0 events (1 already stored"), "{err}");
    // A flag beats the file.
    let (code, _, err) = send(
        "flag-1",
        &["--config", cfg.to_str().unwrap(), "--server", &demo_base],
        &[("MY_TOKEN", "MINE-TOKEN")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&demo_base), "{err}");

    for id in ["env-1", "cfg-1"] {
        let (s, _) = mine
            .get_with(&format!("/api/v1/events/{id}"), Some("MINE-TOKEN"))
            .await;
        assert_eq!(s, 200, "{id} is on my server");
        assert_eq!(
            demo.get(&format!("/api/v1/events/{id}")).await.0,
            404,
            "{id} not on the demo"
        );
    }
    assert_eq!(demo.get("/api/v1/events/flag-1").await.0, 200);

    // explain: through the config, and a miss names the server it asked.
    let out = tocsin()
        .args(["explain", "--config", cfg.to_str().unwrap(), "cfg-1"])
        .env("MY_TOKEN", "MINE-TOKEN")
        .env_remove("TOCSIN_SERVER")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tocsin()
        .args(["explain", "cfg-1"])
        .env("TOCSIN_SERVER", &demo_base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!("tocsin explain: the server at {demo_base} has no event with id cfg-1")
    );
}

/// `tocsin serve &` from the tour, then `tocsin demo`: the second start
/// fails, and says a Tocsin server is already running there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_held_by_tocsin_is_named_as_such() {
    let running = Harness::start("").await;
    let addr = running.url("").trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![
            "serve",
            "--listen",
            &addr,
            "--data",
            dir.path().to_str().unwrap(),
        ],
        vec![
            "demo",
            "--listen",
            &addr,
            "--sandbox-listen",
            "127.0.0.1:0",
            "--events",
            "0",
            "--exit-when-done",
        ],
    ] {
        let out = tocsin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("a Tocsin server is already running on {addr}")),
            "{args:?}: {err}"
        );
    }
}

/// `tocsin demo` runs a Discord bot of its own next to the other four: its
/// page is printed, the config it writes (and runs) has a `discord-bot`
/// contact on the demo's Discord webhook in the chat group, and that config
/// passes `tocsin check`. (`--events 0 --exit-when-done` stops at once.)
#[test]
fn the_demo_has_a_discord_and_a_teams_bot_in_its_chat_group() {
    let dir = tempfile::tempdir().unwrap();
    let out = tocsin()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--sandbox-listen",
            "127.0.0.1:0",
            "--events",
            "0",
            "--exit-when-done",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Discord"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no Discord page printed: {text}"));
    let sandbox = page
        .strip_suffix("/discord")
        .unwrap_or_else(|| panic!("{page}"));
    assert!(sandbox.starts_with("http://127.0.0.1:"), "{page}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("demo stopped: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(summary.contains(", Discord "), "{summary}");
    assert!(summary.contains(", Teams "), "{summary}");

    let config = dir.path().join("tocsin-demo.yaml");
    let yaml = std::fs::read_to_string(&config).unwrap();
    assert!(
        yaml.contains(&format!(
            "  - {{ name: discord-bot, channel: discord, webhook: \"{sandbox}/api/webhooks/1100000000000000002/demo-discord\" }}\n"
        )),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!(
            "  - {{ name: teams-bot, channel: teams, webhook: \"{sandbox}/workflows/5a4db0c0ffee4e11a0de000000000002/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=demo-teams-sig\" }}\n"
        )),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "  - { name: chat, contacts: [lark-bot, wecom-bot, dingtalk-bot, slack-bot, discord-bot, teams-bot, telegram-bot] }\n"
        ),
        "{yaml}"
    );
    // A PagerDuty service on the same sandbox, paged for critical alerts.
    assert!(
        yaml.contains(&format!(
            "  - {{ name: pagerduty-oncall, channel: pagerduty, routing_key: demopagerdutyroutingkey000000002, url: \"{sandbox}/v2/enqueue\" }}\n"
        )),
        "{yaml}"
    );
    assert!(summary.contains(", PagerDuty "), "{summary}");
    // And a Telegram bot on the same sandbox: its API base, its own token.
    assert!(
        yaml.contains(&format!(
            "  - {{ name: telegram-bot, channel: telegram, bot_token: \"7000000002:demo-telegram\", chat_id: -1001000000001, api_base: \"{sandbox}\" }}\n"
        )),
        "{yaml}"
    );
    let check = tocsin()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// `tocsin tail` shows a new event and then its delivery, live, and not the
/// events stored before it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_new_events_and_their_deliveries() {
    let rx = WebhookReceiver::start().await;
    let h = Harness::start(&one_hook(&rx.url("/in"), "", ALL)).await;
    let (s, _) = h
        .post("/api/v1/events", &native("old-1", "Suspicious:Old", "info"))
        .await;
    assert_eq!(s, 202);
    let mut child = tocsin()
        .args(["tail", "--server", &h.url(""), "--interval-ms", "100"])
        .env_remove("TOCSIN_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines arrive on a thread; the test reads them with a deadline.
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // It has started once it says whom it follows.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    let base = h.url("");
    assert_eq!(
        first.trim_end(),
        format!(
            "tocsin tail: following {} (Ctrl-C to stop)",
            base.trim_end_matches('/')
        )
    );
    let (s, _) = h
        .post(
            "/api/v1/events",
            &native("new-1", "Suspicious:New", "critical"),
        )
        .await;
    assert_eq!(s, 202);
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while !got.iter().any(|l: &String| l.contains("→ hook: delivered")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => got.push(l),
            Err(_) => panic!("no delivery line: {got:#?}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        got[0], "event new-1 critical Suspicious:New → routed",
        "{got:#?}"
    );
    assert!(
        got[1].starts_with("  new-1 → hook: delivered (HTTP 200)"),
        "{got:#?}"
    );
    assert!(!got.iter().any(|l| l.contains("old-1")), "{got:#?}");
    assert_eq!(rx.count(), 2);
}

/// `tocsin health` (the container's health check): 0 and "ready" against a
/// running server, 1 with the server's reason against something that
/// answers but is not ready, 2 when nothing listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_exit_codes_follow_readyz() {
    let running = Harness::start("").await;
    let out = tocsin()
        .args(["health", "--server", &running.url("")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ready (config version "));

    // A server that answers /readyz with 503 and Tocsin's JSON error body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let not_ready = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let body = r#"{"error":"store not reachable: disk gone"}"#;
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    let out = tokio::task::spawn_blocking(move || {
        tocsin()
            .args(["health", "--server", &not_ready])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("not ready (HTTP 503): store not reachable: disk gone"),
        "{out:?}"
    );

    let gone = format!("http://127.0.0.1:{}", free_port());
    let out = tocsin()
        .args(["health", "--server", &gone])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `serve` beyond loopback with nothing guarding the API refuses to start
/// (before it binds anything) and says what to do; an API token, or
/// `server.allow_unauthenticated: true`, lets it start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_beyond_loopback_needs_a_token_or_an_explicit_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = tocsin()
        .args(["serve", "--listen", &format!("0.0.0.0:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "refusing to serve on 0.0.0.0:{port} without authentication"
        )) && err.contains("server.api_token")
            && err.contains("server.allow_unauthenticated: true"),
        "{err}"
    );

    use tocsin::server::{ServeOptions, Server};
    for yaml in [
        "server:\n  api_token: t0ken\n",
        "server:\n  allow_unauthenticated: true\n",
    ] {
        let config = config(yaml, &[]);
        let server = Server::start_with(
            config,
            ServeOptions {
                config_path: None,
                listen: Some("0.0.0.0:0".into()),
                data_dir: Some(dir.path().join(format!("d{}", yaml.len()))),
                clock: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{yaml}: {e:#}"));
        server.shutdown().await;
    }
}
