//! Neutralizing chat markup in untrusted text. The Chinese platforms have no
//! escape sequence for their markdown, so markup characters are swapped for
//! full-width look-alikes: the text still reads the same, but cannot open a
//! tag (`<at id=all>`, `<@userid>`, `<font>`), a link, emphasis or a heading.
//!
//! On every platform, event text also loses its bidirectional controls
//! (they reorder what the reader sees) and its URLs are defanged
//! (`http://evil.example/x` → `hxxp://evil[.]example/x`): readable and
//! copyable, but neither clickable nor auto-linked.

/// Characters that reorder the display of text around them: the embedding,
/// override and isolate controls, and the implicit marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Stands for a defanged dot while the look-alike swaps run (they never
/// touch it); becomes `[.]` at the end. Content's own private-use
/// characters of this value are shown as U+FFFD.
const DOT: char = '\u{E000}';

/// Characters a URL's authority (user, host, port) is made of.
fn authority_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '%' | ':' | '@' | '+' | '!')
}

/// Removes bidi controls and defangs URLs; defanged dots are [`DOT`].
fn inert(s: &str) -> String {
    let chars: Vec<char> = s
        .chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| if c == DOT { '\u{FFFD}' } else { c })
        .collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let starts_token = i == 0
            || !(chars[i - 1].is_ascii_alphanumeric() || matches!(chars[i - 1], '+' | '-' | '.'));
        if starts_token && chars[i].is_ascii_alphabetic() {
            // `scheme://` (RFC 3986 scheme characters), or `www.`.
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '+' | '-' | '.'))
            {
                j += 1;
            }
            let scheme: String = chars[i..j].iter().collect();
            let has_slashes = chars[j..].starts_with(&[':', '/', '/']);
            let www = chars.len() > i + 4
                && chars[i..i + 4]
                    .iter()
                    .collect::<String>()
                    .eq_ignore_ascii_case("www.");
            if has_slashes || www {
                let host_start = if has_slashes {
                    out.push_str(&defang_scheme(&scheme));
                    out.push_str("://");
                    j + 3
                } else {
                    i
                };
                let mut k = host_start;
                while k < chars.len() && authority_char(chars[k]) {
                    k += 1;
                }
                for (n, c) in chars[host_start..k].iter().enumerate() {
                    // A dot inside the authority, not one ending it (a
                    // sentence's full stop).
                    let inner = host_start + n + 1 < k;
                    out.push(if *c == '.' && inner { DOT } else { *c });
                }
                i = k.max(host_start);
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `http` → `hxxp`, `https` → `hxxps`, `ftp` → `fxp` (case kept), also at
/// the end of a longer scheme run (`xhttp`, `a.https`); other schemes stay
/// (their host is still defanged).
fn defang_scheme(scheme: &str) -> String {
    let lower = scheme.to_ascii_lowercase();
    // The byte range to turn into `x`s (scheme characters are ASCII).
    let range = if lower.ends_with("https") {
        Some(scheme.len() - 4..scheme.len() - 2)
    } else if lower.ends_with("http") {
        Some(scheme.len() - 3..scheme.len() - 1)
    } else if lower.ends_with("ftp") {
        Some(scheme.len() - 2..scheme.len() - 1)
    } else {
        None
    };
    let Some(range) = range else {
        return scheme.to_string();
    };
    scheme
        .char_indices()
        .map(
            |(n, c)| match (range.contains(&n), c.is_ascii_uppercase()) {
                (true, true) => 'X',
                (true, false) => 'x',
                _ => c,
            },
        )
        .collect()
}

/// Event text for places with no markup at all (Lark `plain_text`, WeCom
/// text messages, notification titles): bidi controls removed, URLs
/// defanged, line breaks folded into spaces (so a value cannot draw lines
/// of its own, like a fake "RESOLVED" line).
pub fn neutral(s: &str) -> String {
    inert(s)
        .chars()
        .map(|c| match c {
            DOT => "[.]".to_string(),
            '\n' | '\r' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// How far a value is neutralized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Context {
    /// In Tocsin's built-in layout, where a value is always followed by a
    /// line break or Tocsin's own text: `](` inside the value is broken.
    Layout,
    /// Printed by a template, next to anything: also `[` and `]`, and a
    /// leading `(` (the template may have written `]` just before), so no
    /// adjacent values can form `[text](url)` or a reference link.
    Template,
}

/// Swaps each `(from, to)` pair, breaks `](` (a link needs it), folds line
/// breaks into spaces (so nothing lands at the start of a line), removes
/// bidi controls and defangs URLs.
pub fn lookalikes(s: &str, swaps: &[(char, char)], context: Context) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len());
    let mut prev = if context == Context::Template {
        ']'
    } else {
        '\0'
    };
    for c in s.chars() {
        match c {
            '(' if prev == ']' => out.push('（'),
            '[' if context == Context::Template => out.push('［'),
            ']' if context == Context::Template => out.push('］'),
            '\n' | '\r' => out.push(' '),
            DOT => out.push_str("[.]"),
            c => match swaps.iter().find(|(from, _)| *from == c) {
                Some((_, to)) => out.push(*to),
                None => out.push(c),
            },
        }
        prev = c;
    }
    out
}

/// Slack `mrkdwn`: `&`, `<`, `>` as entities (so no `<@U…>`, `<!channel>`
/// or `<url|text>`), emphasis, strike-through, code and `@` swapped for
/// look-alikes, line breaks folded, and a leading `>` (a quote, also as
/// `&gt;`) swapped too. Bidi controls removed, URLs defanged.
pub fn slack(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len());
    let mut leading = true;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if leading => out.push('＞'),
            '>' => out.push_str("&gt;"),
            '*' => out.push('＊'),
            '_' => out.push('＿'),
            '~' => out.push('～'),
            '`' => out.push('｀'),
            '@' => out.push('＠'),
            '\n' | '\r' => out.push(' '),
            DOT => out.push_str("[.]"),
            c => out.push(c),
        }
        leading = leading && c.is_whitespace();
    }
    out
}

