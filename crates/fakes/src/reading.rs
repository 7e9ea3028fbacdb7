//! What a group member's client makes of a message beyond its text: which
//! links are clickable and who gets notified, as each platform parses its
//! markup (channels.md): markdown links `[text](url)` and autolinks `<url>`,
//! bare URLs (every platform links them in text), Slack's `<url|text>`,
//! `<@U…>` and `<!channel>`, Lark's `<at id=…>`, WeCom's `<@id>`, DingTalk's
//! `at` object, and the buttons' URLs. Tests use it to show that event
//! content built neither.

use crate::platform::{Platform, str_at};
use serde_json::Value;

/// The links a reader could click, in order of appearance.
pub fn links(platform: Platform, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match platform {
        Platform::Lark => {
            let mut texts = Vec::new();
            tagged_texts(body, &mut texts);
            for (tag, text) in texts {
                if tag == "lark_md" {
                    markdown_links(text, &mut out);
                }
                bare_urls(text, &mut out);
            }
            if str_at(body, "/msg_type") == "text" {
                bare_urls(str_at(body, "/content/text"), &mut out);
            }
            url_fields(body, &mut out);
        }
        Platform::WeCom => {
            let md = str_at(body, "/markdown/content");
            markdown_links(md, &mut out);
            bare_urls(md, &mut out);
            bare_urls(str_at(body, "/text/content"), &mut out);
            url_fields(body, &mut out);
        }
        Platform::DingTalk => {
            let md = str_at(body, "/markdown/text");
            markdown_links(md, &mut out);
            bare_urls(md, &mut out);
            bare_urls(str_at(body, "/text/content"), &mut out);
            url_fields(body, &mut out);
        }
        Platform::Slack => {
            let mut objects = Vec::new();
            slack_text_objects(body, &mut objects);
            for (kind, text, verbatim) in objects {
                if kind == "mrkdwn" {
                    slack_links(text, &mut out);
                    if !verbatim {
                        bare_urls(text, &mut out);
                    }
                }
            }
            // The fallback `text` is parsed like mrkdwn without `verbatim`.
            let fallback = str_at(body, "/text");
            slack_links(fallback, &mut out);
            bare_urls(fallback, &mut out);
            url_fields(body, &mut out);
        }
        Platform::Discord => {
            // Masked links `[text](url)` in content, descriptions and field
            // values; autolinks `<url>` and bare URLs in every text; the
            // embed's `url` (its title links there). Escaped characters
            // (`\[`) open nothing.
            for (masked, text) in crate::discord::texts(body) {
                let text = crate::discord::inert_escapes(text);
                if masked {
                    markdown_links(&text, &mut out);
                } else {
                    for inner in between(&text, "<", ">") {
                        if inner.contains("://") && !inner.contains(char::is_whitespace) {
                            out.push(inner.to_string());
                        }
                    }
                }
                bare_urls(&text, &mut out);
            }
            url_fields(body, &mut out);
        }
        Platform::Teams => {
            // The card's markdown subset: `[text](url)` and bare URLs in
            // every TextBlock and fact; the actions' `url`s.
            for text in crate::teams::texts(body) {
                markdown_links(text, &mut out);
                bare_urls(text, &mut out);
            }
            url_fields(body, &mut out);
        }
        Platform::Telegram => {
            // `<a href>` links, then what Telegram auto-links in the
            // visible text.
            out.extend(crate::telegram::hrefs(body));
            let text = crate::telegram::render(body);
            bare_urls(&text, &mut out);
        }
        Platform::PagerDuty => {
            // `links[].href`, `client_url`, and what the web app links in
            // the summary and the custom details' text.
            out.extend(crate::pagerduty::hrefs(body));
            let mut texts = Vec::new();
            if let Some(p) = body.get("payload") {
                crate::platform::strings(p, &|_| false, &mut texts);
            }
            for t in texts {
                bare_urls(t, &mut out);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|l| seen.insert(l.clone()));
    out
}

/// Who the message notifies: user ids, mobiles, `all`, Slack's `channel`,
/// `here`, `everyone` and `subteam^…`.
pub fn mentions(platform: Platform, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match platform {
        Platform::Lark => {
            let mut texts = Vec::new();
            tagged_texts(body, &mut texts);
            for (tag, text) in texts {
                if tag == "lark_md" {
                    lark_ats(text, &mut out);
                }
            }
            if str_at(body, "/msg_type") == "text" {
                lark_ats(str_at(body, "/content/text"), &mut out);
            }
        }
        Platform::WeCom => {
            for text in [
                str_at(body, "/markdown/content"),
                str_at(body, "/text/content"),
            ] {
                for inner in between(text, "<@", ">") {
                    out.push(inner.to_string());
                }
            }
            for list in ["/text/mentioned_list", "/text/mentioned_mobile_list"] {
                for v in body
                    .pointer(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(v.as_str().unwrap_or("").trim_start_matches('@').to_string());
                }
            }
        }
        Platform::DingTalk => {
            let msgtype = str_at(body, "/msgtype");
            let text = match msgtype {
                "text" => str_at(body, "/text/content"),
                _ => body
                    .pointer(&format!("/{msgtype}/text"))
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            };
            for list in ["/at/atMobiles", "/at/atUserIds"] {
                for v in body
                    .pointer(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let id = v.as_str().unwrap_or("");
                    // A mention shows only when the text also says `@id`.
                    if !id.is_empty() && text.contains(&format!("@{id}")) {
                        out.push(id.to_string());
                    }
                }
            }
            if body.pointer("/at/isAtAll") == Some(&Value::Bool(true)) {
                out.push("all".into());
            }
        }
        Platform::Slack => {
            let mut objects = Vec::new();
            slack_text_objects(body, &mut objects);
            let fallback = str_at(body, "/text");
            for (kind, text, verbatim) in objects.into_iter().chain([("mrkdwn", fallback, true)]) {
                if kind != "mrkdwn" {
                    continue;
                }
                for inner in between(text, "<", ">") {
                    let target = inner.split('|').next().unwrap_or("");
                    if let Some(id) = target.strip_prefix('@') {
                        out.push(id.to_string());
                    } else if let Some(special) = target.strip_prefix('!') {
                        out.push(special.to_string());
                    }
                }
                if !verbatim {
                    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '@')) {
                        if let Some(w @ ("channel" | "here" | "everyone")) = word.strip_prefix('@')
                        {
                            out.push(w.to_string());
                        }
                    }
                }
            }
        }
        Platform::Discord => {
            // Everything that shows as a mention, pinging or not (embeds
            // never ping; `discord::pings` says who is notified).
            for (_, text) in crate::discord::texts(body) {
                out.extend(discord_mentions(&crate::discord::inert_escapes(text)));
            }
        }
        Platform::Teams => {
            // `<at>name</at>` is a mention only when the card's
            // `msteams.entities` names it; otherwise Teams shows the text.
            let shown = crate::teams::texts(body).join("\n");
            for card in crate::teams::cards(body) {
                for (text, id, _) in crate::teams::entities(card) {
                    if !text.is_empty() && shown.contains(text) {
                        out.push(id.to_string());
                    }
                }
            }
        }
        Platform::Telegram => out.extend(crate::telegram::notified(body)),
        // An incident notifies the service's on-call people, never anyone
        // its text names.
        Platform::PagerDuty => {}
    }
    out
}

