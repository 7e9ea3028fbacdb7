//! `*` globs for event names and resources, matched in linear time without
//! backtracking blow-ups (greedy segment search). Case-insensitive.

#[derive(Clone, Debug)]
pub enum Pattern {
    Exact(String),
    Glob {
        parts: Vec<String>,
        anchored_start: bool,
        anchored_end: bool,
    },
}

impl Pattern {
    pub fn new(p: &str) -> Pattern {
        let lower = p.to_lowercase();
        if !lower.contains('*') {
            return Pattern::Exact(lower);
        }
        Pattern::Glob {
            anchored_start: !lower.starts_with('*'),
            anchored_end: !lower.ends_with('*'),
            parts: lower
                .split('*')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// `text` must already be lowercased.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == text,
            Pattern::Glob {
                parts,
                anchored_start,
                anchored_end,
            } => {
                let mut rest = text;
                for (i, part) in parts.iter().enumerate() {
                    let last = i + 1 == parts.len();
                    if i == 0 && *anchored_start {
                        match rest.strip_prefix(part.as_str()) {
                            Some(r) => rest = r,
                            None => return false,
                        }
                        if last && *anchored_end {
                            return rest.is_empty();
                        }
                        continue;
                    }
                    if last && *anchored_end {
                        return rest.ends_with(part.as_str());
                    }
                    match rest.find(part.as_str()) {
                        Some(pos) => rest = &rest[pos + part.len()..],
                        None => return false,
                    }
                }
                !*anchored_end || rest.is_empty() || parts.is_empty()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p).matches(&t.to_lowercase())
    }

    #[test]
    fn globs() {
        assert!(m("Incident:*", "Incident:DDoS"));
        assert!(!m("Incident:*", "Suspicious:DDoS"));
        assert!(m("*DDoS", "Incident:DDoS"));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYYcd"));
        assert!(m("a*c", "ac"));
        assert!(!m("abc*abc", "abc"));
        assert!(m("abc*abc", "abcabc"));
        assert!(m("*:*", "x:y"));
        assert!(m("exact", "EXACT"));
        assert!(!m("exact", "exactly"));
        assert!(m("i-*", "i-bp1"));
    }
}
