//! The small markup renderers the pages share: HTML escaping, a line-based
//! markdown (headings, quotes, lists) and the inline markup of each
//! platform. Every piece of message text goes through [`esc`]; the only tags
//! in the output are the ones written here, and links keep only `http(s)`
//! targets.

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with its line breaks kept.
pub(crate) fn esc_lines(s: &str) -> String {
    esc(s).replace('\n', "<br>")
}

/// Which platform's inline markup a text is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Lark `lark_md`: `**bold**`, `[t](url)`, `<at id=..></at>`, `<font color=..>`.
    Lark,
    /// WeCom markdown: `**bold**`, `[t](url)`, `<font color="info|warning|comment">`, `<@userid>`.
    WeCom,
    /// DingTalk markdown: `**bold**`, `[t](url)`, `@mobile` mentions.
    DingTalk,
    /// Slack mrkdwn: `*bold*`, `_italic_`, `<url|text>`, `<@U..>`, `<!here>`; `&lt;` entities.
    Slack,
    /// Discord markdown: `**bold**`, `[t](url)` (embeds only), `<@id>`
    /// mentions, `\*` a literal `*`.
    Discord,
}

/// A `http(s)` link target, escaped for an attribute; `None` for any other scheme.
pub(crate) fn safe_href(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| esc(u))
}

fn link(href: &str, inner_html: String) -> String {
    match safe_href(href) {
        Some(h) => format!(
            "<a href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{inner_html}</a>"
        ),
        None => inner_html,
    }
}

/// A block of markdown: `#` headings, `>` quotes, `-`/`*`/`1.` lists, blank
/// lines between paragraphs; each line's inline markup per `flavor`.
/// `mentions` are the names an `@name` in the text notifies (DingTalk).
pub(crate) fn markdown(text: &str, flavor: Flavor, mentions: &[String]) -> String {
    let mut out = String::new();
    let mut list: Option<&str> = None;
    let close = |out: &mut String, list: &mut Option<&str>| {
        if let Some(tag) = list.take() {
            out.push_str(&format!("</{tag}>"));
        }
    };
    for line in text.lines() {
        let t = line.trim_start();
        let item = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* ").filter(|_| flavor != Flavor::Slack))
            .map(|rest| ("ul", rest))
            .or_else(|| {
                let digits = t.bytes().take_while(u8::is_ascii_digit).count();
                (digits > 0)
                    .then(|| t[digits..].strip_prefix(". "))
                    .flatten()
                    .map(|rest| ("ol", rest))
            });
        if let Some((tag, rest)) = item {
            if list != Some(tag) {
                close(&mut out, &mut list);
                out.push_str(&format!("<{tag}>"));
                list = Some(tag);
            }
            out.push_str(&format!("<li>{}</li>", inline(rest, flavor, mentions)));
            continue;
        }
        close(&mut out, &mut list);
        if t.is_empty() {
            out.push_str("<div class=\"gap\"></div>");
            continue;
        }
        let hashes = t.bytes().take_while(|b| *b == b'#').count();
        if flavor != Flavor::Slack && (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            out.push_str(&format!(
                "<h{hashes}>{}</h{hashes}>",
                inline(t[hashes..].trim(), flavor, mentions)
            ));
        } else if let Some(q) = t.strip_prefix('>').or_else(|| t.strip_prefix("&gt;")) {
            out.push_str(&format!(
                "<blockquote>{}</blockquote>",
                inline(q.trim_start(), flavor, mentions)
            ));
        } else if flavor != Flavor::Slack && (t == "---" || t == "***") {
            out.push_str("<hr>");
        } else {
            out.push_str(&format!("<p>{}</p>", inline(line, flavor, mentions)));
        }
    }
    close(&mut out, &mut list);
    out
}

