//! `tocsin sandbox`: the real binary serves the seven platforms on one port
//! and their documented paths; a real Tocsin config pasted from what it
//! prints delivers to each bot, and each bot's page shows the messages
//! rendered, newest first, with untrusted content inert.

use crate::common::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

struct Sandbox {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tocsin sandbox --listen 127.0.0.1:0` and reads what it prints
/// up to the last contact line.
fn start() -> (Sandbox, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut sandbox = Sandbox { child, out };
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(sandbox.out.read_line(&mut line).unwrap() > 0, "{lines:#?}");
        let line = line.trim_end().to_string();
        let last = line.starts_with("  - { name: sandbox-pagerduty,");
        lines.push(line);
        if last {
            return (sandbox, lines);
        }
    }
}

/// The value after `label` on the line following the platform's heading.
fn printed(lines: &[String], platform: &str, label: &str) -> String {
    let at = lines
        .iter()
        .position(|l| l.trim() == platform)
        .unwrap_or_else(|| panic!("{platform} not printed: {lines:#?}"));
    lines[at..]
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{platform} {label} not printed"))
}

async fn page(url: &str) -> String {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    r.text().await.unwrap()
}

fn event(id: &str, name: &str, desc: &str) -> String {
    serde_json::json!({"id": id, "product": "Sas", "event_type": "Suspicious", "name": name,
        "level": "critical", "resource": "acs:ecs:cn-hangzhou:1:instance/i-bp1abc",
        "instance": "web-01", "region": "cn-hangzhou", "time": "2026-11-29T02:00:00Z",
        "content": {"alarmUniqueInfo": format!("u-{id}"), "desc": desc}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_serves_the_seven_platforms_on_its_documented_paths() {
    let (mut sandbox, lines) = start();
    let base = lines[0]
        .strip_prefix("Tocsin sandbox on ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{lines:#?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    // The documented paths, bots, secrets and keywords.
    let expect = [
        (
            "Lark / Feishu",
            "/open-apis/bot/v2/hook/sandbox-lark",
            "sandbox-lark-secret",
            "alert",
            "/lark",
        ),
        (
            "WeCom",
            "/cgi-bin/webhook/send?key=sandbox-wecom",
            "(none)",
            "(none)",
            "/wecom",
        ),
        (
            "DingTalk",
            "/robot/send?access_token=sandbox-dingtalk",
            "SECsandbox",
            "alert",
            "/dingtalk",
        ),
        (
            "Slack",
            "/services/T0SANDBOX/B0SANDBOX/sandbox",
            "(none)",
            "(none)",
            "/slack",
        ),
        (
            "Discord",
            "/api/webhooks/1100000000000000001/sandbox-discord",
            "(none)",
            "(none)",
            "/discord",
        ),
        (
            "Teams",
            "/workflows/5a4db0c0ffee4e11a0de000000000001/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sandbox-teams-sig",
            "(none)",
            "(none)",
            "/teams",
        ),
    ];
    // Telegram: a token, a chat and the API base instead of a webhook.
    assert_eq!(
        printed(&lines, "Telegram", "bot_token:"),
        "7000000001:sandbox-telegram"
    );
    assert_eq!(printed(&lines, "Telegram", "api_base:"), base);
    assert_eq!(
        printed(&lines, "Telegram", "page:"),
        format!("{base}/telegram")
    );
    // PagerDuty: a routing key and the Events API URL.
    assert_eq!(
        printed(&lines, "PagerDuty", "routing_key:"),
        "sandboxpagerdutyroutingkey000001"
    );
    assert_eq!(
        printed(&lines, "PagerDuty", "url:"),
        format!("{base}/v2/enqueue")
    );
    for (platform, path, secret, keyword, page) in expect {
        assert_eq!(
            printed(&lines, platform, "webhook:"),
            format!("{base}{path}")
        );
        assert_eq!(printed(&lines, platform, "secret:"), secret);
        assert_eq!(printed(&lines, platform, "keyword:"), keyword);
        assert_eq!(printed(&lines, platform, "page:"), format!("{base}{page}"));
    }

    // The printed snippet, pasted into a config as is.
    let snippet_at = lines.iter().position(|l| l == "delivery:").unwrap();
    let yaml = format!(
        "{}\ncontact_groups:\n  - {{ name: chat, contacts: [sandbox-lark, sandbox-wecom, sandbox-dingtalk, sandbox-slack, sandbox-discord, sandbox-teams, sandbox-telegram, sandbox-pagerduty] }}\n\
         notification_policies:\n  - {{ name: p, contact_groups: [chat] }}\n\
         subscriptions:\n  - {{ name: all, notification_policy: p }}\n",
        lines[snippet_at..].join("\n")
    );
    let h = Harness::start(&yaml).await;
    let contacts = [
        "sandbox-lark",
        "sandbox-wecom",
        "sandbox-dingtalk",
        "sandbox-slack",
        "sandbox-discord",
        "sandbox-teams",
        "sandbox-telegram",
        "sandbox-pagerduty",
    ];
    let (s, v) = h
        .post(
            "/api/v1/events",
            &event(
                "sb-1",
                "Suspicious:FirstLogin",
                "<script>alert(1)</script> <img src=x onerror=alert(2)>",
            ),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    for c in contacts {
        h.wait_status("sb-1", c, "delivered").await;
    }
    let (s, v) = h
        .post(
            "/api/v1/events",
            &event("sb-2", "Suspicious:SecondLogin", "second one"),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    for c in contacts {
        h.wait_status("sb-2", c, "delivered").await;
    }

    // What the fakes accepted, as plain text: both messages on every bot.
    let text = client()
        .get(format!("{base}/_sandbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for bot in [
        "sandbox-lark",
        "sandbox-wecom",
        "sandbox-dingtalk",
        "T0SANDBOX/B0SANDBOX/sandbox",
        "1100000000000000001/sandbox-discord",
        "5a4db0c0ffee4e11a0de000000000001/sandbox-teams-sig",
        "7000000001:sandbox-telegram",
        "sandboxpagerdutyroutingkey000001",
    ] {
        assert!(
            text.contains(&format!(
                "--- bot {bot}: 2 shown in the group, 0 refused ---"
            )),
            "{text}"
        );
    }

    for (platform, marker) in [
        (
            "Lark / Feishu",
            "<div class=\"lark-card\"><div class=\"lark-header t-red\">",
        ),
        ("WeCom", "<div class=\"wecom-md\">"),
        ("DingTalk", "<div class=\"ding-md\">"),
        ("Slack", "<div class=\"slack-header\">"),
        (
            "Discord",
            "<div class=\"discord-msg\"><div class=\"embed\" style=\"border-left-color:#",
        ),
        (
            "Teams",
            "<div class=\"teams-msg\"><div class=\"teams-card\"><p class=\"c-red\"",
        ),
        ("PagerDuty", "<table class=\"pd-incidents\">"),
    ] {
        let html = page(&printed(&lines, platform, "page:")).await;
        assert!(html.contains("<meta http-equiv=\"refresh\""), "{platform}");
        assert!(html.contains(marker), "{platform}: {html}");
        let second = html
            .find("SecondLogin")
            .unwrap_or_else(|| panic!("{platform}: {html}"));
        let first = html
            .find("FirstLogin")
            .unwrap_or_else(|| panic!("{platform}: {html}"));
        assert!(second < first, "{platform}: newest first: {html}");
        // The alert's markup arrives as text: no tag of it survives.
        assert!(!html.contains("<script"), "{platform}: {html}");
        assert!(!html.contains("<img"), "{platform}: {html}");
        assert!(!html.contains("onerror=alert(2)>"), "{platform}: {html}");
        assert!(
            html.contains("alert(1)"),
            "{platform}: the desc is shown: {html}"
        );
        if platform == "Discord" {
            // Shown as the text it was: the backslashes Tocsin escapes
            // markdown with are hidden, the tags are text.
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{html}"
            );
            assert!(!html.contains("\\&lt;"), "{html}");
        }
    }
    // What Tocsin put on the wire to Discord: both messages, pinging nobody.
    let requests: serde_json::Value = client()
        .get(format!("{base}/_sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to_discord: Vec<&serde_json::Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["platform"] == "Discord")
        .collect();
    assert_eq!(to_discord.len(), 2, "{requests:#}");
    for r in to_discord {
        assert_eq!(
            r["path"], "/api/webhooks/1100000000000000001/sandbox-discord",
            "{r:#}"
        );
        assert_eq!(r["http_status"], 204, "{r:#}");
        // `parse: []`: no @everyone/@here or role pings whatever the text;
        // `users: []`: the contact names nobody to ping.
        assert_eq!(
            r["body"]["allowed_mentions"],
            serde_json::json!({"parse": [], "users": []}),
            "{r:#}"
        );
    }
    let index = page(&format!("{base}/")).await;
    assert!(index.contains("sandbox-lark-secret"), "{index}");
    assert!(
        index.contains(&format!(
            "{base}/api/webhooks/1100000000000000001/sandbox-discord"
        )),
        "{index}"
    );

    // Ctrl-C: exit 0, one short line, nothing on stderr.
    let pid = sandbox.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = sandbox.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut sandbox.out, &mut rest).unwrap();
    assert_eq!(rest.trim(), "sandbox stopped.");
    let mut err = String::new();
    std::io::Read::read_to_string(sandbox.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(err, "");
}

/// A second sandbox on a taken port says so and who holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_sandbox_port_names_the_sandbox_holding_it() {
    let (_sandbox, lines) = start();
    let addr = lines[0]
        .strip_prefix("Tocsin sandbox on http://")
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["sandbox", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "tocsin sandbox: cannot listen on {addr} for the sandbox"
        )) && err.contains(&format!("a Tocsin sandbox is already running on {addr}")),
        "{err}"
    );
}
