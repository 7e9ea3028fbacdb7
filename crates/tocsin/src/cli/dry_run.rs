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
    let file = args.subscription.display().to_string();
    let tree = match crate::config::yaml::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}:{}: {}", e.line, e.message);
            return 1;
        }
    };
    let sub = match crate::dryrun::yaml_to_json(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{file}: {e}");
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
    // Problems with the candidate point at the user's file, as `check` does.
    let located = |p: &serde_json::Value| {
        let path = p["path"].as_str().unwrap_or("");
        format!(
            "{}{file}:{}: {}: {}",
            if p["warning"] == true {
                "warning: "
            } else {
                ""
            },
            tree.line_at(path),
            if path.is_empty() {
                "(subscription)"
            } else {
                path
            },
            p["message"].as_str().unwrap_or("")
        )
    };
    if status != 200 {
        match v["problems"]
            .as_array()
            .filter(|p| p.iter().all(|x| x.is_object()))
        {
            Some(problems) if !problems.is_empty() => {
                for p in problems {
                    eprintln!("{}", located(p));
                }
                eprintln!(
                    "tocsin dry-run: the server at {} refused the subscription (HTTP {status})",
                    remote.server
                );
            }
            _ => eprintln!(
                "tocsin dry-run: the server at {} refused it (HTTP {status}): {}",
                remote.server,
                v["error"]
                    .as_str()
                    .map_or_else(|| v.to_string(), str::to_string)
            ),
        }
        return 1;
    }
    for w in v["warnings"].as_array().into_iter().flatten() {
        eprintln!("{}", located(w));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", summary(&v));
    }
    0
}

/// The forecast in sentences whose numbers add up: events by what became of
/// them, then for each contact events → sends → messages.
fn summary(v: &serde_json::Value) -> String {
    let n = |x: &serde_json::Value| x.as_u64().unwrap_or(0);
    let mut out = String::new();
    let scanned = n(&v["scanned"]);
    let mut parts = vec![format!("{} matched", n(&v["matched"]))];
    let not_matched: Vec<(String, u64)> = v["not_matched"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(code, c)| (code.clone(), n(c)))
        .collect();
    for (code, c) in &not_matched {
        parts.push(format!("{c} {code}"));
    }
    if n(&v["not_covered"]) > 0 {
        parts.push(format!(
            "{} outside its products/event types",
            n(&v["not_covered"])
        ));
    }
    if n(&v["stopped_by_switch"]) > 0 {
        parts.push(format!(
            "{} stopped by a push switch",
            n(&v["stopped_by_switch"])
        ));
    }
    out.push_str(&format!(
        "{scanned} stored {} scanned = {}\n",
        plural(scanned, "event", "events"),
        parts.join(" + ")
    ));
    for (entry, c) in v["excluded_by"].as_object().into_iter().flatten() {
        out.push_str(&format!("  excluded by {entry}: {}\n", n(c)));
    }
    for (name, c) in v["contacts"].as_object().into_iter().flatten() {
        let (events, at_once, merged, suppressed, scheduled_events) = (
            n(&c["events"]),
            n(&c["notifications"]),
            n(&c["merged"]),
            n(&c["suppressed"]),
            n(&c["scheduled_events"]),
        );
        let (follow_ups, scheduled) = (n(&c["follow_ups"]), n(&c["scheduled"]));
        let (messages, digests) = (n(&c["messages"]), n(&c["digests"]));
        let sends = at_once + follow_ups + scheduled;
        out.push_str(&format!("{name}:\n"));
        let mut e = vec![format!("{at_once} sent at once")];
        if merged > 0 {
            e.push(format!("{merged} merged into follow-ups"));
        }
        if suppressed > 0 {
            e.push(format!("{suppressed} suppressed"));
        }
        if scheduled_events > 0 {
            e.push(format!("{scheduled_events} collected for digests"));
        }
        out.push_str(&format!(
            "  {events} {} = {}\n",
            plural(events, "event", "events"),
            e.join(" + ")
        ));
        let mut s = vec![format!("{at_once} at once")];
        if follow_ups > 0 {
            s.push(format!(
                "{follow_ups} {}",
                plural(follow_ups, "follow-up", "follow-ups")
            ));
        }
        if scheduled > 0 {
            s.push(format!(
                "{scheduled} scheduled {}",
                plural(scheduled, "digest", "digests")
            ));
        }
        out.push_str(&format!(
            "  {sends} {} = {}\n",
            plural(sends, "send", "sends"),
            s.join(" + ")
        ));
        if messages == sends {
            out.push_str(&format!(
                "  {messages} {} (all within the bot's rate limit)\n",
                plural(messages, "message", "messages")
            ));
        } else {
            let alone = messages - digests.min(messages);
            out.push_str(&format!(
                "  {messages} {} under the bot's rate limit = {alone} sent alone + {digests} {} holding the other {}\n",
                plural(messages, "message", "messages"),
                plural(digests, "digest", "digests"),
                sends.saturating_sub(alone)
            ));
        }
    }
    out
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::summary;
    use serde_json::json;

    #[test]
    fn the_summary_adds_up() {
        let v = json!({
            "scanned": 20, "matched": 12, "not_covered": 3, "stopped_by_switch": 0,
            "not_matched": {"excluded": 4, "level_not_matched": 1},
            "excluded_by": {"exclude[0]: event_names: Vulnerability:*": 4},
            "contacts": {"lark-bot": {"events": 12, "notifications": 8, "merged": 3, "suppressed": 1,
                "scheduled_events": 0, "follow_ups": 2, "scheduled": 0, "messages": 5, "digests": 1}}
        });
        assert_eq!(
            summary(&v),
            "20 stored events scanned = 12 matched + 4 excluded + 1 level_not_matched + 3 outside its products/event types\n  \
             excluded by exclude[0]: event_names: Vulnerability:*: 4\n\
             lark-bot:\n  12 events = 8 sent at once + 3 merged into follow-ups + 1 suppressed\n  \
             10 sends = 8 at once + 2 follow-ups\n  \
             5 messages under the bot's rate limit = 4 sent alone + 1 digest holding the other 6\n"
        );
    }
}
