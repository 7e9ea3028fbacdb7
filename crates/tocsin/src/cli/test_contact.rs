use super::TestContactArgs;
use crate::config;
use crate::notify::{self, Disposition};

/// Exit codes: 0 the platform accepted the test message, 1 it did not (or
/// the config or contact is wrong).
pub async fn run(args: TestContactArgs) -> i32 {
    let loaded = config::load_file(&args.config, &config::process_env);
    let Some(cfg) = loaded.config else {
        for d in loaded.diagnostics {
            eprintln!("{d}");
        }
        return 1;
    };
    let Some(contact) = cfg.contacts.iter().find(|c| c.name == args.name) else {
        let names: Vec<&str> = cfg.contacts.iter().map(|c| c.name.as_str()).collect();
        eprintln!(
            "tocsin test-contact: no contact named `{}` (contacts: {})",
            args.name,
            names.join(", ")
        );
        return 1;
    };
    let http = match notify::http::HttpContext::new(&cfg.delivery) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("tocsin test-contact: {e}");
            return 1;
        }
    };
    let v = notify::test_contact(
        &http,
        contact,
        &cfg.delivery,
        cfg.server.public_url.as_deref(),
    )
    .await;
    if v.disposition == Disposition::Delivered {
        println!("ok");
        0
    } else {
        let code = v
            .platform_code
            .as_deref()
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        let status = v
            .http_status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| "no answer".into());
        println!("failed: {status}{code}: {}", v.reason);
        if let Some(m) = &v.platform_message {
            println!("platform said: {m}");
        }
        1
    }
}
