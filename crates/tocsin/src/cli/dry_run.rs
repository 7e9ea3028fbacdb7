use super::DryRunArgs;

/// Exit codes: 0 done, 1 the subscription or the request was refused, 2 the
/// server is unreachable or the file unreadable.
pub async fn run(args: DryRunArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin dry-run: {e}");
            return 2;
        }
    };
    let text = match std::fs::read_to_string(&args.subscription) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "tocsin dry-run: cannot read {}: {e}",
                args.subscription.display()
            );
            return 2;
        }
    };
    let sub = match crate::dryrun::yaml_to_json(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tocsin dry-run: {}: {e}", args.subscription.display());
            return 1;
        }
    };
    let mut body = serde_json::json!({"subscription": sub});
    if let Some(s) = &args.since {
        body["since"] = serde_json::json!(s);
    }
    if let Some(u) = &args.until {
        body["until"] = serde_json::json!(u);
    }
    let (status, v) = match super::call_api(
        "dry-run",
        reqwest::Method::POST,
        &remote,
        "/api/v1/subscriptions/dry-run",
        Some(&body),
    )
    .await
    {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if status != 200 {
        eprintln!(
            "tocsin dry-run: the server at {} refused it (HTTP {status}): {v}",
            remote.server
        );
        return 1;
    }
    println!(
        "scanned {} stored events; the subscription would have matched {}",
        v["scanned"], v["matched"]
    );
    for (name, c) in v["contacts"].as_object().into_iter().flatten() {
        println!(
            "  {name}: {} events → {} messages ({} at once, {} follow-ups, {} merged, {} suppressed, {} digests under the rate limit)",
            c["events"],
            c["messages"],
            c["notifications"],
            c["follow_ups"],
            c["merged"],
            c["suppressed"],
            c["digests"]
        );
    }
    0
}