/// The zero-width joiner Discord text gets after every `@` from an event:
/// `@\u{200D}everyone` reads the same but is neither `@everyone`, `@here`
/// nor part of a `<@id>` / `<@&id>` mention.
pub const ZWJ: char = '\u{200D}';

/// Discord markdown (message content, embed titles, descriptions, field
/// names and values): each markdown character (`\ * _ ~ ` | > # - [ ] ( )`
/// and `<`) is escaped with a backslash, so no event text can
/// open emphasis, a heading, a quote, a spoiler, a list, a masked link
/// `[text](url)`, an autolink `<url>`, a mention `<@id>` / `<@&id>` / `<#id>`,
/// or a timestamp `<t:…>`; every `@` is followed by a zero-width
/// joiner ([`ZWJ`]), so `@everyone` and `@here` never even look like one.
/// Line breaks are folded into spaces, bidi controls removed, URLs
/// defanged. Discord hides the backslashes: the text reads as it came.
pub fn discord(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | '(' | ')' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            '\n' | '\r' => out.push(' '),
            DOT => out.push_str("\\[.\\]"),
            c => out.push(c),
        }
    }
    out
}

/// Discord text without markdown (embed footers, webhook usernames): no
/// escapes (they would show), but every `@` defanged as in [`discord`],
/// line breaks folded, bidi controls removed, URLs defanged.
pub fn discord_plain(s: &str) -> String {
    neutral(s)
        .chars()
        .flat_map(|c| if c == '@' { vec!['@', ZWJ] } else { vec![c] })
        .collect()
}

/// Teams Adaptive Card text (`TextBlock` text, `FactSet` titles and
/// values), which Teams reads as a markdown subset: `**bold**`, `_italic_`,
/// `[text](url)` links, `- ` / `1. ` lists, bare URLs auto-linked, and
/// `<at>name</at>` mentions (live when `msteams.entities` names them). The
/// subset has no escape sequence, so every markup character from an event
/// is swapped for a look-alike (`*` `_` `[` `]` `<` `>` `&` `#` `~` and
/// backticks), a leading list marker (`-`, `+`, `1.`) too; line breaks are
/// folded, bidi controls removed, URLs defanged. No event text can build a
/// link, a mention or emphasis; it still reads the same.
pub fn teams(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '*' => out.push('\u{2217}'),
            '_' => out.push('\u{FF3F}'),
            '[' => out.push('\u{FF3B}'),
            ']' => out.push('\u{FF3D}'),
            '<' => out.push('\u{FF1C}'),
            '>' => out.push('\u{FF1E}'),
            '&' => out.push('\u{FF06}'),
            '#' => out.push('\u{FF03}'),
            '~' => out.push('\u{FF5E}'),
            '`' => out.push('\u{FF40}'),
            '\\' => out.push('\u{FF3C}'),
            '\n' | '\r' => out.push(' '),
            DOT => out.push_str("[.]"),
            c => out.push(c),
        }
    }
    // A leading list marker: `- x`, `+ x`, `12. x`.
    let trimmed = out.trim_start();
    let lead = out.len() - trimmed.len();
    if trimmed.starts_with(['-', '+']) {
        let m = trimmed.chars().next().unwrap_or('-');
        let swap = if m == '-' { '\u{2010}' } else { '\u{FF0B}' };
        out.replace_range(lead..lead + 1, &swap.to_string());
    } else {
        let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && trimmed[digits..].starts_with(['.', ')']) {
            let at = lead + digits;
            let swap = if trimmed[digits..].starts_with('.') {
                "\u{FF0E}"
            } else {
                "\u{FF09}"
            };
            out.replace_range(at..at + 1, swap);
        }
    }
    out
}

