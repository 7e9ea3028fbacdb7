//! Contact templates end to end against the platform fakes: the exact
//! markdown a WeCom group receives, hostile event values neutralized, the
//! bot's keywords added where a template left them out, and the built-in
//! message when a template fails at send time.

use crate::common::*;
use tocsin_fakes::{BotSettings, FakeBot};

const TEMPLATE: &str = r#"    template: |
      **{{ event.name }}** on `{{ event.instance }}`
      > region: {{ event.region }}, time: {{ time }}
      {% if link %}[Open]({{ link }}){% endif %}
"#;

fn event(id: &str, instance: &str, content: &str) -> String {
    format!(
        r#"{{"id":"{id}","product":"Sas","event_type":"Suspicious","name":"Sas:WebShell","level":"critical",
            "instance":"{instance}","region":"cn-hangzhou","time":"2026-11-29T02:00:00Z","content":{content}}}"#
    )
}

#[tokio::test]
async fn wecom_gets_the_template_byte_for_byte_with_hostile_values_neutralized() {
    let bot = FakeBot::wecom().await;
    bot.add_bot("k", BotSettings::default());
    let h = Harness::start(&platform_config("wecom", &bot.url("k"), TEMPLATE)).await;
    let body = event("tp-1", r#"<@all> [x](http://evil)"#, "{}");
    let (s, v) = h.post("/api/v1/events", &body).await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("tp-1", "bot", "delivered").await;
    let got = bot.wait_for_accepted(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let json = got[0].json();
    assert_eq!(json["msgtype"], "markdown");
    assert_eq!(
        json["markdown"]["content"].as_str().unwrap(),
        "## <font color=\"warning\">[CRITICAL] Sas:WebShell</font>\n\
         **Sas:WebShell** on `＜@all＞ ［x］（hxxp://evil)`\n\
         > region: cn-hangzhou, time: 2026-11-29 10:00:00 CST\n\
         [Open](https://tocsin.example.com/api/v1/events/tp-1)\n\
         <font color=\"comment\">Tocsin · Subscription: sec-feed</font>"
    );
}

#[tokio::test]
async fn lark_keywords_are_added_where_the_template_left_them_out() {
    let bot = FakeBot::lark().await;
    bot.add_bot("hook", BotSettings::with_keywords(&["alert"]));
    let extra = "    keywords: [alert]\n    template: |\n      **{{ event.name }}** on {{ event.instance }}\n";
    let h = Harness::start(&platform_config("lark", &bot.url("hook"), extra)).await;
    let (s, v) = h
        .post(
            "/api/v1/events",
            &event("tp-2", "web-01 <at id=all></at>", "{}"),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("tp-2", "bot", "delivered").await;
    let got = bot.wait_for_accepted(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].accepted(), "the fake enforces the keyword");
    let body = got[0].json();
    let elements = body["card"]["elements"].as_array().unwrap();
    assert_eq!(elements[0]["text"]["tag"], "lark_md");
    assert_eq!(
        elements[0]["text"]["content"],
        "**Sas:WebShell** on web-01 ＜at id=all＞＜/at＞"
    );
    let text = got[0].rendered_text();
    assert!(text.contains("sec-feed · alert"), "{text}");
}

#[tokio::test]
async fn a_template_failing_at_send_time_falls_back_to_the_built_in_message() {
    let bot = FakeBot::dingtalk().await;
    bot.add_bot("t", BotSettings::default());
    // Fine on the sample alert (no `n`), out of fuel on this event.
    let extra = "    template: |\n      {% if event.content.n is defined %}{% for i in range(event.content.n) %}{% for j in range(event.content.n) %}{% endfor %}{% endfor %}{% endif %}{{ event.name }}\n";
    let h = Harness::start(&platform_config("dingtalk", &bot.url("t"), extra)).await;
    let (s, v) = h
        .post(
            "/api/v1/events",
            &event("tp-3", "web-01", r#"{"n": 90000, "desc": "d"}"#),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    h.wait_status("tp-3", "bot", "delivered").await;
    let got = bot.wait_for_accepted(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let md = got[0].json()["markdown"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(md.contains("web-01"), "the built-in fields: {md}");
    assert!(
        md.contains("(the contact's template failed: it ran out of fuel"),
        "{md}"
    );
}

#[tokio::test]
async fn a_subscription_template_overrides_the_contacts() {
    let bot = FakeBot::wecom().await;
    bot.add_bot("k", BotSettings::default());
    let yaml = platform_config("wecom", &bot.url("k"), "    template: \"contact says {{ event.name }}\"\n").replace(
        "  - { name: sec-feed, notification_policy: policy }",
        "  - { name: sec-feed, notification_policy: policy, template: \"subscription says {{ event.name }} on {{ event.instance }}\" }",
    );
    let h = Harness::start(&yaml).await;
    h.post("/api/v1/events", &event("tp-sub", "web-9", "{}"))
        .await;
    h.wait_status("tp-sub", "bot", "delivered").await;
    let got = bot.wait_for_accepted(1, WAIT).await;
    let content = got[0].json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("subscription says Sas:WebShell on web-9"),
        "{content}"
    );
    assert!(!content.contains("contact says"), "{content}");
    // A bad subscription template is a config error with its path.
    let loaded = tocsin::config::load_str(
        "contact_groups: []\nnotification_policies: []\nsubscriptions:\n  - { name: s, notification_policy: p, template: \"{{ event.nmae }}\" }\n",
        "t.yaml",
        &|_| None,
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.path == "subscriptions[0].template"),
        "{:?}",
        loaded.diagnostics
    );
}
