//! `tocsin quarantine list|show ID|replay ID|delete ID`: the quarantine API
//! of a running server. Exit 0 done, 1 refused or unknown id, 2 server
//! unreachable or another error.

use crate::store::{QuarantineFilter, QuarantinedRequest, Store};
use reqwest::Method;
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct QuarantineArgs {
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: QuarantineAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum QuarantineAction {
    /// The kept requests, newest first.
    List {
        /// At most this many (the server clamps it to 1000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One kept request with its body.
    Show { id: String },
    /// Decode it again with the server's current code and config; accepted, it leaves the quarantine.
    Replay { id: String },
    /// Remove it.
    Delete { id: String },
}

fn escaped(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

pub async fn run(args: QuarantineArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin quarantine: {e}");
            return 2;
        }
    };
    let (method, path, id) = match &args.action {
        QuarantineAction::List { limit } => (
            Method::GET,
            format!("/api/v1/quarantine?limit={limit}"),
            None,
        ),
        QuarantineAction::Show { id } => (
            Method::GET,
            format!("/api/v1/quarantine/{}", escaped(id)),
            Some(id),
        ),
        QuarantineAction::Replay { id } => (
            Method::POST,
            format!("/api/v1/quarantine/{}/replay", escaped(id)),
            Some(id),
        ),
        QuarantineAction::Delete { id } => (
            Method::DELETE,
            format!("/api/v1/quarantine/{}", escaped(id)),
            Some(id),
        ),
    };
    let (status, v) = match super::call_api("quarantine", method, &remote, &path, None).await {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if args.json && status != 204 {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    let id = id.map(String::as_str).unwrap_or("");
    match (&args.action, status) {
        (QuarantineAction::List { .. }, 200) => {
            if !args.json {
                print_list(&v);
            }
            0
        }
        (QuarantineAction::Show { .. }, 200) => {
            if !args.json {
                print_one(&v);
                let encoding = v["body_encoding"].as_str().unwrap_or("text");
                println!("body ({encoding}):");
                println!("{}", v["body"].as_str().unwrap_or(""));
            }
            0
        }
        (QuarantineAction::Replay { .. }, 202) => {
            if !args.json {
                for i in v["ids"].as_array().into_iter().flatten() {
                    println!("{}", i.as_str().unwrap_or(""));
                }
                println!("accepted; {id} left the quarantine");
            }
            0
        }
        (QuarantineAction::Replay { .. }, 400) => {
            eprintln!(
                "tocsin quarantine: still unreadable, kept with its new error: {}",
                error_line(&v)
            );
            1
        }
        (QuarantineAction::Delete { .. }, 204) => {
            if !args.json {
                println!("deleted {id}");
            }
            0
        }
        (_, 404) => {
            eprintln!(
                "tocsin quarantine: the server at {} has no quarantined request with id {id}",
                remote.server
            );
            1
        }
        _ => {
            eprintln!(
                "tocsin quarantine: the server at {} answered HTTP {status}: {v}",
                remote.server
            );
            2
        }
    }
}

fn error_line(v: &Value) -> String {
    let mut s = v["error"].as_str().unwrap_or("").to_string();
    if let Some(i) = v["index"].as_u64() {
        s.push_str(&format!(" (event {i}"));
        if let Some(f) = v["field"].as_str() {
            s.push_str(&format!(", field `{f}`"));
        }
        s.push(')');
    }
    s
}

fn print_one(r: &Value) {
    println!(
        "{}  {}  {}  {} bytes  ×{}  {}",
        r["id"].as_str().unwrap_or(""),
        r["received_at"].as_str().unwrap_or(""),
        r["path"].as_str().unwrap_or(""),
        r["size"],
        r["count"],
        error_line(r)
    );
}

fn print_list(v: &Value) {
    let requests = v["requests"].as_array().cloned().unwrap_or_default();
    if requests.is_empty() {
        println!("the quarantine is empty");
    }
    for r in &requests {
        print_one(r);
    }
    if let Some(c) = v["next_cursor"].as_str() {
        println!("(more: GET /api/v1/quarantine?cursor={c})");
    }
}

/// Every request kept since `since_ms` (for `tocsin doctor`), read from the
/// store directly; an unreadable quarantine reads as empty.
pub async fn recent(store: &dyn Store, since_ms: i64) -> Vec<QuarantinedRequest> {
    let mut out = Vec::new();
    let mut cursor = None;
    while let Ok(page) = store
        .quarantine_list(QuarantineFilter {
            since_ms: Some(since_ms),
            limit: 1000,
            cursor,
        })
        .await
    {
        out.extend(page.requests);
        match page.next_cursor {
            Some(c) if out.len() < 100_000 => cursor = Some(c),
            _ => break,
        }
    }
    out
}
