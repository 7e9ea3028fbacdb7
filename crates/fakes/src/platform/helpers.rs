//! Small checks and codecs shared by the per-platform modules.

/// The value of `name` in a query string, percent- and form-decoded (a raw
/// `+` becomes a space, as on the real servers).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A registered bot's security and rate settings.
pub(crate) fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// HMAC-SHA256, standard Base64 — written independently of Tocsin's signer.
pub(crate) fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Every string value under `v`, skipping values of keys `skip` says to.
pub(crate) fn strings<'a>(
    v: &'a serde_json::Value,
    skip: &dyn Fn(&str) -> bool,
    out: &mut Vec<&'a str>,
) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, skip, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                if !skip(k) {
                    strings(x, skip, out);
                }
            }
        }
        _ => {}
    }
}

/// Whether any keyword occurs in any of `texts` (no keywords = pass).
pub(crate) fn has_keyword(keywords: &[String], texts: &[&str]) -> bool {
    keywords.is_empty()
        || keywords
            .iter()
            .any(|k| texts.iter().any(|t| t.contains(k.as_str())))
}

/// A string field of a JSON object ("" when absent or not a string).
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(|x| x.as_str()).unwrap_or("")
}

/// Joins the non-empty parts with newlines.
pub(crate) fn join_lines<S: AsRef<str>>(parts: impl IntoIterator<Item = S>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.as_ref().trim().is_empty())
        .map(|p| p.as_ref().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
