//! A DingTalk message as the client shows it: markdown (headings, bold,
//! links, lists, quotes) with its `@mobile` mentions highlighted, text,
//! action cards, links and feed cards. The markdown `title` only shows in
//! the notification, not in the chat.

use super::markup::{Flavor, esc, esc_lines, markdown, safe_href};
use crate::platform::str_at;
use serde_json::Value;

/// Who `at` notifies, as the names an `@` in the text shows.
fn mentions(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["/at/atMobiles", "/at/atUserIds"]
        .iter()
        .filter_map(|p| body.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if body.pointer("/at/isAtAll").and_then(Value::as_bool) == Some(true) {
        out.push("all".into());
        out.push("所有人".into());
    }
    out
}

fn button(title: &str, url: &str) -> String {
    match safe_href(url) {
        Some(h) => format!(
            "<a class=\"button default\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
            esc(title)
        ),
        None => format!("<span class=\"button default\">{}</span>", esc(title)),
    }
}

pub(crate) fn render(body: &Value) -> String {
    let msgtype = str_at(body, "/msgtype");
    let obj = body.get(msgtype).unwrap_or(&Value::Null);
    let at = mentions(body);
    match msgtype {
        "markdown" => format!(
            "<div class=\"ding-md\">{}</div>",
            markdown(str_at(obj, "/text"), Flavor::DingTalk, &at)
        ),
        "text" => format!(
            "<div class=\"ding-text\">{}</div>",
            markdown(str_at(obj, "/content"), Flavor::DingTalk, &at)
        ),
        "actionCard" => {
            let mut out = format!(
                "<div class=\"ding-md\">{}<div class=\"actions\">",
                markdown(str_at(obj, "/text"), Flavor::DingTalk, &at)
            );
            let single = str_at(obj, "/singleTitle");
            if !single.is_empty() {
                out.push_str(&button(single, str_at(obj, "/singleURL")));
            }
            for b in obj
                .get("btns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push_str(&button(str_at(b, "/title"), str_at(b, "/actionURL")));
            }
            out.push_str("</div></div>");
            out
        }
        "link" => format!(
            "<div class=\"ding-md\"><div class=\"title\">{}</div><p>{}</p>{}</div>",
            esc(str_at(obj, "/title")),
            esc_lines(str_at(obj, "/text")),
            button("Open", str_at(obj, "/messageUrl"))
        ),
        "feedCard" => {
            let items: String = obj
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|l| {
                    format!(
                        "<li>{}</li>",
                        button(str_at(l, "/title"), str_at(l, "/messageURL"))
                    )
                })
                .collect();
            format!("<div class=\"ding-md\"><ul>{items}</ul></div>")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn markdown_with_mentions_links_and_lists() {
        let body = json!({"msgtype":"markdown","markdown":{"title":"[FIRING] Disk","text":
            "#### **Disk** full\n- host: [db-1](https://t.example/e/1)\n- <img src=x onerror=alert(1)>\n@13800000000"},
            "at":{"atMobiles":["13800000000"],"isAtAll":false}});
        assert_eq!(
            super::render(&body),
            "<div class=\"ding-md\"><h4><strong>Disk</strong> full</h4><ul>\
             <li>host: <a href=\"https://t.example/e/1\" target=\"_blank\" rel=\"noopener noreferrer\">db-1</a></li>\
             <li>&lt;img src=x onerror=alert(1)&gt;</li></ul>\
             <p><span class=\"mention\">@13800000000</span></p></div>"
        );
    }
}