/// Discord's `<@id>`, `<@!id>` (users), `<@&id>` (roles, as `&id`),
/// `@everyone` and `@here`, in order.
pub(crate) fn discord_mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(n) = text[i..].find('@') {
        let at = i + n;
        let after = &text[at + 1..];
        if at > 0 && text[..at].ends_with('<') {
            let (prefix, rest) = if let Some(r) = after.strip_prefix('!') {
                ("", r)
            } else if let Some(r) = after.strip_prefix('&') {
                ("&", r)
            } else {
                ("", after)
            };
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && rest[digits..].starts_with('>') {
                out.push(format!("{prefix}{}", &rest[..digits]));
            }
        }
        for w in ["everyone", "here"] {
            if after.starts_with(w)
                && !after[w.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric())
            {
                out.push(w.to_string());
            }
        }
        i = at + 1;
    }
    out
}

/// The pieces of `text` between each `open` and the next `close`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + close.len()..];
            }
            None => break,
        }
    }
    out
}

/// `[text](url)` targets and `<scheme:…>` autolinks.
fn markdown_links(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| c == ')' || c.is_whitespace())
            .unwrap_or(after.len());
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    for inner in between(text, "<", ">") {
        if inner.contains("://") && !inner.contains(char::is_whitespace) {
            out.push(inner.to_string());
        }
    }
}

/// Slack's `<url>` and `<url|text>` (not `<@…>`, `<!…>`, `<#…>`).
fn slack_links(text: &str, out: &mut Vec<String>) {
    for inner in between(text, "<", ">") {
        let target = inner.split('|').next().unwrap_or("");
        if !target.is_empty() && !target.starts_with(['@', '!', '#']) {
            out.push(target.to_string());
        }
    }
}

