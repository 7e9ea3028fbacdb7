use super::{SendArgs, SendFormat};
use crate::event::Format;
use std::io::Read;

/// Exit codes: 0 accepted, 1 rejected, 2 server unreachable (or input unreadable).
pub async fn run(args: SendArgs) -> i32 {
    let body = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(|e| format!("cannot read stdin: {e}"))
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            eprintln!("tocsin send: {e}");
            return 2;
        }
    };
    let format = match args.format {
        SendFormat::Native => Format::Native,
        SendFormat::Aliyun => Format::Aliyun,
        SendFormat::Auto => crate::ingest::detect_format(&body),
    };
    let path = match format {
        Format::Native => "/api/v1/events",
        Format::Aliyun => "/api/v1/events/aliyun",
    };
    let url = format!("{}{path}", args.server.trim_end_matches('/'));
    crate::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tocsin send: {e}");
            return 2;
        }
    };
    let mut req = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(t) = args.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tocsin send: server unreachable at {}: {}",
                args.server,
                e.without_url()
            );
            return 2;
        }
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() == 202 {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        for id in v["ids"].as_array().into_iter().flatten() {
            if let Some(id) = id.as_str() {
                println!("{id}");
            }
        }
        if let Some(d) = v["duplicates"].as_u64().filter(|d| *d > 0) {
            eprintln!("({d} already stored: nothing new sent for them)");
        }
        0
    } else {
        eprintln!(
            "tocsin send: rejected with HTTP {}: {text}",
            status.as_u16()
        );
        1
    }
}
