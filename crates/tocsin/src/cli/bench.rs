//! `tocsin bench`: measures ingest throughput and end-to-end delivery on this
//! machine, all on loopback: an in-process server with a fresh store in a
//! temporary directory, and a local recording webhook receiver.

use super::BenchArgs;
use crate::config::Config;
use crate::server::{ServeOptions, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn event_json(i: usize, run: &str) -> serde_json::Value {
    let levels = ["critical", "warn", "info"];
    let types = ["Incident", "Suspicious", "Vulnerability", "Rasp"];
    serde_json::json!({
        "id": format!("{run}-{i}"),
        "product": "Sas",
        "event_type": types[i % types.len()],
        "name": format!("{}:Bench{}", types[i % types.len()], i % 50),
        "level": levels[i % levels.len()],
        "resource": format!("acs:ecs:cn-hangzhou:1:instance/i-bench{}", i % 400),
        "instance": format!("web-{}", i % 400),
        "region": "cn-hangzhou",
        "content": {"alarmUniqueInfo": format!("u{i}"), "intranetIp": "10.0.0.1", "desc": "benchmark event"}
    })
}

fn bodies(n: usize, batch: usize, run: &str) -> Vec<String> {
    (0..n)
        .collect::<Vec<_>>()
        .chunks(batch.max(1))
        .map(|c| {
            serde_json::Value::Array(c.iter().map(|i| event_json(*i, run)).collect()).to_string()
        })
        .collect()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn post_all(base: &str, bodies: Vec<String>, clients: usize) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (client, queue, url) = (
            client.clone(),
            queue.clone(),
            format!("{base}/api/v1/events"),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return Ok(());
                };
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().as_u16() == 202, "ingest answered {}", r.status());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// A config with one contact (`extra`: more of its keys) that every event reaches.
fn one_contact(name: &str, channel: &str, webhook: &str, extra: &str) -> anyhow::Result<Config> {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: {name}, channel: {channel}, webhook: \"{webhook}\"{extra} }}\n\
         contact_groups:\n  - {{ name: g, contacts: [{name}] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
         subscriptions:\n  - {{ name: all, notification_policy: p }}\n"
    );
    let loaded = crate::config::load_str(&yaml, "bench.yaml", &|_| None);
    loaded
        .config
        .ok_or_else(|| anyhow::anyhow!("bench config: {:?}", loaded.diagnostics))
}

/// A server on loopback (an ephemeral port) with its store in `dir`.
async fn start_server(config: Config, dir: &std::path::Path) -> anyhow::Result<Server> {
    Server::start_with(
        config,
        ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.to_path_buf()),
            clock: None,
        },
    )
    .await
}

pub async fn run(args: BenchArgs) -> i32 {
    match bench(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tocsin bench: {e:#}");
            1
        }
    }
}

