use super::DoctorArgs;
use crate::config;
use crate::doctor::{self, Finding, Severity};
use crate::notify::{self, Disposition};

/// Exit 1 when anything would lose alerts (an error finding, a config error,
/// with --live a contact whose test message was refused, or a `--data`
/// directory that is not there); else 0.
pub async fn run(args: DoctorArgs) -> i32 {
    let loaded = config::load_file(&args.config, &config::process_env);
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    let Some(cfg) = loaded.config else { return 1 };
    let mut findings = doctor::check(&cfg);
    // The recent history, when the store is there: would any bot's rate
    // limit have been exceeded? A directory named on the command line must
    // be there; the configured one may not exist yet (nothing served yet).
    let explicit = args.data.is_some();
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| cfg.server.data_dir.clone());
    let mut failed = false;
    if !data.is_dir() {
        if explicit {
            eprintln!(
                "tocsin doctor: --data {}: no such directory; name the server's data directory (server.data_dir)",
                data.display()
            );
            failed = true;
        } else {
            println!(
                "history: not read: {} (server.data_dir) does not exist yet",
                data.display()
            );
        }
    } else if !data.join("tocsin.db").exists() {
        println!(
            "history: not read: {} holds no tocsin.db (no server has stored events there)",
            data.display()
        );
    } else {
        match crate::store::sqlite::SqliteStore::open(&data) {
            Ok(store) => {
                use crate::store::Store;
                let since = crate::now_ms() - 86_400_000;
                let mut events = Vec::new();
                let mut cursor = None;
                while let Ok(page) = store
                    .list_events(crate::store::EventFilter {
                        since_ms: Some(since),
                        limit: 1000,
                        cursor,
                        ..Default::default()
                    })
                    .await
                {
                    events.extend(page.events.into_iter().map(|s| s.stored.event));
                    match page.next_cursor {
                        Some(c) if events.len() < 200_000 => cursor = Some(c),
                        _ => break,
                    }
                }
                println!(
                    "history: {} events of the last 24 h in {}",
                    events.len(),
                    data.display()
                );
                findings.extend(doctor::rate_findings(&cfg, &events));
                findings.extend(doctor::quarantine_findings(
                    &super::quarantine::recent(&store, since).await,
                ));
            }
            Err(e) => eprintln!(
                "tocsin doctor: cannot read the history in {}: {e}",
                data.display()
            ),
        }
    }
    if args.live {
        match notify::http::HttpContext::new(&cfg.delivery) {
            Ok(http) => {
                for c in &cfg.contacts {
                    let v = notify::test_contact(
                        &http,
                        c,
                        &cfg.delivery,
                        cfg.server.public_url.as_deref(),
                    )
                    .await;
                    if v.disposition == Disposition::Delivered {
                        println!("live: contacts[{}]: test message delivered", c.name);
                    } else {
                        let i = cfg.contacts.iter().position(|x| x.name == c.name);
                        findings.push(Finding {
                            severity: Severity::Error,
                            code: "live_test_failed",
                            object: format!("contacts[{}]", c.name),
                            message: format!(
                                "{}: the test message was not delivered: {}",
                                c.name, v.reason
                            ),
                            line: c.line,
                            path: format!("contacts[{}]", i.unwrap_or_default()),
                            certain: false,
                        });
                    }
                }
            }
            Err(e) => eprintln!("tocsin doctor: {e}"),
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    for f in &findings {
        let tag = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // The place in the file, as `check` names it.
        let place = if f.line > 0 {
            format!(" ({}:{}: {})", args.config.display(), f.line, f.path)
        } else {
            String::new()
        };
        println!("{tag}: {} [{}]: {}{place}", f.object, f.code, f.message);
    }
    if findings.is_empty() {
        println!("doctor: nothing found that would lose alerts");
    } else {
        println!(
            "doctor: {errors} error(s), {} warning(s)",
            findings.len() - errors
        );
    }
    i32::from(errors > 0 || failed)
}
