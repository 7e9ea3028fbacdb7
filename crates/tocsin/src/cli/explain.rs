use super::ExplainArgs;

/// Exit codes: 0 the event exists (and is explained), 1 it does not, 2 the
/// server is unreachable.
pub async fn run(args: ExplainArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin explain: {e}");
            return 2;
        }
    };
    let id: String = url::form_urlencoded::byte_serialize(args.event_id.as_bytes()).collect();
    let path = format!("/api/v1/events/{id}/explain");
    let (status, v) =
        match super::call_api("explain", reqwest::Method::GET, &remote, &path, None).await {
            Ok(answer) => answer,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        };
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
            eprintln!(
                "tocsin explain: the server at {} has no event with id {}",
                remote.server, args.event_id
            );
            1
        }
        _ => {
            eprintln!(
                "tocsin explain: the server at {} answered HTTP {status}: {v}",
                remote.server
            );
            2
        }
    }
}
