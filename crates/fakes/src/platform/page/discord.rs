//! A Discord webhook message as the client shows it: the `content` line
//! (its `<@id>` mentions highlighted), then each embed with its colour bar,
//! linked title, description, fields (inline ones side by side), footer and
//! timestamp.

use super::markup::{Flavor, esc, inline, markdown, safe_href};
use crate::platform::str_at;
use serde_json::Value;

fn embed(e: &Value) -> String {
    // `color` is an integer RGB; anything else keeps the default bar.
    let bar = e
        .get("color")
        .and_then(Value::as_u64)
        .filter(|c| *c <= 0xFF_FFFF)
        .map(|c| format!(" style=\"border-left-color:#{c:06x}\""))
        .unwrap_or_default();
    let mut out = format!("<div class=\"embed\"{bar}>");
    let title = str_at(e, "/title");
    if !title.is_empty() {
        // Titles are plain text in Discord (no markdown), linked by `url`.
        let t = esc(title);
        match safe_href(str_at(e, "/url")) {
            Some(h) => out.push_str(&format!(
                "<div class=\"title\"><a href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{t}</a></div>"
            )),
            None => out.push_str(&format!("<div class=\"title\">{t}</div>")),
        }
    }
    let description = str_at(e, "/description");
    if !description.is_empty() {
        out.push_str(&markdown(description, Flavor::Discord, &[]));
    }
    if let Some(fields) = e.get("fields").and_then(Value::as_array) {
        out.push_str("<div class=\"fields\">");
        for f in fields {
            let short = if f.get("inline") == Some(&Value::Bool(true)) {
                " short"
            } else {
                ""
            };
            out.push_str(&format!(
                "<div class=\"field{short}\"><strong>{}</strong>{}</div>",
                inline(str_at(f, "/name"), Flavor::Discord, &[]),
                markdown(str_at(f, "/value"), Flavor::Discord, &[])
            ));
        }
        out.push_str("</div>");
    }
    let footer = str_at(e, "/footer/text");
    let at = str_at(e, "/timestamp");
    if !footer.is_empty() || !at.is_empty() {
        let sep = if footer.is_empty() || at.is_empty() {
            ""
        } else {
            " • "
        };
        out.push_str(&format!(
            "<div class=\"footer\">{}{sep}{}</div>",
            esc(footer),
            esc(at)
        ));
    }
    out.push_str("</div>");
    out
}

pub(crate) fn render(body: &Value) -> String {
    let mut out = String::from("<div class=\"discord-msg\">");
    let content = str_at(body, "/content");
    if !content.is_empty() {
        out.push_str(&markdown(content, Flavor::Discord, &[]));
    }
    for e in body
        .get("embeds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&embed(e));
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    #[test]
    fn an_embed_renders_with_its_colour_link_fields_and_escaping() {
        let html = render(&json!({
            "content": "<@123> critical",
            "embeds": [{
                "title": "Incident <b>",
                "url": "https://tocsin.example.com/e/1",
                "color": 0xE0_1E_5A,
                "description": "**Login** from \\*evil\\* <img src=x onerror=alert(1)>",
                "fields": [{"name": "Instance", "value": "web-01", "inline": true}],
                "footer": {"text": "Tocsin"},
                "timestamp": "2026-12-03T10:00:00Z"
            }],
            "allowed_mentions": {"parse": []}
        }));
        assert_eq!(
            html,
            "<div class=\"discord-msg\"><p><span class=\"mention\">@123</span> critical</p>\
             <div class=\"embed\" style=\"border-left-color:#e01e5a\"><div class=\"title\">\
             <a href=\"https://tocsin.example.com/e/1\" target=\"_blank\" rel=\"noopener noreferrer\">Incident &lt;b&gt;</a></div>\
             <p><strong>Login</strong> from *evil* &lt;img src=x onerror=alert(1)&gt;</p>\
             <div class=\"fields\"><div class=\"field short\"><strong>Instance</strong><p>web-01</p></div></div>\
             <div class=\"footer\">Tocsin • 2026-12-03T10:00:00Z</div></div></div>"
        );
    }
}
