//! PagerDuty as its web app shows it: the service's incidents with their
//! state (triggered, acknowledged, resolved) and alert count, and each
//! event of the log (action, severity, summary, source, links). All text
//! is escaped; only `http(s)` links are live.

use super::clock;
use super::markup::{esc, safe_href};
use crate::pagerduty::Incident;
use crate::platform::str_at;
use serde_json::Value;

/// The incidents table of one service, newest first.
pub(crate) fn incidents(list: &[Incident]) -> String {
    let mut out = String::from(
        "<table class=\"pd-incidents\"><tr><td><b>#</b></td><td><b>status</b></td><td><b>severity</b></td>\
         <td><b>summary</b></td><td><b>dedup_key</b></td><td><b>alerts</b></td><td><b>opened</b></td><td><b>resolved</b></td></tr>",
    );
    for i in list.iter().rev() {
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"pd-{status}\">{status}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.number,
            esc(&i.severity),
            esc(&i.summary),
            esc(&i.dedup_key),
            i.alerts,
            clock(i.opened_ms),
            i.resolved_ms.map(clock).unwrap_or_else(|| "-".into()),
            status = esc(&i.status),
        ));
    }
    out.push_str("</table>");
    out
}

pub(crate) fn render(body: &Value) -> String {
    let action = str_at(body, "/event_action");
    let mut out = format!(
        "<div class=\"pd-event\"><b>{}</b> <span class=\"meta\">{} · dedup_key <code>{}</code></span>",
        esc(action),
        esc(str_at(body, "/payload/severity")),
        esc(str_at(body, "/dedup_key"))
    );
    if action == "trigger" {
        out.push_str(&format!(
            "<p class=\"title\">{}</p><p class=\"meta\">source {} · component {} · group {} · class {}</p>",
            esc(str_at(body, "/payload/summary")),
            esc(str_at(body, "/payload/source")),
            esc(str_at(body, "/payload/component")),
            esc(str_at(body, "/payload/group")),
            esc(str_at(body, "/payload/class")),
        ));
        if let Some(d) = body.pointer("/payload/custom_details") {
            let text = serde_json::to_string_pretty(d).unwrap_or_default();
            let cut: String = text.chars().take(2000).collect();
            out.push_str(&format!("<pre>{}</pre>", esc(&cut)));
        }
    }
    for l in body
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = esc(str_at(l, "/text"));
        match safe_href(str_at(l, "/href")) {
            Some(h) => out.push_str(&format!("<p><a href=\"{h}\">{text}</a></p>")),
            None => out.push_str(&format!("<p>{text}</p>")),
        }
    }
    out.push_str("</div>");
    out
}
