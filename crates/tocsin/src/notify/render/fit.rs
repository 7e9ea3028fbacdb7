//! Fitting a [`Doc`] into a platform's byte budget, and the last check that
//! the bot's keyword survived it.

use super::Doc;
use serde_json::Value;

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The strings of a rendered payload a platform's keyword rule reads:
/// every text value except links and structural tags.
pub fn texts(v: &Value) -> Vec<&str> {
    fn walk<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => {
                let k = key.to_ascii_lowercase();
                if !(k.ends_with("url") || k == "href" || k == "tag" || k == "template") {
                    out.push(s);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// The last check before sending to a bot with keywords: one of them is in
/// the final, cut, escaped text the platform searches.
pub fn check_keywords(
    keywords: &[String],
    texts: &[&str],
) -> Result<(), crate::notify::RenderError> {
    if keywords.is_empty()
        || texts
            .iter()
            .any(|t| keywords.iter().any(|k| t.contains(k.as_str())))
    {
        return Ok(());
    }
    Err(crate::notify::RenderError(format!(
        "none of the contact's keywords ({}) is left in the rendered message",
        keywords.join(", ")
    )))
}

/// Shrinks `doc` until `size(doc) <= budget`: fewer details, shorter values,
/// then fewer digest lines (counted in `omitted`). The title is kept.
pub fn fit(mut doc: Doc, budget: usize, size: impl Fn(&Doc) -> usize) -> Doc {
    doc.title = cut(&doc.title, 300);
    if size(&doc) <= budget {
        return doc;
    }
    // A template's output: the longest cut (at a character boundary) that
    // fits, found by bisection.
    if let Some(body) = doc.body.clone() {
        // Measured with the note that says it was cut.
        let was_shortened = doc.shortened;
        doc.shortened = true;
        let (mut lo, mut hi) = (0, body.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            doc.body = Some(cut(&body, mid));
            if size(&doc) <= budget {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        doc.body = Some(cut(&body, lo));
        doc.shortened = was_shortened || lo < body.len();
        if size(&doc) <= budget {
            return doc;
        }
    }
    for s in &mut doc.sections {
        if s.details.len() > 4 {
            s.details.truncate(4);
            doc.shortened = true;
        }
    }
    for max in [512, 200, 80] {
        if size(&doc) <= budget {
            return doc;
        }
        for s in &mut doc.sections {
            for (_, v) in s.fields.iter_mut().chain(s.details.iter_mut()) {
                if v.len() > max {
                    *v = cut(v, max);
                    doc.shortened = true;
                }
            }
            if let Some(line) = &mut s.line
                && line.len() > max
            {
                *line = cut(line, max);
                doc.shortened = true;
            }
        }
    }
    // Drop whole digest lines from the end, then details of a single alert.
    while size(&doc) > budget && doc.sections.len() > 1 {
        doc.sections.pop();
        doc.omitted += 1;
    }
    while size(&doc) > budget {
        let Some(s) = doc.sections.first_mut() else {
            break;
        };
        if s.details.pop().is_some() || s.fields.pop().is_some() {
            doc.shortened = true;
            continue;
        }
        doc.sections.clear();
        doc.shortened = true;
        break;
    }
    if size(&doc) > budget {
        doc.title = cut(&doc.title, 80);
        // The fixed words come first; the keyword is kept apart, uncut.
        doc.footer = cut(&doc.footer, 80);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_utf8() {
        assert_eq!(cut("登录失败", 7), "登…");
        let s = "é".repeat(100);
        for max in 0..60 {
            assert!(cut(&s, max).len() <= max.max(3));
        }
    }
}
