use crate::common::*;
use std::time::Duration;
use tocsin::server::{ServeOptions, Server};

#[tokio::test]
async fn reload_applies_good_files_refuses_bad_ones_and_fails_removed_contacts() {
    // `down` has a receiver that is not there: its message stays pending.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = probe.local_addr().unwrap();
    drop(probe);
    let rx = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.yaml");
    let write = |subs_to: &str, with_down: bool| {
        let down = if with_down {
            format!("  - {{ name: down, channel: webhook, webhook: \"http://{dead}/x\" }}\n")
        } else {
            String::new()
        };
        let members = if with_down { "[up, down]" } else { "[up]" };
        std::fs::write(
            &path,
            format!(
                "delivery:\n  allow_private_networks: true\n  backoff: {{ initial: 2s, max: 5s }}\n  \
                 removed_contact_grace: 300ms\n\
                 contacts:\n  - {{ name: up, channel: webhook, webhook: \"{}\" }}\n{down}\
                 contact_groups:\n  - {{ name: g, contacts: {members} }}\n\
                 notification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
                 subscriptions:\n  - {{ name: s, event_names: [\"{subs_to}\"], notification_policy: p }}\n",
                rx.url("/up")
            ),
        )
        .unwrap();
    };
    write("first", true);
    let server = Server::start(ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        clock: None,
    })
    .await
    .unwrap();
    let base = server.base_url();
    let c = client();
    let post = |name: &'static str, id: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let body = format!(r#"{{"id":"{id}","product":"Sas","name":"{name}","level":"info"}}"#);
            let r = c
                .post(format!("{base}/api/v1/events"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
        }
    };
    let event = |id: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            c.get(format!("{base}/api/v1/events/{id}"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    post("first", "r-1").await;
    rx.wait_for(1, WAIT).await;
    let v1 = event("r-1").await["config_version"]
        .as_str()
        .unwrap()
        .to_string();

    // A bad file is refused; the running config stays.
    std::fs::write(
        &path,
        "subscriptions:\n  - { name: s, notification_policy: nowhere }\n",
    )
    .unwrap();
    let errors = server.app.reload().await.unwrap_err();
    assert!(
        errors.iter().any(|e| e.to_string().contains("nowhere")),
        "{errors:?}"
    );
    post("first", "r-2").await;
    rx.wait_for(2, WAIT).await;
    assert_eq!(event("r-2").await["config_version"], v1.as_str());

    // A good file: new routing, and `down` removed: its pending message
    // fails once the grace (300ms here) has passed.
    assert_eq!(event("r-1").await["deliveries"][1]["status"], "pending");
    write("second", false);
    let v2 = server.app.reload().await.unwrap();
    assert_ne!(v1, v2);
    let deadline = std::time::Instant::now() + WAIT;
    let down = loop {
        let ev = event("r-1").await;
        let down = ev["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["contact"] == "down")
            .unwrap()
            .clone();
        if down["status"] != "pending" {
            break down;
        }
        assert!(std::time::Instant::now() < deadline, "{down}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(down["status"], "failed");
    assert_eq!(down["reason"], "contact removed from the configuration");
    post("first", "r-3").await;
    post("second", "r-4").await;
    rx.wait_for(3, WAIT).await;
    idle_db(&dir.path().join("data")).await;
    assert_eq!(event("r-3").await["outcome"], "unmatched");
    let ev4 = event("r-4").await;
    assert_eq!(ev4["outcome"], "routed");
    assert_eq!(ev4["config_version"], v2.as_str());
    let names: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.json()["events"][0]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["r-1", "r-2", "r-4"]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_empty_or_truncated_file_is_refused_on_reload_and_at_start() {
    let rx = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.yaml");
    std::fs::write(
        &path,
        format!(
            "server:\n  api_token: adm-tok\ndelivery:\n  allow_private_networks: true\n\
             contacts:\n  - {{ name: up, channel: webhook, webhook: \"{}\" }}\n\
             contact_groups:\n  - {{ name: g, contacts: [up] }}\n\
             notification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
             subscriptions:\n  - {{ name: s, event_names: [\"x\"], notification_policy: p }}\n",
            rx.url("/up")
        ),
    )
    .unwrap();
    let options = ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        ..Default::default()
    };
    let server = Server::start(options.clone()).await.unwrap();
    let base = server.base_url();
    let c = client();
    let status = |token: Option<&'static str>| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let mut r = c.get(format!("{base}/api/v1/events"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(status(None).await, 401);
    let before = server.app.config().version.clone();

    for (n, text) in [
        "",
        "  \n\n",
        "# truncated\n# by a full disk\n",
        "- a\n- b\n",
        "just words\n",
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(&path, text).unwrap();
        let errors = server.app.reload().await.unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            shown.iter().any(|e| e.contains("tocsin.yaml")),
            "{text:?}: {shown:?}"
        );
        assert_eq!(server.app.config().version, before, "{text:?}");
        // The token is still enforced and routing is as before.
        assert_eq!(status(None).await, 401, "{text:?}");
        assert_eq!(status(Some("adm-tok")).await, 200);
        let id = format!("e-{n}");
        let r = c
            .post(format!("{base}/api/v1/events"))
            .bearer_auth("adm-tok")
            .body(format!(
                r#"{{"id":"{id}","product":"Sas","name":"x","level":"info"}}"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        rx.wait_for(n + 1, WAIT).await;
    }
    server.shutdown().await;

    // At start too: an empty file given with --config is an error, not the defaults.
    std::fs::write(&path, "\n# nothing\n").unwrap();
    let err = Server::start(options)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("tocsin.yaml") && err.contains("empty"),
        "{err}"
    );
}

#[tokio::test]
async fn a_contact_removed_and_re_added_within_the_grace_still_gets_its_message() {
    let rx = WebhookReceiver::start().await;
    // The first try fails: the message is pending when the contact goes.
    rx.script([Reply::Status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.yaml");
    let write = |with_flaky: bool| {
        let (contact, members) = if with_flaky {
            (
                format!(
                    "  - {{ name: flaky, channel: webhook, webhook: \"{}\" }}\n",
                    rx.url("/f")
                ),
                "[flaky]",
            )
        } else {
            (String::new(), "[]")
        };
        std::fs::write(
            &path,
            format!(
                "delivery:\n  allow_private_networks: true\n  backoff: {{ initial: 300ms, max: 300ms }}\n\
                 contacts:\n{contact}\
                 contact_groups:\n  - {{ name: g, contacts: {members} }}\n\
                 notification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
                 subscriptions:\n  - {{ name: s, event_names: [\"x\"], notification_policy: p }}\n"
            ),
        )
        .unwrap();
    };
    write(true);
    let server = Server::start(ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = server.base_url();
    let c = client();
    let r = c
        .post(format!("{base}/api/v1/events"))
        .body(r#"{"id":"g-1","product":"Sas","name":"x","level":"info"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    rx.wait_for(1, WAIT).await;
    // Removed (default grace: 1h): the message stays pending.
    write(false);
    server.app.reload().await.unwrap();
    let delivery = |c: reqwest::Client, base: String| async move {
        let v: serde_json::Value = c
            .get(format!("{base}/api/v1/events/g-1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["deliveries"][0].clone()
    };
    let d = delivery(c.clone(), base.clone()).await;
    assert_eq!(d["status"], "pending", "{d}");
    // Back under the same name: delivered.
    write(true);
    server.app.reload().await.unwrap();
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].json()["events"][0]["id"], "g-1");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let d = delivery(c.clone(), base.clone()).await;
        if d["status"] == "delivered" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{d}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}
