use super::ExplainArgs;

/// Exit codes: 0 the event exists (and is explained), 1 it does not, 2 the
/// server is unreachable.
pub async fn run(args: ExplainArgs) -> i32 {
    let id: String = url::form_urlencoded::byte_serialize(args.event_id.as_bytes()).collect();
    let path = format!("/api/v1/events/{id}/explain");
    let (status, v) = match super::call_api(
        "explain",
        reqwest::Method::GET,
        &args.server,
        &path,
        args.token.as_deref(),
        None,
    )
    .await
    {
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
            eprintln!("tocsin explain: no event with id {}", args.event_id);
            1
        }
        _ => {
            eprintln!("tocsin explain: the server answered HTTP {status}: {v}");
            2
        }
    }
}
