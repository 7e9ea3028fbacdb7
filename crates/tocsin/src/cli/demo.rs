//! `tocsin demo`: the whole flow with no bot of your own. A local sandbox of
//! the seven chat platforms and PagerDuty (the faithful fakes, on loopback), the server with
//! contacts and subscriptions pointing at them, and a stream of realistic
//! security events posted through the real ingest API.

use super::DemoArgs;
use crate::config::load_str;
use crate::server::{ServeOptions, Server};
use std::time::Duration;
use tocsin_fakes::{BotSettings, Platform, WebhookReceiver};

/// The demo's Discord bot (`{id}/{token}`: Discord webhook ids are numbers).
const DEMO_DISCORD: &str = "1100000000000000002/demo-discord";
/// The demo's Teams flow (`{workflow id}/{sig}`).
const DEMO_TEAMS: &str = "5a4db0c0ffee4e11a0de000000000002/demo-teams-sig";
const DEMO_TELEGRAM: &str = "7000000002:demo-telegram";
/// The demo's PagerDuty service (a routing key of 32 characters).
const DEMO_PAGERDUTY: &str = "demopagerdutyroutingkey000000002";

const ITEMS: [(&str, &str, &[&str]); 8] = [
    ("Incident", "Incident:BruteForce", &["critical", "warn"]),
    (
        "Suspicious",
        "Suspicious:UnusualLogon",
        &["critical", "warn", "info"],
    ),
    ("System-Baseline-cnt", "Baseline:WeeklyOverview", &["info"]),
    ("Cspm-cnt", "Cspm:WeeklyOverview", &["info"]),
    ("Agentless", "Agentless:MaliciousFile", &["warn"]),
    ("mfd SDK", "MaliciousFile:Webshell", &["critical"]),
    (
        "Vulnerability",
        "Vulnerability:Application",
        &["warn", "info"],
    ),
    ("Rasp", "Rasp:Deserialization", &["critical"]),
];

fn event(i: usize) -> serde_json::Value {
    let (event_type, name, levels) = ITEMS[i % ITEMS.len()];
    // Every fifth event repeats an earlier alert on the same host.
    let host = if i % 5 == 4 { (i - 4) % 40 } else { i % 40 };
    serde_json::json!({
        "product": "Sas",
        "event_type": event_type,
        "name": name,
        "level": levels[i % levels.len()],
        "resource": format!("acs:ecs:cn-hangzhou:1234567890123456:instance/i-bp1demo{host:03}"),
        "instance": format!("web-{host:03}"),
        "region": "cn-hangzhou",
        "content": {
            "alarmUniqueInfo": format!("demo-{}-{host}", i % ITEMS.len()),
            "alarmEventName": name.split(':').nth(1).unwrap_or(name),
            "alarmEventType": event_type,
            "intranetIp": format!("10.0.{}.{}", host / 10, host % 250 + 1),
            "desc": "demo event from tocsin demo",
            "details": [{"name": "Process path", "type": "text", "value": format!("/tmp/.cache/kw{host}")}]
        }
    })
}

