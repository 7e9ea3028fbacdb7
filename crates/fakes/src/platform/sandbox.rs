//! The sandbox page: what each bot received, as the platform shows it.

use super::*;

/// A readable page of what each sandbox bot received, rendered as the
/// platform shows it (accepted messages), plus a line per refused request.
pub fn sandbox_page(bots: &[&FakeBot]) -> String {
    let mut out = String::new();
    for b in bots {
        out.push_str(&b.sandbox_text());
        out.push('\n');
    }
    out
}

pub(super) fn sandbox_section(core: &Core) -> String {
    let inner = core.lock();
    let base = core.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = format!("=== {} sandbox ({base}) ===\n", core.platform.name());
    let mut tokens: Vec<&String> = inner.bots.keys().collect();
    tokens.sort();
    for token in tokens {
        let mine: Vec<&Delivery> = inner
            .received
            .iter()
            .filter(|d| &d.token == token)
            .collect();
        let accepted = mine.iter().filter(|d| d.accepted()).count();
        out.push_str(&format!(
            "--- bot {token}: {accepted} shown in the group, {} refused ---\n",
            mine.len() - accepted
        ));
        for d in mine {
            if d.accepted() {
                out.push_str(&format!("[{}]\n", clock(d.at_ms)));
                for line in d.rendered_text().lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            } else {
                let why = match d.code {
                    Some(c) => format!("HTTP {} code {c}", d.http_status),
                    None => format!("HTTP {}", d.http_status),
                };
                out.push_str(&format!(
                    "[{}] refused ({why}): {}\n",
                    clock(d.at_ms),
                    d.answer.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    let strays = inner
        .received
        .iter()
        .filter(|d| !inner.bots.contains_key(&d.token))
        .count();
    if strays > 0 {
        out.push_str(&format!("--- {strays} request(s) to unknown bots ---\n"));
    }
    out
}

/// `HH:MM:SS.mmm` UTC.
fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}
