//! A WeCom message as the client shows it: markdown with its three font
//! colours and `<@userid>` mentions, text with its mentioned list, news and
//! template cards.

use super::markup::{Flavor, esc, esc_lines, markdown};
use crate::platform::str_at;
use serde_json::Value;

pub(crate) fn render(body: &Value) -> String {
    let msgtype = str_at(body, "/msgtype");
    let obj = body.get(msgtype).unwrap_or(&Value::Null);
    match msgtype {
        "markdown" | "markdown_v2" => format!(
            "<div class=\"wecom-md\">{}</div>",
            markdown(str_at(obj, "/content"), Flavor::WeCom, &[])
        ),
        "text" => {
            let mut out = format!(
                "<div class=\"wecom-text\">{}",
                esc_lines(str_at(obj, "/content"))
            );
            for key in ["mentioned_list", "mentioned_mobile_list"] {
                for m in obj
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let shown = if m == "@all" { "all" } else { m };
                    out.push_str(&format!(" <span class=\"mention\">@{}</span>", esc(shown)));
                }
            }
            out.push_str("</div>");
            out
        }
        "news" => {
            let items: String = obj
                .get("articles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "<div class=\"news\"><div class=\"title\">{}</div><div>{}</div></div>",
                        esc(str_at(a, "/title")),
                        esc(str_at(a, "/description"))
                    )
                })
                .collect();
            format!("<div class=\"wecom-md\">{items}</div>")
        }
        "template_card" => format!(
            "<div class=\"wecom-md\"><div class=\"title\">{}</div><p>{}</p><p>{}</p></div>",
            esc(str_at(obj, "/main_title/title")),
            esc(str_at(obj, "/main_title/desc")),
            esc(str_at(obj, "/sub_title_text"))
        ),
        "image" => "<div class=\"wecom-text\">[image]</div>".into(),
        "file" => "<div class=\"wecom-text\">[file]</div>".into(),
        "voice" => "<div class=\"wecom-text\">[voice]</div>".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn markdown_colours_mentions_and_escaping() {
        let body = json!({"msgtype":"markdown","markdown":{"content":
            "## <font color=\"warning\">[FIRING]</font> Disk\n> host: **db-1** <script>x</script>\n<@oncall>"}});
        assert_eq!(
            super::render(&body),
            "<div class=\"wecom-md\"><h2><span class=\"c-warning\">[FIRING]</span> Disk</h2>\
             <blockquote>host: <strong>db-1</strong> &lt;script&gt;x&lt;/script&gt;</blockquote>\
             <p><span class=\"mention\">@oncall</span></p></div>"
        );
        let text =
            json!({"msgtype":"text","text":{"content":"a<b","mentioned_list":["u1","@all"]}});
        assert_eq!(
            super::render(&text),
            "<div class=\"wecom-text\">a&lt;b <span class=\"mention\">@u1</span> <span class=\"mention\">@all</span></div>"
        );
    }
}