/// Telegram's HTML parse mode (<https://core.telegram.org/bots/api#html-style>):
/// `&`, `<` and `>` become entities (the only characters its parser
/// reads, and `"` too so a value is also safe in an attribute), so no event
/// text can open a tag (`<a href>`, `<b>`, `<tg-spoiler>`, a
/// `tg://user?id=` mention). Telegram also links what looks like an
/// `@username` (which notifies that user in a group), so every `@` is
/// followed by a zero-width joiner ([`ZWJ`]): it reads the same and
/// mentions no one. Line breaks are folded into spaces, bidi controls
/// removed, URLs defanged (Telegram would auto-link them).
pub fn telegram(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            '\n' | '\r' => out.push(' '),
            DOT => out.push_str("[.]"),
            c => out.push(c),
        }
    }
    out
}

/// WeCom markdown.
pub const WECOM: &[(char, char)] = &[
    ('<', '＜'),
    ('>', '＞'),
    ('*', '＊'),
    ('`', '｀'),
    ('#', '＃'),
];

/// DingTalk markdown: also `@` (mentions), `!` (images) and `_`.
pub const DINGTALK: &[(char, char)] = &[
    ('<', '＜'),
    ('>', '＞'),
    ('*', '＊'),
    ('`', '｀'),
    ('#', '＃'),
    ('@', '＠'),
    ('!', '！'),
    ('_', '＿'),
];