/// URLs a client links on its own: `http://`, `https://`, `ftp://` and
/// `www.` at the start of a word, up to a space or a bracket.
fn bare_urls(text: &str, out: &mut Vec<String>) {
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    while i < text.len() {
        let at_word = i == 0
            || !text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric());
        let rest = &lower[i..];
        let matched = at_word
            && ["http://", "https://", "ftp://", "www."]
                .iter()
                .any(|p| rest.starts_with(p));
        if matched {
            let end = text[i..]
                .find(|c: char| c.is_whitespace() || "<>\"'()[]|\u{FFFC}".contains(c))
                .map_or(text.len(), |n| i + n);
            let url = &text[i..end];
            // `www.` must be followed by a host, and a scheme by something.
            if url.len() > 7 && !url.ends_with("://") {
                out.push(url.to_string());
            }
            i = end.max(i + 1);
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// Lark's `<at id=…>`, `<at id="…">` and `<at user_id="…">`.
fn lark_ats(text: &str, out: &mut Vec<String>) {
    for inner in between(text, "<at ", ">") {
        for attr in ["id=", "user_id="] {
            if let Some(v) = inner.split_whitespace().find_map(|a| a.strip_prefix(attr)) {
                out.push(v.trim_matches('"').to_string());
            }
        }
    }
}

/// Every string value whose key names a link target.
fn url_fields(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| url_fields(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                let key = k.to_ascii_lowercase();
                match x {
                    Value::String(s) if key.ends_with("url") || key == "href" => {
                        out.push(s.clone());
                    }
                    _ => url_fields(x, out),
                }
            }
        }
        _ => {}
    }
}

/// Lark: `(tag, content)` of every text object (`plain_text`, `lark_md`).
fn tagged_texts<'a>(v: &'a Value, out: &mut Vec<(&'a str, &'a str)>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| tagged_texts(x, out)),
        Value::Object(o) => {
            if let (Some(Value::String(tag)), Some(Value::String(content))) =
                (o.get("tag"), o.get("content"))
            {
                out.push((tag, content));
            }
            o.values().for_each(|x| tagged_texts(x, out));
        }
        _ => {}
    }
}

/// Slack: `(type, text, verbatim)` of every text object in the blocks.
fn slack_text_objects<'a>(v: &'a Value, out: &mut Vec<(&'a str, &'a str, bool)>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| slack_text_objects(x, out)),
        Value::Object(o) => {
            if let (Some(Value::String(kind)), Some(Value::String(text))) =
                (o.get("type"), o.get("text"))
            {
                let verbatim = o.get("verbatim") == Some(&Value::Bool(true));
                out.push((kind, text, verbatim));
            }
            for (k, x) in o {
                if k != "text" || !x.is_string() {
                    slack_text_objects(x, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markdown_links_autolinks_and_bare_urls() {
        let body = json!({"msgtype": "markdown", "markdown": {"content":
            "[a](http://x.y/1) <https://x.y/2> see http://x.y/3, www.x.y/4 hxxp://x[.]y ]（http://z"}});
        assert_eq!(
            links(Platform::WeCom, &body),
            [
                "http://x.y/1",
                "https://x.y/2",
                "http://x.y/3,",
                "www.x.y/4",
                "http://z"
            ]
        );
    }

    #[test]
    fn slack_links_and_mentions_depend_on_verbatim() {
        let body = json!({"text": "t", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "<http://a.b|x> @here <@U1> <!channel> http://c.d"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "@everyone http://e.f &lt;@U2&gt;", "verbatim": true}},
        ]});
        assert_eq!(links(Platform::Slack, &body), ["http://a.b", "http://c.d"]);
        assert_eq!(mentions(Platform::Slack, &body), ["U1", "channel", "here"]);
    }

    #[test]
    fn discord_links_and_mentions_skip_escapes() {
        let body = json!({"content": "<@1> <@!2> <@&3> @everyone", "embeds": [{
            "title": "t", "url": "https://ours.example/e",
            "description": "[a](http://a.b) \\[x\\]\\(http://c.d\\) \\<@4> @\u{200D}here <http://e.f>",
            "fields": [{"name": "n", "value": "www.g.hi"}]}]});
        assert_eq!(
            links(Platform::Discord, &body),
            [
                "http://a.b",
                "http://e.f",
                "http://c.d",
                "www.g.hi",
                "https://ours.example/e"
            ]
        );
        assert_eq!(
            mentions(Platform::Discord, &body),
            ["1", "2", "&3", "everyone"]
        );
    }

    #[test]
    fn lark_mentions_only_in_lark_md() {
        let body = json!({"msg_type": "interactive", "card": {"elements": [
            {"tag": "div", "text": {"tag": "plain_text", "content": "<at id=all></at>"}},
            {"tag": "div", "text": {"tag": "lark_md", "content": "<at id=ou_1></at> <at user_id=\"all\">x</at>"}},
        ]}});
        assert_eq!(mentions(Platform::Lark, &body), ["ou_1", "all"]);
    }

    #[test]
    fn dingtalk_mentions_need_the_text_too() {
        let body = json!({"msgtype": "markdown", "markdown": {"title": "t", "text": "hi @138"},
            "at": {"atMobiles": ["138", "139"], "atUserIds": [], "isAtAll": false}});
        assert_eq!(mentions(Platform::DingTalk, &body), ["138"]);
    }
}
