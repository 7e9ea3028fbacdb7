//! The management API over real HTTP: CRUD of every kind, ETag/If-Match,
//! provisioned and referenced objects, one validator listing every problem,
//! API-made routing reaching a fake receiver, restart persistence, the
//! export passing `tocsin check`, the audit log, and no secret in any answer.

use crate::common::*;
use serde_json::{Value, json};
use std::process::Command;

/// A file with one provisioned contact/group/policy/subscription (`file-*`).
fn file_config(url: &str) -> String {
    format!(
        r#"
delivery:
  allow_private_networks: true
  backoff: {{ initial: 50ms, max: 200ms }}
  timeout: 2s
contacts:
  - name: file-hook
    channel: webhook
    webhook: "{url}"
    secret: file-secret-zz9
contact_groups:
  - {{ name: file-team, contacts: [file-hook] }}
notification_policies:
  - {{ name: file-policy, contact_groups: [file-team] }}
subscriptions:
  - {{ name: file-sub, notification_policy: file-policy, event_names: [nothing-matches-this] }}
"#
    )
}

/// A request with an optional If-Match: (status, ETag, body).
async fn send(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = h.client.request(method, h.url(path));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn post(h: &Harness, path: &str, body: Value) -> (u16, Option<String>, Value) {
    send(h, reqwest::Method::POST, path, Some(body), None).await
}

async fn get(h: &Harness, path: &str) -> (u16, Option<String>, Value) {
    send(h, reqwest::Method::GET, path, None, None).await
}

fn api_contact(url: &str) -> Value {
    json!({"name": "api-hook", "channel": "webhook", "webhook": url,
           "secret": "api-secret-q7", "headers": {"X-Api-Key": "header-secret-k3"}})
}

/// Creates contact → group → policy → subscription through the API.
async fn make_chain(h: &Harness, url: &str) {
    for (path, body) in [
        ("/api/v1/contacts", api_contact(url)),
        (
            "/api/v1/contact-groups",
            json!({"name": "api-team", "contacts": ["api-hook"]}),
        ),
        (
            "/api/v1/notification-policies",
            json!({"name": "api-policy", "contact_groups": ["api-team"]}),
        ),
        (
            "/api/v1/subscriptions",
            json!({"name": "api-sub", "notification_policy": "api-policy", "levels": ["critical"]}),
        ),
    ] {
        let (status, etag, v) = post(h, path, body).await;
        assert_eq!(status, 201, "{path}: {v}");
        assert!(etag.is_some(), "{path}: no ETag");
        assert_eq!(v["provisioned"], false, "{v}");
    }
}

fn assert_no_secret(text: &str) {
    for s in [
        "api-secret-q7",
        "header-secret-k3",
        "file-secret-zz9",
        "/hook-path-key",
    ] {
        assert!(!text.contains(s), "secret {s} shown: {text}");
    }
}

#[tokio::test]
async fn crud_round_trip_of_every_kind() {
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let h = Harness::start(&file_config(&url)).await;
    make_chain(&h, &url).await;
    let (s, _, v) = post(
        &h,
        "/api/v1/sources",
        json!({"name": "api-src", "product": "Sas"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, _, v) = post(
        &h,
        "/api/v1/silences",
        json!({"matchers": {"event_names": ["noisy*"]}, "duration": "1h", "comment": "maintenance"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let silence = v["name"].as_str().expect("a generated name").to_string();
    assert!(
        v["ends_at"].is_string() && v.get("duration").is_none(),
        "{v}"
    );

    // Read: lists (wrapped as always, provisioned flags) and single objects.
    for (kind, key, name) in [
        ("contacts", "contacts", "api-hook"),
        ("contact-groups", "contact_groups", "api-team"),
        (
            "notification-policies",
            "notification_policies",
            "api-policy",
        ),
        ("subscriptions", "subscriptions", "api-sub"),
        ("sources", "sources", "api-src"),
        ("silences", "silences", silence.as_str()),
    ] {
        let (s, _, list) = get(&h, &format!("/api/v1/{kind}")).await;
        assert_eq!(s, 200, "{list}");
        let items = list[key].as_array().expect("wrapped list");
        let mine = items.iter().find(|x| x["name"] == name).expect("listed");
        assert_eq!(mine["provisioned"], false);
        let (s, etag, one) = get(&h, &format!("/api/v1/{kind}/{name}")).await;
        assert_eq!(s, 200, "{one}");
        assert!(etag.is_some());
        assert_eq!(one["name"], name);
        assert_no_secret(&list.to_string());
        assert_no_secret(&one.to_string());
    }
    let (_, _, list) = get(&h, "/api/v1/contacts").await;
    let file = list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "file-hook")
        .unwrap()
        .clone();
    assert_eq!(file["provisioned"], true);

    // Update: GET (redacted) and PUT back keeps the secret; the delivery's
    // signature proves which secret is in use.
    let (_, etag, shown) = get(&h, "/api/v1/contacts/api-hook").await;
    assert_eq!(shown["secret"], "***");
    let mut back = shown.clone();
    back["concurrency"] = json!(2);
    let (s, new_etag, v) = send(
        &h,
        reqwest::Method::PUT,
        "/api/v1/contacts/api-hook",
        Some(back),
        etag.as_deref(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(new_etag, etag);
    assert_eq!(v["concurrency"], 2);
    rx.require_signature("api-secret-q7");
    let (s, v) = h
        .post("/api/v1/events", &native("m-1", "login", "critical"))
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("m-1", "api-hook", "delivered").await;

    // Delete, dependents first.
    for path in [
        format!("/api/v1/silences/{silence}"),
        "/api/v1/sources/api-src".to_string(),
        "/api/v1/subscriptions/api-sub".into(),
        "/api/v1/notification-policies/api-policy".into(),
        "/api/v1/contact-groups/api-team".into(),
        "/api/v1/contacts/api-hook".into(),
    ] {
        let (s, _, v) = send(&h, reqwest::Method::DELETE, &path, None, None).await;
        assert_eq!(s, 204, "{path}: {v}");
        let (s, _, _) = get(&h, &path).await;
        assert_eq!(s, 404, "{path} still there");
    }
}

#[tokio::test]
async fn conflicts_stale_etags_and_every_problem_at_once() {
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let h = Harness::start(&file_config(&url)).await;
    make_chain(&h, &url).await;

    // 409: an existing name, API-made or provisioned.
    let (s, _, v) = post(&h, "/api/v1/contacts", api_contact(&url)).await;
    assert_eq!(s, 409, "{v}");
    let (s, _, v) = post(
        &h,
        "/api/v1/contact-groups",
        json!({"name": "file-team", "contacts": ["api-hook"]}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    // 409: provisioned objects are read-only, naming the file.
    let (s, _, v) = send(
        &h,
        reqwest::Method::PUT,
        "/api/v1/contact-groups/file-team",
        Some(json!({"name": "file-team", "contacts": ["api-hook"]})),
        None,
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["provisioned"], true);
    assert!(v["error"].as_str().unwrap().contains("test.yaml"), "{v}");
    let (s, _, v) = send(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/contacts/file-hook",
        None,
        None,
    )
    .await;
    assert_eq!(s, 409, "{v}");

    // 409 referenced_by.
    let (s, _, v) = send(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/contact-groups/api-team",
        None,
        None,
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["referenced_by"],
        json!([{"kind": "notification-policies", "name": "api-policy"}])
    );

    // 412: a stale If-Match, on PUT and DELETE.
    let (_, first, _) = get(&h, "/api/v1/contact-groups/api-team").await;
    let first = first.unwrap();
    let body = json!({"name": "api-team", "contacts": ["api-hook", "file-hook"]});
    let (s, _, v) = send(
        &h,
        reqwest::Method::PUT,
        "/api/v1/contact-groups/api-team",
        Some(body.clone()),
        Some(&first),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _, v) = send(
        &h,
        reqwest::Method::PUT,
        "/api/v1/contact-groups/api-team",
        Some(body),
        Some(&first),
    )
    .await;
    assert_eq!(s, 412, "{v}");
    let (s, _, v) = send(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/contact-groups/api-team",
        None,
        Some(&first),
    )
    .await;
    assert_eq!(s, 412, "{v}");

    // 422: every problem of the resulting configuration at once, with paths.
    let (s, _, v) = post(
        &h,
        "/api/v1/subscriptions",
        json!({"name": "bad-sub", "notification_policy": "no-such-policy",
               "merge_window": "soonish", "levels": ["loud"], "deny_list": true}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let problems = v["problems"].as_array().expect("problems");
    let paths: Vec<&str> = problems.iter().filter_map(|p| p["path"].as_str()).collect();
    assert!(problems.len() >= 3, "{v}");
    for p in ["notification_policy", "merge_window", "levels[0]"] {
        assert!(paths.contains(&p), "no problem at {p}: {v}");
    }
    assert!(problems.iter().all(|p| p["message"].is_string()));
    // Nothing was made.
    let (s, _, _) = get(&h, "/api/v1/subscriptions/bad-sub").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn api_made_routing_reaches_the_fake_survives_restart_and_silences() {
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let mut h = Harness::start(&file_config(&url)).await;
    let (_, before) = h.get("/readyz").await;
    make_chain(&h, &url).await;
    let (_, after) = h.get("/readyz").await;
    assert_ne!(
        before["config_version"], after["config_version"],
        "a new version"
    );

    let (s, v) = h
        .post("/api/v1/events", &native("r-1", "api-routed", "critical"))
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("r-1", "api-hook", "delivered").await;
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].path, "/hook-path-key");
    assert_eq!(got[0].header("X-Api-Key"), Some("header-secret-k3"));
    assert!(String::from_utf8_lossy(&got[0].body).contains("api-routed"));

    // Restart on the same data dir: the API-made objects are still there.
    h.stop().await;
    h.boot(config(&file_config(&url), &[])).await;
    let (s, _, v) = get(&h, "/api/v1/subscriptions/api-sub").await;
    assert_eq!(s, 200, "{v}");

    // A silence stops matching events; history and explain say why.
    let (s, _, v) = post(
        &h,
        "/api/v1/silences",
        json!({"name": "quiet", "matchers": {"event_names": ["api-*"], "levels": ["critical"]}, "duration": "2h"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = h
        .post("/api/v1/events", &native("r-2", "api-silenced", "critical"))
        .await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = h
        .post("/api/v1/events", &native("r-3", "other-name", "critical"))
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("r-3", "api-hook", "delivered").await;
    let e = h.event("r-2").await;
    assert!(
        e["deliveries"].as_array().is_none_or(|d| d.is_empty()),
        "{e:#}"
    );
    let d = e["route"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subscription"] == "api-sub")
        .cloned()
        .expect("decision");
    assert_eq!(d["code"], "silenced", "{e:#}");
    let (_, ex) = h.get("/api/v1/events/r-2/explain").await;
    assert!(ex.to_string().contains("silence quiet is active"), "{ex:#}");
    let received: Vec<String> = rx
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(received.iter().all(|b| !b.contains("api-silenced")));
}

#[tokio::test]
async fn export_passes_check_and_the_audit_lists_every_change() {
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let h = Harness::start(&file_config(&url)).await;
    make_chain(&h, &url).await;
    let (s, _, _) = send(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/subscriptions/api-sub",
        None,
        None,
    )
    .await;
    assert_eq!(s, 204);

    let resp = h
        .client
        .get(h.url("/api/v1/config/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/yaml")
    );
    let yaml = resp.text().await.unwrap();
    assert_no_secret(&yaml);
    assert!(
        yaml.contains("${TOCSIN_SECRET_CONTACTS_API_HOOK_SECRET"),
        "{yaml}"
    );
    assert!(
        yaml.contains("api-policy") && !yaml.contains("api-sub"),
        "{yaml}"
    );
    let path = h.dir.path().join("export.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check refused the export:\n{}\n{}\n{yaml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Audit: newest first, paged by cursor, secrets masked in the diff.
    let (s, v) = h.get("/api/v1/audit?limit=3").await;
    assert_eq!(s, 200, "{v}");
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["action"], "delete");
    assert_eq!(entries[0]["kind"], "subscriptions");
    assert_eq!(entries[0]["name"], "api-sub");
    assert_eq!(entries[0]["actor"], "anonymous");
    assert!(entries[0]["at"].is_string() && entries[0]["version"].is_string());
    let cursor = v["next_cursor"].as_str().expect("more").to_string();
    let (_, rest) = h.get(&format!("/api/v1/audit?cursor={cursor}")).await;
    let rest = rest["entries"].as_array().unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[1]["action"], "create");
    assert_eq!(rest[1]["name"], "api-hook");
    assert_eq!(rest[1]["diff"]["after"]["secret"], "***");
    assert_no_secret(&rest[1].to_string());
}

#[tokio::test]
async fn the_token_guards_the_management_api_and_names_the_actor() {
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let yaml = file_config(&url).replace("delivery:", "server:\n  api_token: tok-123\ndelivery:");
    let h = Harness::start(&yaml).await;
    let (s, _, _) = post(&h, "/api/v1/contacts", api_contact(&url)).await;
    assert_eq!(s, 401);
    let resp = h
        .client
        .post(h.url("/api/v1/contacts"))
        .bearer_auth("tok-123")
        .header("content-type", "application/json")
        .body(api_contact(&url).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (_, v) = h.get_with("/api/v1/audit", Some("tok-123")).await;
    assert_eq!(v["entries"][0]["actor"], "api-token");
}

#[tokio::test]
async fn a_reload_of_the_file_keeps_the_api_objects_and_refuses_a_name_clash() {
    use tocsin::server::{ServeOptions, Server};
    let rx = WebhookReceiver::start().await;
    let url = rx.url("/hook-path-key");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.yaml");
    std::fs::write(&path, file_config(&url)).unwrap();
    let server = Server::start(ServeOptions {
        config_path: Some(path.clone()),
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        clock: None,
    })
    .await
    .unwrap();
    let c = client();
    let base = server.base_url();
    let r = c
        .post(format!("{base}/api/v1/contact-groups"))
        .body(json!({"name": "api-team", "contacts": ["file-hook"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // The file changes; the API-made group stays.
    std::fs::write(&path, file_config(&url).replace("file-sub", "file-sub-2")).unwrap();
    server.app.reload().await.expect("reload");
    let snap = server.app.config();
    assert!(
        snap.config
            .contact_groups
            .iter()
            .any(|g| g.name == "api-team")
    );
    assert!(
        snap.config
            .subscriptions
            .iter()
            .any(|s| s.name == "file-sub-2")
    );

    // The file now has a group of the same name: refused, naming both.
    std::fs::write(
        &path,
        file_config(&url).replace(
            "  - { name: file-team, contacts: [file-hook] }",
            "  - { name: file-team, contacts: [file-hook] }\n  - { name: api-team, contacts: [file-hook] }",
        ),
    )
    .unwrap();
    let errors = server.app.reload().await.unwrap_err();
    let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("api-team") && t.contains("contact group")),
        "{text:#?}"
    );
    assert!(
        server
            .app
            .config()
            .config
            .subscriptions
            .iter()
            .any(|s| s.name == "file-sub-2")
    );
    server.shutdown().await;
}

/// `tocsin serve` with no `--config` (the README's first command): the
/// built-in defaults take API-made objects one change after another, and a
/// restart on the same store brings them back.
#[tokio::test]
async fn the_built_in_defaults_take_changes_one_after_another_and_keep_them() {
    use tocsin::server::{ServeOptions, Server};
    let dir = tempfile::tempdir().unwrap();
    let options = || ServeOptions {
        config_path: None,
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().to_path_buf()),
        clock: None,
    };
    let server = Server::start(options()).await.unwrap();
    let c = client();
    let base = server.base_url();
    for (kind, body) in [
        (
            "contacts",
            json!({"name": "hook", "channel": "webhook", "webhook": "https://example.com/hook"}),
        ),
        (
            "contact-groups",
            json!({"name": "team", "contacts": ["hook"]}),
        ),
        (
            "notification-policies",
            json!({"name": "policy", "contact_groups": ["team"]}),
        ),
        (
            "subscriptions",
            json!({"name": "all", "notification_policy": "policy"}),
        ),
    ] {
        let r = c
            .post(format!("{base}/api/v1/{kind}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 201, "{kind}: {}", r.text().await.unwrap());
    }
    server.shutdown().await;
    let server = Server::start(options()).await.unwrap();
    let subs: Value = c
        .get(format!("{}/api/v1/subscriptions", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(subs["subscriptions"][0]["name"], "all", "{subs}");
    assert_eq!(subs["subscriptions"][0]["provisioned"], false, "{subs}");
    server.shutdown().await;
}

/// The API refuses what `tocsin check` calls certain to fail, in the object
/// sent: a contact on a literal private address while
/// `delivery.allow_private_networks` is false, a WeCom contact on a Lark
/// URL. (Validation only: nothing connects to those addresses.)
#[tokio::test]
async fn the_api_refuses_contacts_that_check_calls_certain_failures() {
    let h = Harness::start("server:\n  listen: 127.0.0.1:0\n").await;
    for (body, needle) in [
        (
            json!({"name": "private", "channel": "lark", "webhook": "http://10.0.0.5/open-apis/bot/v2/hook/x"}),
            "allow_private_networks",
        ),
        (
            json!({"name": "mixed", "channel": "wecom", "webhook": "https://open.feishu.cn/open-apis/bot/v2/hook/x"}),
            "lark",
        ),
    ] {
        let (s, _, v) = send(
            &h,
            reqwest::Method::POST,
            "/api/v1/contacts",
            Some(body),
            None,
        )
        .await;
        assert_eq!(s, 422, "{v}");
        let problems = v["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["path"] == "webhook" && p["message"].as_str().unwrap().contains(needle)),
            "{v}"
        );
    }
    let (_, _, v) = send(&h, reqwest::Method::GET, "/api/v1/contacts", None, None).await;
    assert_eq!(v["contacts"].as_array().unwrap().len(), 0, "{v}");
}