/// Lark `lark_md`: also brackets, strike-through and entities.
pub const LARK: &[(char, char)] = &[
    ('<', '＜'),
    ('>', '＞'),
    ('[', '［'),
    (']', '］'),
    ('*', '＊'),
    ('~', '～'),
    ('`', '｀'),
    ('#', '＃'),
    ('&', '＆'),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_markup_survives() {
        let hostile = "<at id=all></at> <@all> [x](https://evil) **b** ~~s~~ `c` # h\n> q @13800000000 ![i](u) &lt;";
        for (table, banned) in [
            (
                WECOM,
                &["<", ">", "](", "*", "`", "#", "\n", "https://"][..],
            ),
            (DINGTALK, &["<", "@", "](", "!", "*", "\n"][..]),
            (LARK, &["<", "[", "*", "~", "&", "\n"][..]),
        ] {
            for context in [Context::Layout, Context::Template] {
                let e = lookalikes(hostile, table, context);
                for b in banned {
                    assert!(!e.contains(b), "{b} in {e}");
                }
            }
        }
    }

    #[test]
    fn adjacent_template_values_cannot_form_a_link() {
        let name = lookalikes("[Resolved - click here]", WECOM, Context::Template);
        let url = lookalikes("http://evil.example/login", WECOM, Context::Template);
        let out = format!("{name}({url})");
        assert_eq!(
            out,
            "［Resolved - click here］(hxxp://evil[.]example/login)"
        );
        // A value opening with `(` after the template's own `]`.
        assert_eq!(
            lookalikes("(http://x.y)", WECOM, Context::Template),
            "（hxxp://x[.]y)"
        );
        // In the built-in layout `[` stays readable.
        assert_eq!(
            lookalikes("[CRITICAL] a](b", WECOM, Context::Layout),
            "[CRITICAL] a]（b"
        );
    }

    #[test]
    fn urls_are_defanged_and_bidi_controls_removed() {
        for (raw, shown) in [
            (
                "see http://evil.example/login?a=b.c.",
                "see hxxp://evil[.]example/login?a=b.c.",
            ),
            ("HTTPS://Evil.Example", "HXXPS://Evil[.]Example"),
            ("ftp://10.0.0.1:21/x", "fxp://10[.]0[.]0[.]1:21/x"),
            ("go to www.evil.example.", "go to www[.]evil[.]example."),
            ("http://user@evil.example/", "hxxp://user@evil[.]example/"),
            ("javascript://x.y", "javascript://x[.]y"),
            ("a.http://x.y xhttps://x.y", "a.hxxp://x[.]y xhxxps://x[.]y"),
            ("nginx.conf 10.0.3.17 a.b", "nginx.conf 10.0.3.17 a.b"),
            ("fwww.x http:/x", "fwww.x http:/x"),
            ("a\u{202E}gpj.exe\u{2066}b\u{200F}\u{061C}", "agpj.exeb"),
            ("\u{E000}", "\u{FFFD}"),
        ] {
            assert_eq!(neutral(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn discord_text_cannot_mention_link_or_draw_lines() {
        assert_eq!(
            discord(
                "<@80351110224678912> <@&1> @everyone @here [ours](https://tocsin.example.com/x)"
            ),
            "\\<@\u{200D}80351110224678912\\> \\<@\u{200D}&1\\> @\u{200D}everyone @\u{200D}here \\[ours\\]\\(hxxps://tocsin\\[.\\]example\\[.\\]com/x\\)"
        );
        assert_eq!(
            discord("x\n> **RESOLVED** ~~by~~ `me` ||s|| # h - l \\"),
            "x \\> \\*\\*RESOLVED\\*\\* \\~\\~by\\~\\~ \\`me\\` \\|\\|s\\|\\| \\# h \\- l \\\\"
        );
        assert_eq!(discord_plain("a@b\nc"), "a@\u{200D}b c");
        // Whatever the input, no mention form and no link syntax survive.
        for hostile in ["@@everyone", "<<@1>>", "\\<@1>", "[a]\\(b)", "\\\\@here"] {
            let e = discord(hostile);
            assert!(!e.contains("@everyone") && !e.contains("@here"), "{e}");
            assert_eq!(
                e.matches('@').count(),
                e.matches("@\u{200D}").count(),
                "{e}"
            );
            // Every markdown character is preceded by an odd run of backslashes.
            let chars: Vec<char> = e.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                if "[]()<".contains(*c) {
                    let run = chars[..i].iter().rev().take_while(|b| **b == '\\').count();
                    assert!(run % 2 == 1, "{hostile:?} -> {e:?}");
                }
            }
        }
    }

    #[test]
    fn teams_text_cannot_mention_link_or_emphasize() {
        assert_eq!(
            teams("<at>Alice</at> **x** _y_ [ours](https://tocsin.example.com/x) a&amp;b"),
            "\u{FF1C}at\u{FF1E}Alice\u{FF1C}/at\u{FF1E} \u{2217}\u{2217}x\u{2217}\u{2217} \u{FF3F}y\u{FF3F} \u{FF3B}ours\u{FF3D}(hxxps://tocsin[.]example[.]com/x) a\u{FF06}amp;b"
        );
        assert_eq!(teams("- RESOLVED\n- by me"), "\u{2010} RESOLVED - by me");
        assert_eq!(teams("1. one"), "1\u{FF0E} one");
        assert_eq!(teams("  + two"), "  \u{FF0B} two");
        assert_eq!(teams("2026-11-29 10:00"), "2026-11-29 10:00");
        for hostile in ["<at>x</at>", "[a](b)", "**b**", "\\<at>", "&lt;at&gt;"] {
            let e = teams(hostile);
            assert!(
                !e.contains(['<', '>', '[', ']', '*', '&', '\\']),
                "{hostile:?} -> {e:?}"
            );
        }
    }

    #[test]
    fn telegram_text_cannot_tag_mention_or_draw_lines() {
        assert_eq!(
            telegram(
                "<a href=\"tg://user?id=1\">x</a> @admin & <b>\nRESOLVED http://evil.example/x"
            ),
            "&lt;a href=&quot;tg://user?id=1&quot;&gt;x&lt;/a&gt; @\u{200D}admin &amp; &lt;b&gt; RESOLVED hxxp://evil[.]example/x"
        );
        for hostile in ["&lt;b&gt;", "<<b>>", "@@here", "</pre><b>"] {
            let e = telegram(hostile);
            assert!(!e.contains('<') && !e.contains('>'), "{e}");
            assert_eq!(
                e.matches('@').count(),
                e.matches("@\u{200D}").count(),
                "{e}"
            );
        }
        assert_eq!(telegram("&lt;"), "&amp;lt;");
    }

    #[test]
    fn slack_text_cannot_mention_link_or_draw_lines() {
        assert_eq!(
            slack("<!channel> <@U1> a&b <http://x.y|click>"),
            "&lt;!channel&gt; &lt;＠U1&gt; a&amp;b &lt;hxxp://x[.]y|click&gt;"
        );
        assert_eq!(
            slack("x\n> *RESOLVED* _by_ ~me~ `ok` @here"),
            "x &gt; ＊RESOLVED＊ ＿by＿ ～me～ ｀ok｀ ＠here"
        );
        assert_eq!(slack(" > quoted"), " ＞ quoted");
        assert_eq!(slack("&gt; quoted"), "&amp;gt; quoted");
    }
}
