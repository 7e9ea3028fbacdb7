//! Neutralizing chat markup in untrusted text. The Chinese platforms have no
//! escape sequence for their markdown, so markup characters are swapped for
//! full-width look-alikes: the text still reads the same, but cannot open a
//! tag (`<at id=all>`, `<@userid>`, `<font>`), a link, emphasis or a heading.

/// Swaps each `(from, to)` pair, breaks `](` (a link needs it), and folds
/// line breaks into spaces (so nothing lands at the start of a line).
pub fn lookalikes(s: &str, swaps: &[(char, char)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            '(' if prev == ']' => out.push('（'),
            '\n' | '\r' => out.push(' '),
            c => match swaps.iter().find(|(from, _)| *from == c) {
                Some((_, to)) => out.push(*to),
                None => out.push(c),
            },
        }
        prev = c;
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
            (WECOM, &["<", ">", "](", "*", "`", "#", "\n"][..]),
            (DINGTALK, &["<", "@", "](", "!", "*", "\n"][..]),
            (LARK, &["<", "[", "*", "~", "&", "\n"][..]),
        ] {
            let e = lookalikes(hostile, table);
            for b in banned {
                assert!(!e.contains(b), "{b} in {e}");
            }
        }
    }
}
