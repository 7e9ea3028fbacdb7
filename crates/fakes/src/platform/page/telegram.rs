//! A Telegram message as the client shows it: the HTML style's bold,
//! italic, underline, strike, code, pre, quote and spoiler, links (`http(s)`
//! only) and `tg://user` mentions highlighted; everything else as text.

use super::markup::{esc_lines, safe_href};
use crate::telegram::{Piece, pieces};
use serde_json::Value;

pub(crate) fn render(body: &Value) -> String {
    let mut out = String::from("<div class=\"telegram-msg\">");
    let mut closers: Vec<&'static str> = Vec::new();
    for p in pieces(body) {
        match p {
            Piece::Text(t) => out.push_str(&esc_lines(&t)),
            Piece::Open(name, href) => {
                let (open, close) = match name.as_str() {
                    "b" | "strong" => ("<b>".to_string(), "</b>"),
                    "i" | "em" => ("<i>".to_string(), "</i>"),
                    "u" | "ins" => ("<u>".to_string(), "</u>"),
                    "s" | "strike" | "del" => ("<s>".to_string(), "</s>"),
                    "code" => ("<code>".to_string(), "</code>"),
                    "pre" => ("<pre>".to_string(), "</pre>"),
                    "blockquote" => ("<blockquote>".to_string(), "</blockquote>"),
                    "tg-spoiler" => ("<span class=\"spoiler\">".to_string(), "</span>"),
                    "a" => match href.as_deref() {
                        Some(h) if h.starts_with("tg://user?id=") => {
                            ("<span class=\"mention\">".to_string(), "</span>")
                        }
                        Some(h) => match safe_href(h) {
                            Some(h) => (
                                format!(
                                    "<a href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">"
                                ),
                                "</a>",
                            ),
                            None => (String::new(), ""),
                        },
                        None => (String::new(), ""),
                    },
                    _ => (String::new(), ""),
                };
                out.push_str(&open);
                closers.push(close);
            }
            Piece::Close(_) => out.push_str(closers.pop().unwrap_or("")),
        }
    }
    while let Some(c) = closers.pop() {
        out.push_str(c);
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_tags_and_escapes_text() {
        let body = json!({"parse_mode": "HTML", "text":
            "<b>x &lt;script&gt;</b>\n<a href=\"javascript:alert(1)\">j</a> <a href=\"tg://user?id=1\">Al</a>"});
        assert_eq!(
            render(&body),
            "<div class=\"telegram-msg\"><b>x &lt;script&gt;</b><br>j <span class=\"mention\">Al</span></div>"
        );
    }
}
