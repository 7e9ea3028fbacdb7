//! `tocsin tail`: follows new events and their deliveries live in the
//! terminal, so the first event's arrival is visible without curl and jq.
//!
//! It polls the history API (newest first) and, for each event still
//! being delivered, the event's detail; it prints each new event once and
//! each attempt and final status once. Polling keeps it to the public API
//! (works against any server the user can reach) at the cost of up to one
//! interval of delay.

use super::remote::Remote;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    /// How often to ask the server, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub interval_ms: u64,
    /// Also show the last N events already stored before following.
    #[arg(long, default_value_t = 0)]
    pub last: usize,
}

/// Events followed at once; older ones still pending are let go (with a
/// line saying so) so a flood cannot make each poll unbounded.
const MAX_FOLLOWED: usize = 200;
/// Pages of the history read per poll when many events arrived at once.
const MAX_PAGES: usize = 10;
const PAGE: usize = 100;

/// What has been printed for one event.
#[derive(Default)]
struct Followed {
    /// contact → attempts printed.
    attempts: HashMap<String, usize>,
    /// contact → final status printed.
    finished: HashSet<String>,
}

pub async fn run(args: TailArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin tail: {e}");
            return 2;
        }
    };
    let mut tail = Tail {
        remote,
        seen: HashSet::new(),
        followed: HashMap::new(),
        order: VecDeque::new(),
    };
    // The events stored before now are not news: mark them seen (showing
    // the last N of them when asked).
    let first = match tail.new_events().await {
        Ok(events) => events,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    eprintln!(
        "tocsin tail: following {} (Ctrl-C to stop)",
        tail.remote.server
    );
    let skip = first.len().saturating_sub(args.last);
    for (i, event) in first.into_iter().enumerate() {
        if i >= skip {
            tail.show_event(&event);
        }
    }
    let interval = Duration::from_millis(args.interval_ms);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return 0,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = tail.poll().await {
            // A restart of the server is not the end of the tail.
            eprintln!("{e} (still trying)");
        }
    }
}

struct Tail {
    remote: Remote,
    seen: HashSet<String>,
    followed: HashMap<String, Followed>,
    /// Followed event ids, oldest first.
    order: VecDeque<String>,
}

impl Tail {
    async fn get(&self, path: &str) -> Result<Value, String> {
        let (status, v) =
            super::call_api("tail", reqwest::Method::GET, &self.remote, path, None).await?;
        if status != 200 {
            return Err(format!(
                "tocsin tail: the server at {} answered HTTP {status}: {v}",
                self.remote.server
            ));
        }
        Ok(v)
    }

