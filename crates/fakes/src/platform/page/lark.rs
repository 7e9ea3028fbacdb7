//! A Lark / Feishu message as the client shows it: an interactive card with
//! its coloured header, `lark_md`/`markdown` elements, fields, notes and
//! buttons; `text` and `post` messages.

use super::markup::{Flavor, esc, esc_lines, inline, markdown, safe_href};
use crate::platform::str_at;
use serde_json::Value;

const TEMPLATES: [&str; 13] = [
    "blue",
    "wathet",
    "turquoise",
    "green",
    "yellow",
    "orange",
    "red",
    "carmine",
    "violet",
    "purple",
    "indigo",
    "grey",
    "default",
];

pub(crate) fn render(body: &Value) -> String {
    match str_at(body, "/msg_type") {
        "text" => format!(
            "<div class=\"lark-text\">{}</div>",
            inline(str_at(body, "/content/text"), Flavor::Lark, &[]).replace('\n', "<br>")
        ),
        "post" => post(body),
        "interactive" => card(body.get("card").unwrap_or(&Value::Null)),
        "image" => "<div class=\"lark-text\">[image]</div>".into(),
        "share_chat" => "<div class=\"lark-text\">[shared chat]</div>".into(),
        _ => String::new(),
    }
}

fn post(body: &Value) -> String {
    let Some(post) = body.pointer("/content/post").and_then(Value::as_object) else {
        return String::new();
    };
    let Some(locale) = post.get("zh_cn").or_else(|| post.values().next()) else {
        return String::new();
    };
    let mut out = format!(
        "<div class=\"lark-post\"><div class=\"title\">{}</div>",
        esc(str_at(locale, "/title"))
    );
    for para in locale
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str("<p>");
        for el in para.as_array().into_iter().flatten() {
            match str_at(el, "/tag") {
                "at" => {
                    let name = match str_at(el, "/user_name") {
                        "" => str_at(el, "/user_id"),
                        n => n,
                    };
                    out.push_str(&format!("<span class=\"mention\">@{}</span>", esc(name)));
                }
                "a" => match safe_href(str_at(el, "/href")) {
                    Some(h) => out.push_str(&format!(
                        "<a href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
                        esc(str_at(el, "/text"))
                    )),
                    None => out.push_str(&esc(str_at(el, "/text"))),
                },
                "img" => out.push_str("[image]"),
                _ => out.push_str(&esc_lines(str_at(el, "/text"))),
            }
        }
        out.push_str("</p>");
    }
    out.push_str("</div>");
    out
}

fn card(card: &Value) -> String {
    if str_at(card, "/type") == "template" {
        return format!(
            "<div class=\"lark-card\"><div class=\"body\">[template card {}]</div></div>",
            esc(str_at(card, "/data/template_id"))
        );
    }
    let template = str_at(card, "/header/template");
    let template = if TEMPLATES.contains(&template) {
        template
    } else {
        "default"
    };
    let mut out = String::from("<div class=\"lark-card\">");
    let title = str_at(card, "/header/title/content");
    if !title.is_empty() {
        out.push_str(&format!(
            "<div class=\"lark-header t-{template}\">{}</div>",
            esc(title)
        ));
    }
    out.push_str("<div class=\"body\">");
    let elements = card
        .pointer("/body/elements")
        .or_else(|| card.get("elements"));
    for el in elements.and_then(Value::as_array).into_iter().flatten() {
        out.push_str(&element(el));
    }
    out.push_str("</div></div>");
    out
}

/// A text object: `plain_text` as is, `lark_md` with its markup.
fn text_obj(t: &Value) -> String {
    let content = str_at(t, "/content");
    match str_at(t, "/tag") {
        "lark_md" | "markdown" => markdown(content, Flavor::Lark, &[]),
        _ => esc_lines(content),
    }
}

