use super::ExplainArgs;

/// Exit codes: 0 the event exists (and is explained), 1 it does not, 2 the
/// server is unreachable.
pub async fn run(args: ExplainArgs) -> i32 {
    crate::install_crypto_provider();
    let id: String = url::form_urlencoded::byte_serialize(args.event_id.as_bytes()).collect();
    let url = format!(
        "{}/api/v1/events/{id}/explain",
        args.server.trim_end_matches('/')
    );
    let client = reqwest::Client::new();
    let mut req = client.get(&url);
    if let Some(t) = args.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tocsin explain: server unreachable at {}: {}",
                args.server,
                e.without_url()
            );
            return 2;
        }
    };
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    match status {
        200 => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                let steps = v["steps"].as_array().cloned().unwrap_or_default();
                print!("{}", crate::explain::as_text(&args.event_id, &steps));
            }
            0
        }
        404 => {
            eprintln!("tocsin explain: no event with id {}", args.event_id);
            1
        }
        _ => {
            eprintln!("tocsin explain: the server answered HTTP {status}: {v}");
            2
        }
    }
}
