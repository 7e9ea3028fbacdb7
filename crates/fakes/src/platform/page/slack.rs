//! A Slack message as the client shows it: blocks (header, section with
//! mrkdwn text, fields and accessory, context, divider, actions), else the
//! `text`; then the attachments with their colour bar.

use super::markup::{Flavor, esc, esc_lines, inline, markdown, safe_href};
use crate::platform::str_at;
use serde_json::Value;

/// A text object: `mrkdwn` with its markup, `plain_text` as is.
fn text_obj(t: &Value) -> String {
    match str_at(t, "/type") {
        "mrkdwn" => markdown(str_at(t, "/text"), Flavor::Slack, &[]),
        _ => esc_lines(str_at(t, "/text")),
    }
}

fn button(b: &Value) -> String {
    let label = esc(str_at(b, "/text/text"));
    let kind = match str_at(b, "/style") {
        "primary" => "primary",
        "danger" => "danger",
        _ => "default",
    };
    match safe_href(str_at(b, "/url")) {
        Some(h) => format!(
            "<a class=\"button {kind}\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{label}</a>"
        ),
        None => format!("<span class=\"button {kind}\">{label}</span>"),
    }
}

fn block(b: &Value) -> String {
    match str_at(b, "/type") {
        "header" => format!(
            "<div class=\"slack-header\">{}</div>",
            esc(str_at(b, "/text/text"))
        ),
        "section" => {
            let mut out = String::from("<div class=\"section\">");
            if let Some(t) = b.get("text") {
                out.push_str(&text_obj(t));
            }
            let fields = b.get("fields").and_then(Value::as_array);
            if let Some(fields) = fields.filter(|f| !f.is_empty()) {
                out.push_str("<div class=\"fields\">");
                for f in fields {
                    out.push_str(&format!("<div class=\"field short\">{}</div>", text_obj(f)));
                }
                out.push_str("</div>");
            }
            if let Some(a) = b
                .get("accessory")
                .filter(|a| str_at(a, "/type") == "button")
            {
                out.push_str(&format!("<div class=\"actions\">{}</div>", button(a)));
            }
            out.push_str("</div>");
            out
        }
        "context" => {
            let parts: Vec<String> = b
                .get("elements")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| match str_at(e, "/type") {
                    "mrkdwn" => inline(str_at(e, "/text"), Flavor::Slack, &[]),
                    "image" => "[image]".into(),
                    _ => esc(str_at(e, "/text")),
                })
                .collect();
            format!("<div class=\"context\">{}</div>", parts.join(" "))
        }
        "divider" => "<hr>".into(),
        "actions" => {
            let buttons: String = b
                .get("elements")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| str_at(e, "/type") == "button")
                .map(button)
                .collect();
            format!("<div class=\"actions\">{buttons}</div>")
        }
        "image" => "<div class=\"section\">[image]</div>".into(),
        _ => String::new(),
    }
}

/// A colour bar's CSS colour: Slack's three names or a hex colour.
fn bar_colour(c: &str) -> &'static str {
    match c {
        "good" => "#2eb67d",
        "warning" => "#ecb22e",
        "danger" => "#e01e5a",
        _ => "",
    }
}

fn attachment(a: &Value) -> String {
    let colour = str_at(a, "/color");
    let css = match bar_colour(colour) {
        "" if colour.len() <= 7
            && colour.starts_with('#')
            && colour[1..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            colour.to_string()
        }
        "" => "#dddddd".to_string(),
        named => named.to_string(),
    };
    let mut out = format!("<div class=\"attachment\" style=\"border-left-color:{css}\">");
    let pretext = str_at(a, "/pretext");
    if !pretext.is_empty() {
        out.push_str(&markdown(pretext, Flavor::Slack, &[]));
    }
    let title = str_at(a, "/title");
    if !title.is_empty() {
        out.push_str(&format!("<div class=\"title\">{}</div>", esc(title)));
    }
    let text = match str_at(a, "/text") {
        "" => str_at(a, "/fallback"),
        t => t,
    };
    out.push_str(&markdown(text, Flavor::Slack, &[]));
    for f in a
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "<div class=\"field\"><strong>{}</strong> {}</div>",
            esc(str_at(f, "/title")),
            esc(str_at(f, "/value"))
        ));
    }
    for b in a
        .get("blocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&block(b));
    }
    out.push_str("</div>");
    out
}

pub(crate) fn render(body: &Value) -> String {
    let mut out = String::from("<div class=\"slack-msg\">");
    match body.get("blocks").and_then(Value::as_array) {
        Some(blocks) if !blocks.is_empty() => blocks.iter().for_each(|b| out.push_str(&block(b))),
        _ => out.push_str(&markdown(str_at(body, "/text"), Flavor::Slack, &[])),
    }
    for a in body
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&attachment(a));
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn blocks_render_with_links_bold_and_escaping() {
        let body = json!({"text":"fallback","blocks":[
            {"type":"header","text":{"type":"plain_text","text":"[FIRING] <script>x</script>"}},
            {"type":"section","text":{"type":"mrkdwn","text":"*host* <https://t.example/e/1|db-1> &lt;img onerror=x&gt;"}},
            {"type":"section","fields":[{"type":"mrkdwn","text":"*ip*\n10.0.0.1"}]},
            {"type":"divider"},
            {"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"View"},"url":"https://t.example/e/1"}]},
            {"type":"context","elements":[{"type":"mrkdwn","text":":red_circle: Tocsin"}]}]});
        assert_eq!(
            super::render(&body),
            "<div class=\"slack-msg\"><div class=\"slack-header\">[FIRING] &lt;script&gt;x&lt;/script&gt;</div>\
             <div class=\"section\"><p><strong>host</strong> <a href=\"https://t.example/e/1\" target=\"_blank\" rel=\"noopener noreferrer\">db-1</a> &lt;img onerror=x&gt;</p></div>\
             <div class=\"section\"><div class=\"fields\"><div class=\"field short\"><p><strong>ip</strong></p><p>10.0.0.1</p></div></div></div>\
             <hr><div class=\"actions\"><a class=\"button default\" href=\"https://t.example/e/1\" target=\"_blank\" rel=\"noopener noreferrer\">View</a></div>\
             <div class=\"context\">\u{1F534} Tocsin</div></div>"
        );
        let att = json!({"attachments":[{"color":"red;background:url(x)","text":"hi"}]});
        assert!(super::render(&att).contains("border-left-color:#dddddd"));
    }
}
