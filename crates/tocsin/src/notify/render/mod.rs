//! What a chat message says, before any platform's markup: a [`Doc`] built
//! from the message's events in the contact's language and time zone
//! ([`document`], its words in [`labels`]). Each platform turns a `Doc` into
//! its own payload, escaping every value that came from an event (see
//! `markup`), and [`fit()`] shrinks it to the platform's byte budget.

mod document;
mod fit;
pub mod labels;

pub use document::{asset, digest_line, document, event_link, local_time};
pub use fit::{check_keywords, cut, fit, texts};
pub use labels::{Labels, cut_note, labels, level_word};

use crate::config::{Lang, Level};

/// A platform-neutral message.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// Always kept whole (bar a hard cap), so a cut message still says what it is.
    pub title: String,
    pub level: Level,
    /// Single messages: one section with fields. Digests: one line per event.
    pub sections: Vec<Section>,
    /// Events left out to fit the size budget.
    pub omitted: usize,
    /// Something was shortened to fit (values, details).
    pub shortened: bool,
    pub footer: String,
    /// The bot's keyword, shown verbatim after the footer when the footer's
    /// fixed words lack one. Never cut or escaped: the platform searches the
    /// final text for it (Lark 19024, DingTalk 310000 otherwise).
    pub keyword: Option<String>,
    /// The contact's template, rendered and escaped for the platform: it
    /// replaces the sections (there are none then).
    pub body: Option<String>,
    /// Labels in the contact's language.
    pub lang: Lang,
    /// A resolve: platforms with colours show it green whatever its level.
    pub resolved: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// A compact one-line summary (digests), or None for a single alert.
    pub line: Option<String>,
    pub fields: Vec<(String, String)>,
    pub details: Vec<(String, String)>,
    /// A link to the event in Tocsin (when `server.public_url` is set).
    pub link: Option<String>,
}

/// The footer as shown: `escape`d, then the keyword verbatim.
pub fn footer(doc: &Doc, escape: impl Fn(&str) -> String) -> String {
    let mut out = escape(&doc.footer);
    if let Some(k) = &doc.keyword {
        out.push_str(" · ");
        out.push_str(k);
    }
    out
}