fn element(el: &Value) -> String {
    match str_at(el, "/tag") {
        "div" => {
            let mut out = String::from("<div class=\"el\">");
            if let Some(t) = el.get("text") {
                out.push_str(&text_obj(t));
            }
            let fields = el.get("fields").and_then(Value::as_array);
            if let Some(fields) = fields.filter(|f| !f.is_empty()) {
                out.push_str("<div class=\"fields\">");
                for f in fields {
                    let short = f.get("is_short").and_then(Value::as_bool).unwrap_or(false);
                    let class = if short { "field short" } else { "field" };
                    let t = f.get("text").unwrap_or(&Value::Null);
                    out.push_str(&format!("<div class=\"{class}\">{}</div>", text_obj(t)));
                }
                out.push_str("</div>");
            }
            out.push_str("</div>");
            out
        }
        "markdown" => format!(
            "<div class=\"el\">{}</div>",
            markdown(str_at(el, "/content"), Flavor::Lark, &[])
        ),
        "plain_text" | "lark_md" => format!("<div class=\"el\">{}</div>", text_obj(el)),
        "hr" => "<hr>".into(),
        "note" => {
            let parts: Vec<String> = el
                .get("elements")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(text_obj)
                .collect();
            format!("<div class=\"note\">{}</div>", parts.join(" "))
        }
        "action" => {
            let buttons: String = el
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(button)
                .collect();
            format!("<div class=\"actions\">{buttons}</div>")
        }
        "button" => format!("<div class=\"actions\">{}</div>", button(el)),
        "column_set" => {
            let cols: String = el
                .get("columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    let inner: String = c
                        .get("elements")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(element)
                        .collect();
                    format!("<div class=\"col\">{inner}</div>")
                })
                .collect();
            format!("<div class=\"columns\">{cols}</div>")
        }
        "img" => "<div class=\"el\">[image]</div>".into(),
        _ => String::new(),
    }
}

fn button(b: &Value) -> String {
    let label = text_obj(b.get("text").unwrap_or(&Value::Null));
    let url = match str_at(b, "/url") {
        "" => str_at(b, "/multi_url/url"),
        u => u,
    };
    let kind = match str_at(b, "/type") {
        "primary" => "primary",
        "danger" => "danger",
        _ => "default",
    };
    match safe_href(url) {
        Some(h) => format!(
            "<a class=\"button {kind}\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{label}</a>"
        ),
        None => format!("<span class=\"button {kind}\">{label}</span>"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_card_has_its_header_colour_fields_and_button() {
        let body = json!({"msg_type":"interactive","card":{
            "header":{"title":{"tag":"plain_text","content":"[FIRING] <b>Disk</b>"},"template":"red"},
            "elements":[
                {"tag":"div","text":{"tag":"lark_md","content":"**host** <img src=x onerror=alert(1)>"}},
                {"tag":"div","fields":[{"is_short":true,"text":{"tag":"plain_text","content":"ip: 10.0.0.1"}}]},
                {"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"View"},"url":"https://t.example/e/1","type":"default"}]},
                {"tag":"hr"},
                {"tag":"note","elements":[{"tag":"plain_text","content":"Tocsin"}]}]}});
        let html = super::render(&body);
        assert_eq!(
            html,
            "<div class=\"lark-card\"><div class=\"lark-header t-red\">[FIRING] &lt;b&gt;Disk&lt;/b&gt;</div><div class=\"body\">\
             <div class=\"el\"><p><strong>host</strong> &lt;img src=x onerror=alert(1)&gt;</p></div>\
             <div class=\"el\"><div class=\"fields\"><div class=\"field short\">ip: 10.0.0.1</div></div></div>\
             <div class=\"actions\"><a class=\"button default\" href=\"https://t.example/e/1\" target=\"_blank\" rel=\"noopener noreferrer\">View</a></div>\
             <hr><div class=\"note\">Tocsin</div></div></div>"
        );
        // An unknown template colour falls back to the default header.
        let odd = json!({"msg_type":"interactive","card":{"header":{"title":{"content":"x"},"template":"\" onmouseover=\"a"}}});
        assert!(super::render(&odd).contains("t-default"));
    }

    #[test]
    fn text_and_post() {
        let t =
            json!({"msg_type":"text","content":{"text":"alert <at user_id=\"all\"></at>\nline2"}});
        assert_eq!(
            super::render(&t),
            "<div class=\"lark-text\">alert <span class=\"mention\">@all</span><br>line2</div>"
        );
        let p = json!({"msg_type":"post","content":{"post":{"zh_cn":{"title":"T","content":[[
            {"tag":"text","text":"on "},{"tag":"a","text":"node","href":"javascript:x"},{"tag":"at","user_id":"ou1","user_name":"Li"}]]}}}});
        assert_eq!(
            super::render(&p),
            "<div class=\"lark-post\"><div class=\"title\">T</div><p>on node<span class=\"mention\">@Li</span></p></div>"
        );
    }
}