/// A burst of alerts to one WeCom bot (20 a minute): how many messages it
/// takes and how long until every alert is delivered.
async fn wecom_burst(n: usize) -> anyhow::Result<()> {
    let bot = tocsin_fakes::FakeBot::wecom().await;
    bot.add_bot("burst", tocsin_fakes::BotSettings::default());
    let config = one_contact("wecom", "wecom", &bot.url("burst"), "")?;
    let dir = tempfile::tempdir()?;
    let server = start_server(config, dir.path()).await?;
    let start = Instant::now();
    post_all(&server.base_url(), bodies(n, n, "burst"), 1).await?;
    // Delivered when the store says so for every event.
    let client = reqwest::Client::new();
    loop {
        let url = format!("{}/api/v1/events?limit=1000", server.base_url());
        let v: serde_json::Value = client.get(&url).send().await?.json().await?;
        let delivered = v["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["deliveries"]["delivered"].as_u64() == Some(1))
                    .count()
            })
            .unwrap_or(0);
        if delivered >= n {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "only {delivered} of {n} delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed();
    let received = bot.received();
    let refused = received.iter().filter(|d| !d.accepted()).count();
    println!(
        "WeCom burst: {n} alerts to one bot (20/min) delivered in {} messages ({} refused by the platform) in {:.2} s",
        received.len(),
        refused,
        took.as_secs_f64()
    );
    server.shutdown().await;
    Ok(())
}

/// One chat bot of the burst bench: which alerts it has shown so far (as
/// digest lines or single alerts), read from what the fake accepted.
struct BurstBot {
    label: &'static str,
    fake: tocsin_fakes::FakeBot,
    read: usize,
    seen: std::collections::HashSet<String>,
    done: Option<Duration>,
}

impl BurstBot {
    /// Reads the requests that arrived since the last call.
    fn update(&mut self, n: usize, since: Instant) {
        let received = self.fake.received();
        for d in received.iter().skip(self.read).filter(|d| d.accepted()) {
            for line in d.rendered_text().lines() {
                // A digest line or a single alert's title; not the digest's
                // summary ("Top alerts: Incident:Burst00042 ×1, …").
                if line.contains('×') {
                    continue;
                }
                let mut rest = line;
                while let Some(at) = rest.find("Incident:Burst") {
                    let name = &rest[at..];
                    let end = "Incident:Burst".len()
                        + name["Incident:Burst".len()..]
                            .bytes()
                            .take_while(u8::is_ascii_digit)
                            .count();
                    self.seen.insert(name[..end].to_string());
                    rest = &name[end..];
                }
            }
        }
        self.read = received.len();
        if self.done.is_none() && self.seen.len() >= n {
            self.done = Some(since.elapsed());
        }
    }
}

/// A burst of `n` alerts to three chat contacts (Lark, WeCom and DingTalk
/// sandbox bots on loopback, each enforcing its platform's rate limit), with
/// the server's health probed every 100 ms for the whole run: the worst
/// /healthz latency, the ingest time, when each bot had shown every alert,
/// how many messages each got, and whether any was refused.
async fn chat_burst(n: usize) -> anyhow::Result<()> {
    use tocsin_fakes::{BotSettings, FakeBot};
    let mut bots = vec![
        BurstBot {
            label: "lark",
            fake: FakeBot::lark().await,
            read: 0,
            seen: Default::default(),
            done: None,
        },
        BurstBot {
            label: "wecom",
            fake: FakeBot::wecom().await,
            read: 0,
            seen: Default::default(),
            done: None,
        },
        BurstBot {
            label: "dingtalk",
            fake: FakeBot::dingtalk().await,
            read: 0,
            seen: Default::default(),
            done: None,
        },
    ];
    let mut contacts = String::new();
    for b in &bots {
        b.fake.add_bot("burst", BotSettings::default());
        contacts.push_str(&format!(
            "  - {{ name: {0}, channel: {0}, webhook: \"{1}\" }}\n",
            b.label,
            b.fake.url("burst")
        ));
    }
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n{contacts}\
         contact_groups:\n  - {{ name: g, contacts: [lark, wecom, dingtalk] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
         subscriptions:\n  - {{ name: all, notification_policy: p }}\n"
    );
    let loaded = crate::config::load_str(&yaml, "burst.yaml", &|_| None);
    let config = loaded
        .config
        .ok_or_else(|| anyhow::anyhow!("bench config: {:?}", loaded.diagnostics))?;
    let dir = tempfile::tempdir()?;
    let server = start_server(config, dir.path()).await?;
    let base = server.base_url();
    // /healthz every 100 ms from its own client, for the whole run.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (stop, url) = (stop.clone(), format!("{base}/healthz"));
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?;
            let mut ticker = tokio::time::interval(Duration::from_millis(100));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut worst, mut probes, mut failed) = (Duration::ZERO, 0u64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ticker.tick().await;
                let t = Instant::now();
                let ok = client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                worst = worst.max(t.elapsed());
                probes += 1;
                failed += u64::from(!ok);
            }
            anyhow::Ok((worst, probes, failed))
        })
    };
    let levels = ["critical", "warn", "warn", "info"];
    let run = "burst";
    let bodies: Vec<String> = (0..n)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| {
            serde_json::Value::Array(
                c.iter()
                    .map(|i| {
                        serde_json::json!({
                            "id": format!("{run}-{i}"), "product": "Sas", "event_type": "Incident",
                            "name": format!("Incident:Burst{i:05}"), "level": levels[i % levels.len()],
                            "instance": format!("web-{}", i % 400), "region": "cn-hangzhou",
                            "content": {"intranetIp": "10.0.0.1", "desc": "benchmark burst"}
                        })
                    })
                    .collect(),
            )
            .to_string()
        })
        .collect();
    let start = Instant::now();
    let ingest = post_all(&base, bodies, 4).await?;
    let deadline = Duration::from_secs(3_600);
    while bots.iter().any(|b| b.done.is_none()) && start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for b in &mut bots {
            b.update(n, start);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (worst, probes, failed) = probe.await??;
    println!(
        "burst: {n} alerts to three chat bots (Lark 100/min and 5/s, WeCom 20/min, DingTalk 20/min), {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "ingest: {:.2} s ({:.0} events/s, batches of 100 from 4 clients)",
        ingest.as_secs_f64(),
        n as f64 / ingest.as_secs_f64()
    );
    println!(
        "/healthz: {probes} probes every 100 ms, worst {:.1} ms, {failed} failed",
        worst.as_secs_f64() * 1000.0
    );
    println!(
        "{:<10} {:>22} {:>10} {:>14} {:>18}",
        "bot", "every alert shown (s)", "messages", "alerts shown", "refused (codes)"
    );
    let mut refused_any = false;
    for b in &bots {
        let received = b.fake.received();
        let refused: Vec<String> = received
            .iter()
            .filter(|d| !d.accepted())
            .map(|d| {
                d.code
                    .map_or(format!("HTTP {}", d.http_status), |c| c.to_string())
            })
            .collect();
        refused_any |= !refused.is_empty();
        println!(
            "{:<10} {:>22} {:>10} {:>14} {:>18}",
            b.label,
            b.done.map_or("not within 1 h".to_string(), |d| format!(
                "{:.1}",
                d.as_secs_f64()
            )),
            received.len(),
            b.seen.len(),
            if refused.is_empty() {
                "0".to_string()
            } else {
                format!("{} ({})", refused.len(), refused.join(","))
            }
        );
    }
    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of this process (server, fakes and load generator together): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    server.shutdown().await;
    anyhow::ensure!(!refused_any, "a platform refused a message");
    anyhow::ensure!(
        bots.iter().all(|b| b.done.is_some()),
        "a bot did not show every alert within an hour"
    );
    Ok(())
}