/// The inline markup of one line.
pub(crate) fn inline(s: &str, flavor: Flavor, mentions: &[String]) -> String {
    let mut out = String::new();
    let mut text = String::new();
    let mut i = 0;
    let flush = |out: &mut String, text: &mut String| {
        if !text.is_empty() {
            let t = if flavor == Flavor::Slack {
                slack_unentity(text)
            } else {
                std::mem::take(text)
            };
            out.push_str(&esc(&t));
            text.clear();
        }
    };
    while i < s.len() {
        let rest = &s[i..];
        if let Some((html, used)) = token(rest, flavor, mentions) {
            flush(&mut out, &mut text);
            out.push_str(&html);
            i += used;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        text.push(c);
        i += c.len_utf8();
    }
    flush(&mut out, &mut text);
    out
}

/// One markup token at the start of `s`: its HTML and how many bytes it used.
fn token(s: &str, flavor: Flavor, mentions: &[String]) -> Option<(String, usize)> {
    let md = flavor != Flavor::Slack;
    // Discord: a backslash makes the next character plain text.
    if flavor == Flavor::Discord
        && let Some(rest) = s.strip_prefix('\\')
        && let Some(c) = rest.chars().next()
        && c.is_ascii_punctuation()
    {
        return Some((esc(&c.to_string()), 1 + c.len_utf8()));
    }
    if md && let Some(inner) = between(s, "**", "**") {
        let html = format!("<strong>{}</strong>", inline(inner, flavor, mentions));
        return Some((html, inner.len() + 4));
    }
    if md && s.starts_with('[') {
        let close = s.find("](")?;
        let end = s[close..].find(')')? + close;
        let (label, url) = (&s[1..close], &s[close + 2..end]);
        return Some((link(url, inline(label, flavor, mentions)), end + 1));
    }
    match flavor {
        Flavor::Slack => slack_token(s, mentions),
        Flavor::WeCom | Flavor::Lark => {
            if let Some(r) = font(s, flavor, mentions) {
                return Some(r);
            }
            if flavor == Flavor::WeCom
                && let Some(inner) = between(s, "<@", ">")
                && !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-.@".contains(c))
            {
                return Some((mention(inner), inner.len() + 3));
            }
            if flavor == Flavor::Lark && s.starts_with("<at ") {
                let open_end = s.find('>')?;
                let close = s.find("</at>")?;
                if close < open_end {
                    return None;
                }
                let attrs = &s[4..open_end];
                let name = &s[open_end + 1..close];
                let id = attr(attrs, "user_id")
                    .or_else(|| attr(attrs, "id"))
                    .or_else(|| attr(attrs, "email"))
                    .unwrap_or_default();
                let shown = match (name.is_empty(), id.as_str()) {
                    (false, _) => name.to_string(),
                    (true, "all") => "all".to_string(),
                    (true, id) => id.to_string(),
                };
                return Some((mention(&shown), close + 5));
            }
            None
        }
        Flavor::Discord => {
            let id = between(s, "<@", ">")?;
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (mention(id), id.len() + 3))
        }
        Flavor::DingTalk => {
            let rest = s.strip_prefix('@')?;
            mentions
                .iter()
                .filter(|m| !m.is_empty() && rest.starts_with(m.as_str()))
                .max_by_key(|m| m.len())
                .map(|m| (mention(m), m.len() + 1))
        }
    }
}

fn mention(name: &str) -> String {
    format!("<span class=\"mention\">@{}</span>", esc(name))
}

/// `s` starts with `open` and holds `close` later: the text between.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(open)?;
    let end = rest.find(close)?;
    Some(&rest[..end])
}

/// An attribute's value in `k=v`, `k="v"` or `k='v'` form.
fn attr(attrs: &str, key: &str) -> Option<String> {
    let at = attrs.find(&format!("{key}="))?;
    let v = &attrs[at + key.len() + 1..];
    let v = v.trim_start();
    let (quote, v) = match v.chars().next()? {
        q @ ('"' | '\'') => (Some(q), &v[1..]),
        _ => (None, v),
    };
    let end = match quote {
        Some(q) => v.find(q)?,
        None => v.find(|c: char| c.is_whitespace()).unwrap_or(v.len()),
    };
    Some(v[..end].to_string())
}

/// `<font color="...">text</font>`: WeCom's three colours, Lark's named ones.
fn font(s: &str, flavor: Flavor, mentions: &[String]) -> Option<(String, usize)> {
    if !s.starts_with("<font ") {
        return None;
    }
    let open_end = s.find('>')?;
    let close = s.find("</font>")?;
    if close < open_end {
        return None;
    }
    let color = attr(&s[6..open_end], "color")?;
    let allowed: &[&str] = match flavor {
        Flavor::WeCom => &["info", "warning", "comment"],
        _ => &[
            "red", "green", "grey", "gray", "orange", "blue", "yellow", "purple",
        ],
    };
    if !allowed.contains(&color.as_str()) {
        return None;
    }
    let inner = inline(&s[open_end + 1..close], flavor, mentions);
    Some((
        format!("<span class=\"c-{color}\">{inner}</span>"),
        close + "</font>".len(),
    ))
}