pub async fn run(args: DemoArgs) -> i32 {
    let listen = args.listen.clone();
    match demo(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tocsin demo: {e:#}");
            if super::port::is_addr_in_use(&e) {
                eprintln!("tocsin demo: {}", super::port::who_holds(&listen).await);
            }
            1
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    // The same fixed sandbox as `tocsin sandbox`, with the demo's own bots
    // (distinct tokens: the demo's stream never uses up the rate windows of
    // the documented sandbox bots a user's own contacts point at).
    let sandbox = super::sandbox::start(&args.sandbox_listen, "demo")
        .await
        .map_err(|msg| anyhow::anyhow!("{}", msg.trim_start_matches("tocsin demo: ")))?;
    let lark = sandbox.bot(Platform::Lark);
    lark.add_bot(
        "demo-lark",
        BotSettings {
            secret: Some("demo-lark-secret".into()),
            keywords: vec!["alert".into()],
            rate: None,
            chats: Vec::new(),
        },
    );
    let wecom = sandbox.bot(Platform::WeCom);
    wecom.add_bot("demo-wecom", BotSettings::default());
    let dingtalk = sandbox.bot(Platform::DingTalk);
    dingtalk.add_bot(
        "demo-dingtalk",
        BotSettings {
            secret: Some("SECdemo".into()),
            keywords: vec!["alert".into()],
            rate: None,
            chats: Vec::new(),
        },
    );
    let slack = sandbox.bot(Platform::Slack);
    slack.add_bot("T000/B000/DEMO", BotSettings::default());
    let discord = sandbox.bot(Platform::Discord);
    discord.add_bot(DEMO_DISCORD, BotSettings::default());
    let teams = sandbox.bot(Platform::Teams);
    teams.add_bot(DEMO_TEAMS, BotSettings::default());
    let telegram = sandbox.bot(Platform::Telegram);
    telegram.add_bot(DEMO_TELEGRAM, BotSettings::default());
    let pagerduty = sandbox.bot(Platform::PagerDuty);
    pagerduty.add_bot(DEMO_PAGERDUTY, BotSettings::default());
    let chat = super::sandbox::TELEGRAM_CHAT;
    let sandbox_addr = sandbox.addr();
    let siem = WebhookReceiver::start().await;
    siem.require_signature("demo-hmac");
    let yaml = format!(
        r#"
delivery:
  allow_private_networks: true   # the sandbox bots are on loopback
contacts:
  - {{ name: lark-bot, channel: lark, webhook: "{}", secret: demo-lark-secret, keywords: [alert] }}
  - {{ name: wecom-bot, channel: wecom, webhook: "{}", mentions: {{ users: [oncall], levels: [critical] }} }}
  - {{ name: dingtalk-bot, channel: dingtalk, webhook: "{}", secret: SECdemo, keywords: [alert], lang: zh }}
  - {{ name: slack-bot, channel: slack, webhook: "{}" }}
  - {{ name: discord-bot, channel: discord, webhook: "{}" }}
  - {{ name: teams-bot, channel: teams, webhook: "{}" }}
  - {{ name: telegram-bot, channel: telegram, bot_token: "{DEMO_TELEGRAM}", chat_id: {chat}, api_base: "http://{sandbox_addr}" }}
  - {{ name: pagerduty-oncall, channel: pagerduty, routing_key: {DEMO_PAGERDUTY}, url: "{}" }}
  - {{ name: siem-hook, channel: webhook, webhook: "{}", secret: demo-hmac }}
contact_groups:
  - {{ name: chat, contacts: [lark-bot, wecom-bot, dingtalk-bot, slack-bot, discord-bot, teams-bot, telegram-bot] }}
  - {{ name: siem, contacts: [siem-hook] }}
  - {{ name: oncall, contacts: [pagerduty-oncall] }}
notification_policies:
  - {{ name: to-chat, contact_groups: [chat] }}
  - {{ name: to-siem, contact_groups: [siem] }}
  - {{ name: page-oncall, contact_groups: [oncall] }}
sources:
  - name: security-center
    items:
      cspm: {{ overview: false }}
subscriptions:
  - {{ name: critical-and-warn, products: [Sas], levels: [critical, warn], notification_policy: to-chat }}
  - {{ name: everything-to-siem, notification_policy: to-siem }}
  - {{ name: critical-pages-oncall, levels: [critical], notification_policy: page-oncall }}
"#,
        lark.url("demo-lark"),
        wecom.url("demo-wecom"),
        dingtalk.url("demo-dingtalk"),
        slack.url("T000/B000/DEMO"),
        discord.url(DEMO_DISCORD),
        teams.url(DEMO_TEAMS),
        pagerduty.url(DEMO_PAGERDUTY),
        siem.url("/siem")
    );
    let loaded = load_str(&yaml, "demo.yaml", &|_| None);
    let config = loaded
        .config
        .ok_or_else(|| anyhow::anyhow!("demo config: {:?}", loaded.diagnostics))?;
    let data = match args.data {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("tocsin-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&data)
        .map_err(|e| anyhow::anyhow!("cannot create the demo store {}: {e}", data.display()))?;
    let config_file = data.join("tocsin-demo.yaml");
    std::fs::write(
        &config_file,
        format!(
            "# The config `tocsin demo` runs (its sandbox on {}; the SIEM receiver\n\
             # lives only as long as the demo). Run it yourself with:\n\
             #   tocsin serve --config {}\n{}",
            sandbox.addr(),
            config_file.display(),
            yaml.trim_start()
        ),
    )
    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", config_file.display()))?;
    let server = Server::start_with(
        config,
        ServeOptions {
            config_path: None,
            listen: Some(args.listen.clone()),
            data_dir: Some(data.clone()),
            clock: None,
        },
    )
    .await?;
    let base = server.base_url();
    println!("Tocsin demo is running (Ctrl-C to stop).");
    println!("  history:          {base}/api/v1/events");
    println!(
        "  one event:        {base}/api/v1/events/<id>   (route decisions, deliveries, attempts)"
    );
    println!("  metrics:          {base}/metrics");
    println!("  sandbox bots, as each platform shows the messages:");
    for p in [
        Platform::Lark,
        Platform::WeCom,
        Platform::DingTalk,
        Platform::Slack,
        Platform::Discord,
        Platform::Teams,
        Platform::Telegram,
        Platform::PagerDuty,
    ] {
        println!("    {:<14} {}", p.name(), sandbox.page_url(p));
    }
    println!("  store:            {}", data.display());
    println!(
        "  config:           {}   (tocsin serve --config it)",
        config_file.display()
    );
    println!(
        "Posting {} events (every notification item, all levels, some repeats)...",
        args.events
    );
    let client = reqwest::Client::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(args.interval_ms.max(10)));
    let mut sent = 0usize;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // `--events 0 --exit-when-done`: nothing to post, nothing to wait for.
    let nothing_to_post = args.events == 0 && args.exit_when_done;
    loop {
        if nothing_to_post {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = ticker.tick(), if sent < args.events => {
                let r = client.post(format!("{base}/api/v1/events")).json(&event(sent)).send().await;
                match r {
                    Ok(r) if r.status().as_u16() == 202 => {}
                    Ok(r) => eprintln!("tocsin demo: ingest answered {}", r.status()),
                    Err(e) => eprintln!("tocsin demo: {}", e.without_url()),
                }
                sent += 1;
                if sent == args.events {
                    println!("All {sent} events posted. Look around; Ctrl-C to stop.");
                    if args.exit_when_done {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        break;
                    }
                }
            }
        }
    }
    let shown: Vec<String> = [lark, wecom, dingtalk, slack, discord, teams, pagerduty]
        .iter()
        .map(|b| {
            let all = b.received().len();
            let ok = b.accepted().len();
            format!("{} {ok} shown/{} refused", b.platform().name(), all - ok)
        })
        .collect();
    println!(
        "\ndemo stopped: {}; SIEM webhook {} signed messages.",
        shown.join(", "),
        siem.received().len()
    );
    server.shutdown().await;
    Ok(())
}