/// A replay of 10,000 realistic events with repeats (200 distinct alerts,
/// repeated 1 to 200 times in bursts over a day) through each noise setting:
/// how many messages a webhook and a WeCom bot (20 a minute) would get.
fn noise_replay() -> anyhow::Result<()> {
    use crate::event::Event;
    let types = [
        "Incident",
        "Suspicious",
        "Vulnerability",
        "Rasp",
        "Agentless",
    ];
    let levels = [
        crate::config::Level::Critical,
        crate::config::Level::Warn,
        crate::config::Level::Warn,
        crate::config::Level::Info,
    ];
    // Repeats per alert: 1 for the quietest, 200 for the noisiest, summing to 10,000.
    let mut counts: Vec<usize> = (0..200)
        // A float → integer cast saturates; the value is in 0..=199.
        .map(|i| {
            #[allow(clippy::cast_possible_truncation)]
            let n = (199.0 * (i as f64 / 199.0).powi(3)) as usize;
            1 + n
        })
        .collect();
    let mut total: usize = counts.iter().sum();
    let mut i = 199;
    while total != 10_000 {
        if total > 10_000 && counts[i] > 1 {
            counts[i] -= 1;
            total -= 1;
        } else if total < 10_000 && counts[i] < 200 {
            counts[i] += 1;
            total += 1;
        }
        i = if i == 0 { 199 } else { i - 1 };
    }
    let day0: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z, a Monday
    let mut seed: u64 = 42;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    };
    let mut events: Vec<Event> = Vec::with_capacity(10_000);
    for (a, &k) in counts.iter().enumerate() {
        let t = types[a % types.len()];
        let mut at = day0 + crate::saturating_i64(rnd(86_400_000));
        for r in 0..k {
            events.push(Event {
                event_type: t.into(),
                resource: Some(format!("acs:ecs:cn-hangzhou:1:instance/i-{a}")),
                instance: Some(format!("web-{a}")),
                region: Some("cn-hangzhou".into()),
                time_ms: at,
                received_ms: at,
                content: serde_json::json!({"alarmUniqueInfo": format!("u{a}")}),
                ..Event::minimal(
                    format!("a{a}-r{r}"),
                    "Sas",
                    &format!("{t}:Alert{a}"),
                    levels[a % levels.len()],
                )
            });
            // Bursty repeats: 1 to 30 s apart, now and then a pause of up to 20 minutes.
            at += if rnd(10) == 0 {
                crate::saturating_i64(rnd(1_200_000))
            } else {
                1_000 + crate::saturating_i64(rnd(29_000))
            };
        }
    }
    events.sort_by_key(|e| e.received_ms);
    let settings = [
        ("no noise reduction", ""),
        ("merge_window: 1m", "merge_window: 1m"),
        ("merge_window: 5m", "merge_window: 5m"),
        (
            "merge_window: 1m, min_occurrences: 3",
            "merge_window: 1m, min_occurrences: 3",
        ),
        (
            "merge_window: 1m, silence: 1h",
            "merge_window: 1m, silence: 1h",
        ),
        ("silence: 1h", "silence: 1h"),
        (
            "digest: daily at 09:00",
            "digest: { schedule: \"0 9 * * *\", timezone: Asia/Shanghai }",
        ),
    ];
    println!(
        "noise replay: {} events, {} distinct alerts, over one day",
        events.len(),
        counts.len()
    );
    println!(
        "{:<40} {:>9} {:>10} {:>8} {:>10} {:>14}",
        "setting", "at once", "follow-ups", "merged", "suppressed", "WeCom messages"
    );
    for (label, keys) in settings {
        let yaml = format!(
            "contacts:\n  - {{ name: hook, channel: webhook, webhook: \"https://siem.example.com/x\" }}\n  - {{ name: wecom, channel: wecom, webhook: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\" }}\n\
             contact_groups:\n  - {{ name: g, contacts: [hook, wecom] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
             subscriptions:\n  - {{ name: s, notification_policy: p{}{keys} }}\n",
            if keys.is_empty() { "" } else { ", " }
        );
        let loaded = crate::config::load_str(&yaml, "noise.yaml", &|_| None);
        let mut config = loaded
            .config
            .ok_or_else(|| anyhow::anyhow!("{:?}", loaded.diagnostics))?;
        let sub = config.subscriptions.remove(0);
        let f = crate::dryrun::forecast(&events, &config, sub);
        let hook = f.contacts.get("hook").cloned().unwrap_or_default();
        let wecom = f.contacts.get("wecom").cloned().unwrap_or_default();
        let at_once = hook.notifications;
        let scheduled = if hook.scheduled > 0 {
            format!(" ({} scheduled digests)", hook.scheduled)
        } else {
            String::new()
        };
        println!(
            "{:<40} {:>9} {:>10} {:>8} {:>10} {:>14}{scheduled}",
            label, at_once, hook.follow_ups, hook.merged, hook.suppressed, wecom.messages
        );
    }
    Ok(())
}