/// Slack's `<...>` controls and `*bold*`, `_italic_`, `~strike~`, `` `code` ``.
/// The emoji a Slack `:shortcode:` shows: the ones Tocsin uses, else the
/// shortcode itself (plain text: its underscores are not italics).
fn slack_emoji(s: &str) -> Option<(String, usize)> {
    let inner = between(s, ":", ":")?;
    if inner.is_empty()
        || !inner
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(&b))
    {
        return None;
    }
    let shown = match inner {
        "red_circle" => "\u{1F534}".to_string(),
        "large_orange_circle" => "\u{1F7E0}".to_string(),
        "large_blue_circle" => "\u{1F535}".to_string(),
        "large_green_circle" => "\u{1F7E2}".to_string(),
        "white_check_mark" => "\u{2705}".to_string(),
        "warning" => "\u{26A0}\u{FE0F}".to_string(),
        other => esc(&format!(":{other}:")),
    };
    Some((shown, inner.len() + 2))
}

fn slack_token(s: &str, _mentions: &[String]) -> Option<(String, usize)> {
    if let Some(emoji) = slack_emoji(s) {
        return Some(emoji);
    }
    if let Some(inner) = between(s, "<", ">") {
        let used = inner.len() + 2;
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        if let Some(id) = target.strip_prefix('@') {
            return Some((mention(label.unwrap_or(id)), used));
        }
        if let Some(cmd) = target.strip_prefix('!') {
            return Some((mention(label.unwrap_or(cmd)), used));
        }
        if let Some(ch) = target.strip_prefix('#') {
            return Some((
                format!(
                    "<span class=\"mention\">#{}</span>",
                    esc(label.unwrap_or(ch))
                ),
                used,
            ));
        }
        let shown = esc(&slack_unentity(label.unwrap_or(target)));
        return safe_href(target).map(|_| (link(target, shown), used));
    }
    for (mark, tag) in [('*', "strong"), ('_', "em"), ('~', "del"), ('`', "code")] {
        if let Some(rest) = s.strip_prefix(mark)
            && let Some(end) = rest.find(mark)
            && end > 0
            && !rest.starts_with(' ')
        {
            let inner = &rest[..end];
            let html = if tag == "code" {
                esc(&slack_unentity(inner))
            } else {
                inline(inner, Flavor::Slack, &[])
            };
            return Some((format!("<{tag}>{html}</{tag}>"), end + 2));
        }
    }
    None
}

/// Slack sends `&`, `<` and `>` in text as entities.
fn slack_unentity(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_shortcodes_are_emoji_not_italics() {
        assert_eq!(
            inline(
                ":large_orange_circle: Tocsin :no_such_emoji: _it_",
                Flavor::Slack,
                &[]
            ),
            "\u{1F7E0} Tocsin :no_such_emoji: <em>it</em>"
        );
    }

    #[test]
    fn markup_is_rendered_and_content_escaped() {
        assert_eq!(
            inline("**CPU** <script>alert(1)</script>", Flavor::WeCom, &[]),
            "<strong>CPU</strong> &lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            inline(
                "<font color=\"warning\">95%</font> <@zhangsan> [x](javascript:void)",
                Flavor::WeCom,
                &[]
            ),
            "<span class=\"c-warning\">95%</span> <span class=\"mention\">@zhangsan</span> x"
        );
        assert_eq!(
            inline(
                "<font color=\"x\" onclick=\"a\">t</font>",
                Flavor::WeCom,
                &[]
            ),
            "&lt;font color=&quot;x&quot; onclick=&quot;a&quot;&gt;t&lt;/font&gt;"
        );
        assert_eq!(
            inline("[view](https://h/e?a=1&b=\"2\")", Flavor::DingTalk, &[]),
            "<a href=\"https://h/e?a=1&amp;b=&quot;2&quot;\" target=\"_blank\" rel=\"noopener noreferrer\">view</a>"
        );
        assert_eq!(
            inline(
                "*bold* &lt;img onerror=x&gt; <https://h|open> <@U1>",
                Flavor::Slack,
                &[]
            ),
            "<strong>bold</strong> &lt;img onerror=x&gt; <a href=\"https://h\" target=\"_blank\" rel=\"noopener noreferrer\">open</a> <span class=\"mention\">@U1</span>"
        );
        assert_eq!(
            inline(
                "call @13800000000 now",
                Flavor::DingTalk,
                &["13800000000".into()]
            ),
            "call <span class=\"mention\">@13800000000</span> now"
        );
        assert_eq!(
            inline(
                "<at id=all></at> <at user_id=\"ou_1\">Li</at>",
                Flavor::Lark,
                &[]
            ),
            "<span class=\"mention\">@all</span> <span class=\"mention\">@Li</span>"
        );
    }

    #[test]
    fn markdown_blocks() {
        assert_eq!(
            markdown(
                "#### Disk\n> 95% on db-1\n- a\n- **b**\n\ntext",
                Flavor::DingTalk,
                &[]
            ),
            "<h4>Disk</h4><blockquote>95% on db-1</blockquote><ul><li>a</li><li><strong>b</strong></li></ul><div class=\"gap\"></div><p>text</p>"
        );
    }
}
