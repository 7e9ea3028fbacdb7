//! A Teams Workflows message as the client shows it: each Adaptive Card's
//! TextBlocks (colour, size, weight; the markdown subset: `**bold**`,
//! `[text](url)`), FactSets as two columns, `<at>` mentions that the card's
//! `msteams.entities` names highlighted as `@name` (others shown as typed),
//! and the `Action.OpenUrl` buttons.

use super::markup::{Flavor, esc, inline, safe_href};
use crate::platform::str_at;
use serde_json::Value;

/// One text with its named mentions highlighted, the rest as markdown.
fn text(s: &str, mentions: &[(&str, &str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for (at, _, name) in mentions {
            if !at.is_empty()
                && let Some(n) = rest.find(at)
            {
                out.push_str(&inline(&rest[..n], Flavor::DingTalk, &[]));
                out.push_str(&format!("<span class=\"mention\">@{}</span>", esc(name)));
                rest = &rest[n + at.len()..];
                continue 'outer;
            }
        }
        out.push_str(&inline(rest, Flavor::DingTalk, &[]));
        break;
    }
    out
}

fn items(v: &Value, m: &[(&str, &str, &str)], out: &mut String) {
    for e in v.as_array().into_iter().flatten() {
        match str_at(e, "/type") {
            "TextBlock" => {
                let colour = match str_at(e, "/color").to_ascii_lowercase().as_str() {
                    "attention" => "c-red",
                    "warning" => "c-orange",
                    "good" => "c-green",
                    "accent" => "c-blue",
                    _ => "",
                };
                let mut style = String::new();
                if str_at(e, "/weight").eq_ignore_ascii_case("bolder") {
                    style.push_str("font-weight:600;");
                }
                match str_at(e, "/size").to_ascii_lowercase().as_str() {
                    "large" | "extralarge" => style.push_str("font-size:17px;"),
                    "small" => style.push_str("font-size:12px;"),
                    _ => {}
                }
                if e.get("isSubtle") == Some(&Value::Bool(true)) {
                    style.push_str("color:#8f959e;");
                }
                out.push_str(&format!(
                    "<p class=\"{colour}\" style=\"{style}\">{}</p>",
                    text(str_at(e, "/text"), m)
                ));
            }
            "FactSet" => {
                out.push_str("<table>");
                for f in e
                    .get("facts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push_str(&format!(
                        "<tr><td><strong>{}</strong></td><td>{}</td></tr>",
                        text(str_at(f, "/title"), m),
                        text(str_at(f, "/value"), m)
                    ));
                }
                out.push_str("</table>");
            }
            "Container" => items(&e["items"], m, out),
            _ => {}
        }
    }
}

pub(crate) fn render(body: &Value) -> String {
    let mut out = String::from("<div class=\"teams-msg\">");
    for card in crate::teams::cards(body) {
        let m = crate::teams::entities(card);
        out.push_str("<div class=\"teams-card\">");
        items(&card["body"], &m, &mut out);
        let actions: Vec<String> = card
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let title = esc(str_at(a, "/title"));
                safe_href(str_at(a, "/url")).map(|h| {
                    format!("<a class=\"button\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{title}</a>")
                })
            })
            .collect();
        if !actions.is_empty() {
            out.push_str(&format!(
                "<div class=\"actions\">{}</div>",
                actions.concat()
            ));
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_mentions_highlighted_content_escaped() {
        let body = json!({"type": "message", "attachments": [{"contentType": crate::teams::CARD_TYPE,
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": [
                {"type": "TextBlock", "text": "**[CRITICAL]** <at>a@b.c</at> <at>x</at> <script>", "color": "attention"},
                {"type": "FactSet", "facts": [{"title": "Asset", "value": "[l](http://e.vil)"}]}],
                "actions": [{"type": "Action.OpenUrl", "title": "View", "url": "https://t.example/e/1"}],
                "msteams": {"entities": [{"type": "mention", "text": "<at>a@b.c</at>", "mentioned": {"id": "a@b.c", "name": "Alice"}}]}}}]});
        let html = render(&body);
        assert!(
            html.contains("<span class=\"mention\">@Alice</span>"),
            "{html}"
        );
        assert!(html.contains("&lt;at&gt;x&lt;/at&gt;"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<strong>[CRITICAL]</strong>"), "{html}");
        assert!(html.contains("href=\"https://t.example/e/1\""), "{html}");
        assert!(html.contains("href=\"http://e.vil\""), "{html}");
    }
}