    /// Events not seen yet, oldest first (the history lists newest first;
    /// it reads on until it meets a seen one, at most MAX_PAGES pages).
    async fn new_events(&mut self) -> Result<Vec<Value>, String> {
        let mut fresh = Vec::new();
        let mut cursor: Option<String> = None;
        'pages: for _ in 0..MAX_PAGES {
            let path = match &cursor {
                None => format!("/api/v1/events?limit={PAGE}"),
                Some(c) => format!("/api/v1/events?limit={PAGE}&cursor={c}"),
            };
            let page = self.get(&path).await?;
            for e in page["events"].as_array().into_iter().flatten() {
                let id = e["id"].as_str().unwrap_or("").to_string();
                if self.seen.contains(&id) {
                    break 'pages;
                }
                fresh.push(e.clone());
            }
            match page["next_cursor"].as_str() {
                Some(c) => {
                    cursor = Some(url::form_urlencoded::byte_serialize(c.as_bytes()).collect())
                }
                None => break,
            }
        }
        fresh.reverse();
        for e in &fresh {
            self.seen.insert(e["id"].as_str().unwrap_or("").to_string());
        }
        Ok(fresh)
    }

    async fn poll(&mut self) -> Result<(), String> {
        for event in self.new_events().await? {
            self.show_event(&event);
        }
        let ids: Vec<String> = self.order.iter().cloned().collect();
        for id in ids {
            let escaped: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            let detail = self.get(&format!("/api/v1/events/{escaped}")).await?;
            if self.show_deliveries(&id, &detail) {
                self.followed.remove(&id);
                self.order.retain(|x| x != &id);
            }
        }
        Ok(())
    }

    /// Prints an event's line, and follows it while it has deliveries to come.
    fn show_event(&mut self, e: &Value) {
        println!("{}", event_line(e));
        let pending = e["deliveries"]["pending"].as_u64().unwrap_or(0);
        let routed = e["outcome"] == "routed";
        let id = e["id"].as_str().unwrap_or("").to_string();
        if routed || pending > 0 {
            if self.order.len() >= MAX_FOLLOWED
                && let Some(old) = self.order.pop_front()
            {
                self.followed.remove(&old);
                println!(
                    "  {old}: no longer followed (more than {MAX_FOLLOWED} events in flight); see tocsin explain {old}"
                );
            }
            self.followed.insert(id.clone(), Followed::default());
            self.order.push_back(id);
        }
    }

    /// Prints the attempts and final statuses not printed yet; true when
    /// every delivery of the event is final.
    fn show_deliveries(&mut self, id: &str, detail: &Value) -> bool {
        let Some(f) = self.followed.get_mut(id) else {
            return true;
        };
        let deliveries = detail["deliveries"].as_array().cloned().unwrap_or_default();
        for d in &deliveries {
            let contact = d["contact"].as_str().unwrap_or("").to_string();
            let attempts = d["attempts"].as_array().cloned().unwrap_or_default();
            let printed = f.attempts.entry(contact.clone()).or_insert(0);
            for a in attempts.iter().skip(*printed) {
                println!("{}", attempt_line(id, &contact, a));
            }
            *printed = attempts.len();
            let status = d["status"].as_str().unwrap_or("");
            if status != "pending" && !f.finished.contains(&contact) {
                f.finished.insert(contact.clone());
                // An attempt line already said "delivered" or "failed";
                // other ends (merged, suppressed) have no attempt.
                let said = attempts
                    .last()
                    .is_some_and(|a| a["outcome"].as_str() == Some(status));
                if !said {
                    println!("{}", status_line(id, &contact, d));
                }
            }
        }
        // Notices are stored with the event, so an event with none has
        // nothing to come.
        deliveries.iter().all(|d| d["status"] != "pending")
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `event 74007cb4 warn Suspicious:MaliciousProcess (web-065) → routed`
fn event_line(e: &Value) -> String {
    let mut line = format!(
        "event {} {} {}",
        text(&e["id"]),
        text(&e["level"]),
        text(&e["name"])
    );
    let instance = text(&e["content"]["instanceName"]);
    if !instance.is_empty() {
        line.push_str(&format!(" ({instance})"));
    }
    line.push_str(&format!(" → {}", text(&e["outcome"])));
    if let Some(by) = e["stopped_by"]["reason"].as_str() {
        line.push_str(&format!(": {by}"));
    }
    line
}

/// `  74007cb4 → lark-bot: delivered (HTTP 200, code 0) delivered (Lark code 0)`
fn attempt_line(id: &str, contact: &str, a: &Value) -> String {
    let mut detail = Vec::new();
    if let Some(s) = a["http_status"].as_u64() {
        detail.push(format!("HTTP {s}"));
    }
    if let Some(c) = a["platform_code"].as_str() {
        detail.push(format!("code {c}"));
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    format!(
        "  {id} → {contact}: {}{detail}: {}",
        text(&a["outcome"]),
        text(&a["reason"])
    )
}

fn status_line(id: &str, contact: &str, d: &Value) -> String {
    let reason = text(&d["reason"]);
    if reason.is_empty() {
        format!("  {id} → {contact}: {}", text(&d["status"]))
    } else {
        format!("  {id} → {contact}: {}: {reason}", text(&d["status"]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn lines_say_what_happened_in_one_line_each() {
        let e = json!({"id": "e1", "level": "critical", "name": "Suspicious:X",
                       "content": {"instanceName": "web-1"}, "outcome": "routed"});
        assert_eq!(
            super::event_line(&e),
            "event e1 critical Suspicious:X (web-1) → routed"
        );
        let a = json!({"outcome": "retry", "http_status": 200, "platform_code": "45009",
                       "reason": "WeCom is rate limiting this bot"});
        assert_eq!(
            super::attempt_line("e1", "wecom-bot", &a),
            "  e1 → wecom-bot: retry (HTTP 200, code 45009): WeCom is rate limiting this bot"
        );
        let d = json!({"status": "suppressed", "reason": "inside silence s1"});
        assert_eq!(
            super::status_line("e1", "hook", &d),
            "  e1 → hook: suppressed: inside silence s1"
        );
    }
}
