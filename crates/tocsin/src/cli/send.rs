use super::{SendArgs, SendFormat};
use crate::event::Format;
use std::io::Read;

/// Exit codes: 0 accepted, 1 rejected, 2 server unreachable (or input unreadable).
pub async fn run(args: SendArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin send: {e}");
            return 2;
        }
    };
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
        SendFormat::Alertmanager => Format::Alertmanager,
        SendFormat::Falco => Format::Falco,
        SendFormat::Cloudevents => Format::CloudEvents,
        SendFormat::Auto => crate::ingest::detect_format(&body),
    };
    let path = format.ingest_path();
    // A JSON array of CloudEvents is a batch; one object is structured mode.
    let content_type = match format {
        Format::CloudEvents if body.trim_ascii_start().starts_with(b"[") => {
            crate::ingest::cloudevents::BATCH
        }
        Format::CloudEvents => crate::ingest::cloudevents::STRUCTURED,
        _ => "application/json",
    };
    let url = format!("{}{path}", remote.server);
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
        .header("Content-Type", content_type)
        .body(body);
    if let Some(t) = remote.token.as_deref() {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tocsin send: server unreachable at {}: {}",
                remote.server,
                e.without_url()
            );
            return 2;
        }
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() == 202 {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let ids: Vec<&str> = v["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        for id in &ids {
            println!("{id}");
        }
        // The ids go to stdout (for scripts); the summary names the server,
        // so events sent to the wrong one are noticed at once.
        let accepted = v["accepted"].as_u64().unwrap_or(0);
        let duplicates = v["duplicates"].as_u64().unwrap_or(0);
        eprintln!("{}", summary(&remote.server, accepted, duplicates));
        0
    } else {
        eprintln!(
            "tocsin send: the server at {} rejected the events with HTTP {}: {text}",
            remote.server,
            status.as_u16()
        );
        1
    }
}

/// `tocsin send: http://127.0.0.1:9750 accepted 2 events (1 already stored, nothing new sent for it)`.
fn summary(server: &str, accepted: u64, duplicates: u64) -> String {
    let events = if accepted == 1 { "event" } else { "events" };
    let mut line = format!("tocsin send: {server} accepted {accepted} {events}");
    if duplicates > 0 {
        let them = if duplicates == 1 { "it" } else { "them" };
        line.push_str(&format!(
            " ({duplicates} already stored, nothing new sent for {them})"
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_names_the_server_and_adds_up() {
        assert_eq!(
            super::summary("http://127.0.0.1:9751", 2, 1),
            "tocsin send: http://127.0.0.1:9751 accepted 2 events (1 already stored, nothing new sent for it)"
        );
        assert_eq!(
            super::summary("http://h", 1, 0),
            "tocsin send: http://h accepted 1 event"
        );
    }
}
