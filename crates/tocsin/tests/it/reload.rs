use crate::common::*;
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
                "delivery:\n  allow_private_networks: true\n  backoff: {{ initial: 2s, max: 5s }}\n\
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

    // A good file: new routing, and `down` removed: its pending message fails.
    assert_eq!(event("r-1").await["deliveries"][1]["status"], "pending");
    write("second", false);
    let v2 = server.app.reload().await.unwrap();
    assert_ne!(v1, v2);
    let ev = event("r-1").await;
    let down = ev["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["contact"] == "down")
        .unwrap()
        .clone();
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
