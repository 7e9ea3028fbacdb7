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
    let yaml = format!(
        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: wecom, channel: wecom, webhook: \"{}\" }}\n\
         contact_groups:\n  - {{ name: g, contacts: [wecom] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
         subscriptions:\n  - {{ name: all, notification_policy: p }}\n",
        bot.url("burst")
    );
    let loaded = crate::config::load_str(&yaml, "bench.yaml", &|_| None);
    let config = loaded
        .config
        .ok_or_else(|| anyhow::anyhow!("bench config: {:?}", loaded.diagnostics))?;
    let dir = tempfile::tempdir()?;
    let server = Server::start_with(
        config,
        ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
        },
    )
    .await?;
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

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.wecom_burst {
        return wecom_burst(n).await;
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
                    let yaml = format!(
                        "delivery:\n  allow_private_networks: true\ncontacts:\n  - {{ name: hook, channel: webhook, webhook: \"{}\", concurrency: 64 }}\n\
                         contact_groups:\n  - {{ name: g, contacts: [hook] }}\nnotification_policies:\n  - {{ name: p, contact_groups: [g] }}\n\
                         subscriptions:\n  - {{ name: all, notification_policy: p }}\n",
                        receiver.url(&format!("/b{batch}c{clients}"))
                    );
                    let loaded = crate::config::load_str(&yaml, "bench.yaml", &|_| None);
                    config = loaded
                        .config
                        .ok_or_else(|| anyhow::anyhow!("bench config: {:?}", loaded.diagnostics))?;
                }
                let server = Server::start_with(
                    config,
                    ServeOptions {
                        config_path: None,
                        listen: Some("127.0.0.1:0".into()),
                        data_dir: Some(dir.path().to_path_buf()),
                    },
                )
                .await?;
                let before = receiver.received().len();
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
                    let got = receiver
                        .wait_for(before + args.events, Duration::from_secs(600))
                        .await
                        .len()
                        - before;
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