/// Routing cost with 10, 1,000 and 10,000 subscriptions (one core), and
/// the server's start-up time on a fresh store.
async fn matching() -> anyhow::Result<()> {
    use crate::route::RoutingTable;
    let types = [
        "Incident",
        "Suspicious",
        "Vulnerability",
        "Rasp",
        "Agentless",
        "mfd SDK",
        "System-Baseline-cnt",
        "Cspm-cnt",
    ];
    let levels = ["critical", "warn", "info"];
    let map = crate::config::default_severity_map();
    let ctx = crate::ingest::DecodeContext {
        severity_map: &map,
        received_ms: 0,
    };
    let json_events: Vec<serde_json::Value> = (0..100_000usize)
        .map(|i| {
            let t = types[i % types.len()];
            serde_json::json!({"id": format!("m{i}"), "product": "Sas", "event_type": t,
                "name": format!("{t}:Kind{}", i % 50), "level": levels[i % 3], "instance": format!("web-{}", i % 500),
                "group": format!("g{}", i % 20), "content": {"desc": "ssh login"}})
        })
        .collect();
    let events: Vec<crate::event::Event> = json_events
        .iter()
        .map(|body| {
            crate::ingest::decode(
                crate::event::Format::Native,
                body.to_string().as_bytes(),
                &ctx,
            )
            .map(|mut v| v.remove(0))
        })
        .collect::<Result<_, _>>()?;
    // The same events through a real server, stored with every verdict:
    // 10,000 in batches of 100 from one client.
    let stored_bodies: Vec<String> = json_events[..10_000]
        .chunks(100)
        .map(|c| serde_json::Value::Array(c.to_vec()).to_string())
        .collect();
    let receiver = tocsin_fakes::WebhookReceiver::start().await;
    println!(
        "{:<16} {:>12} {:>20} {:>26}",
        "subscriptions", "events", "routing events/s", "ingest events/s (stored)"
    );
    for n in [10usize, 1_000, 10_000] {
        let mut yaml = format!(
            "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: c, channel: webhook, webhook: \"{}\", concurrency: 32 }}\ncontact_groups:\n  - {{ name: g, contacts: [c] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\nsubscriptions:\n",
            receiver.url(&format!("/m{n}"))
        );
        for i in 0..n {
            // Spread over products and types like a large tenant: most subscriptions
            // watch other products; a share watch the security product.
            let product = if i % 10 == 0 {
                "Sas".to_string()
            } else {
                format!("prod{}", i % 97)
            };
            yaml.push_str(&format!(
                "  - {{ name: s{i}, products: [{product}], event_types: [\"{}\"], event_names: [\"*Kind{}*\"], levels: [{}], groups: [g{}], notification_policy: p }}\n",
                types[i % types.len()],
                i % 50,
                levels[i % 3],
                i % 20
            ));
        }
        let loaded = crate::config::load_str(&yaml, "m.yaml", &|_| None);
        let config = loaded
            .config
            .ok_or_else(|| anyhow::anyhow!("{:?}", loaded.diagnostics.first()))?;
        let table = RoutingTable::compile(&config);
        let start = Instant::now();
        let mut routed = 0usize;
        for e in &events {
            routed += table.route(&config, e).notices.len();
        }
        let took = start.elapsed();
        std::hint::black_box(routed);
        let dir = tempfile::tempdir()?;
        let server = start_server(config, dir.path()).await?;
        let ingest = post_all(&server.base_url(), stored_bodies.clone(), 1).await?;
        server.shutdown().await;
        println!(
            "{:<16} {:>12} {:>20.0} {:>26.0}",
            n,
            events.len(),
            events.len() as f64 / took.as_secs_f64(),
            10_000.0 / ingest.as_secs_f64()
        );
    }
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let server = start_server(Config::embedded_default(), dir.path()).await?;
    println!(
        "start-up on a fresh store (migrations, listening): {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    server.shutdown().await;
    Ok(())
}

/// Latency from the ingest request to the receiver, at a steady rate of
/// single-event requests (from one client, paced by a timer).
async fn latency(rate: u64, seconds: u64) -> anyhow::Result<()> {
    let receiver = tocsin_fakes::WebhookReceiver::start().await;
    let config = one_contact("hook", "webhook", &receiver.url("/lat"), "concurrency: 64")?;
    let dir = tempfile::tempdir()?;
    let server = start_server(config, dir.path()).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = format!("{}/api/v1/events", server.base_url());
    let total = rate * seconds;
    let mut sent: std::collections::HashMap<String, i64> =
        std::collections::HashMap::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        ticker.tick().await;
        let id = format!("lat-{i}");
        sent.insert(id.clone(), crate::now_ms());
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let body = serde_json::json!({"id": id, "product": "Sas", "name": "Incident:Latency", "level": "warn"});
            client.post(&url).json(&body).send().await.map(|r| r.status().as_u16())
        });
        while tasks.len() > 512 {
            tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(60);
    while (receiver.count() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat: Vec<i64> = receiver
        .received()
        .iter()
        .filter_map(|r| {
            let v = r.json();
            let id = v["events"][0]["id"].as_str()?.to_string();
            sent.get(&id).map(|t| r.at_ms - t)
        })
        .collect();
    lat.sort_unstable();
    anyhow::ensure!(!lat.is_empty(), "nothing arrived");
    // A float → integer cast saturates; the index is clamped to the list.
    #[allow(clippy::cast_possible_truncation)]
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "latency at {rate} events/s for {seconds} s ({} of {total} arrived): p50 {} ms, p99 {} ms, max {} ms (ms clock resolution)",
        lat.len(),
        p(0.50),
        p(0.99),
        lat.last().copied().unwrap_or(0)
    );
    server.shutdown().await;
    Ok(())
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(rate) = args.latency {
        return latency(rate, 10).await;
    }
    if args.matching {
        return matching().await;
    }
    if let Some(n) = args.burst {
        return chat_burst(n).await;
    }
    if let Some(n) = args.wecom_burst {
        return wecom_burst(n).await;
    }
    if args.noise {
        return noise_replay();
    }
    let receiver = tocsin_fakes::WebhookReceiver::start().await;
    println!(
        "tocsin bench: {} events, {} cores",
        args.events,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("{:<44} {:>12} {:>14}", "scenario", "seconds", "events/s");
    for (routed, label) in [
        (false, "ingest only (unmatched)"),
        (true, "ingest + delivery to a local webhook"),
    ] {
        for &batch in &args.batch {
            for &clients in &args.clients {
                let dir = tempfile::tempdir()?;
                let mut config = Config::embedded_default();
                if routed {
                    config = one_contact(
                        "hook",
                        "webhook",
                        &receiver.url(&format!("/b{batch}c{clients}")),
                        "concurrency: 64",
                    )?;
                }
                let server = start_server(config, dir.path()).await?;
                let before = receiver.count();
                let run = format!("r{batch}-{clients}-{routed}");
                let start = Instant::now();
                let ingest = post_all(
                    &server.base_url(),
                    bodies(args.events, batch, &run),
                    clients,
                )
                .await?;
                let scenario = format!("{label}, batch {batch}, {clients} client(s)");
                if routed {
                    let deadline = Instant::now() + Duration::from_secs(600);
                    while receiver.count() < before + args.events && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    let got = receiver.count() - before;
                    anyhow::ensure!(
                        got >= args.events,
                        "only {got} of {} messages arrived",
                        args.events
                    );
                    let e2e = start.elapsed();
                    println!(
                        "{:<44} {:>12.3} {:>14.0}",
                        format!("{scenario}: ingest"),
                        ingest.as_secs_f64(),
                        args.events as f64 / ingest.as_secs_f64()
                    );
                    println!(
                        "{:<44} {:>12.3} {:>14.0}",
                        format!("{scenario}: end to end"),
                        e2e.as_secs_f64(),
                        args.events as f64 / e2e.as_secs_f64()
                    );
                } else {
                    println!(
                        "{:<44} {:>12.3} {:>14.0}",
                        scenario,
                        ingest.as_secs_f64(),
                        args.events as f64 / ingest.as_secs_f64()
                    );
                }
                server.shutdown().await;
            }
        }
    }
    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of this process (server, receiver and load generator together): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    Ok(())
}
