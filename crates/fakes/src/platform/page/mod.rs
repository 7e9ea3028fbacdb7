//! The sandbox's HTML pages: an index of the bots, and one page per
//! platform showing what each of its bots got, rendered the way the
//! platform's client shows it, newest first, refused requests with the
//! code the platform answered. The pages reload themselves every 2 seconds.
//! All message content is escaped ([`markup::esc`]).

mod dingtalk;
mod discord;
mod lark;
pub(crate) mod markup;
mod pagerduty;
mod slack;
mod teams;
mod telegram;
mod wecom;

use super::{Core, Delivery, Platform};
use markup::esc;

/// Where a platform's page is served on the sandbox.
pub(crate) fn page_path(platform: Platform) -> &'static str {
    match platform {
        Platform::Lark => "/lark",
        Platform::WeCom => "/wecom",
        Platform::DingTalk => "/dingtalk",
        Platform::Slack => "/slack",
        Platform::Discord => "/discord",
        Platform::Teams => "/teams",
        Platform::Telegram => "/telegram",
        Platform::PagerDuty => "/pagerduty",
    }
}

/// One accepted message as the platform's client shows it (HTML).
pub(crate) fn message_html(platform: Platform, body: &serde_json::Value) -> String {
    match platform {
        Platform::Lark => lark::render(body),
        Platform::WeCom => wecom::render(body),
        Platform::DingTalk => dingtalk::render(body),
        Platform::Slack => slack::render(body),
        Platform::Discord => discord::render(body),
        Platform::Teams => teams::render(body),
        Platform::Telegram => telegram::render(body),
        Platform::PagerDuty => pagerduty::render(body),
    }
}

const STYLE: &str = "body{font:14px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;background:#f2f3f5;color:#1f2329}\
header{background:#1f2329;color:#fff;padding:10px 20px}header a{color:#9cf;margin-right:14px}\
main{max-width:760px;margin:0 auto;padding:12px 20px}h1{font-size:18px;margin:0}\
.bot{margin:18px 0}.bot>h2{font-size:15px;margin:6px 0}.meta{color:#646a73;font-size:12px}\
.msg{background:#fff;border-radius:8px;margin:10px 0;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.08)}\
.refused{background:#fff4f4;border:1px solid #f5c2c2;border-radius:8px;margin:10px 0;padding:8px 12px;font-size:13px}\
.refused code{white-space:pre-wrap;word-break:break-all}\
p{margin:2px 0}.gap{height:8px}blockquote{margin:4px 0;padding-left:8px;border-left:3px solid #dee0e3;color:#646a73}\
h1,h2,h3,h4,h5,h6{margin:4px 0}.mention{color:#3370ff;font-weight:500}a{color:#3370ff}\
.lark-card{border:1px solid #dee0e3;border-radius:8px;overflow:hidden}.lark-card .body{padding:10px 12px}\
.lark-header{padding:10px 12px;font-weight:600;color:#fff}\
.t-blue{background:#3370ff}.t-wathet{background:#7bc1f5}.t-turquoise{background:#2bc4c0}.t-green{background:#34c724}\
.t-yellow{background:#ffc60a;color:#1f2329}.t-orange{background:#ff8800}.t-red{background:#f54a45}.t-carmine{background:#d83931}\
.t-violet{background:#d136d1}.t-purple{background:#7f3bf5}.t-indigo{background:#4954e6}.t-grey{background:#8f959e}\
.t-default{background:#f5f6f7;color:#1f2329}\
.fields{display:flex;flex-wrap:wrap}.field{width:100%}.field.short{width:50%}.note{color:#8f959e;font-size:12px}\
.actions{margin:6px 0}.button{display:inline-block;border:1px solid #d0d3d6;border-radius:6px;padding:3px 12px;margin-right:6px;text-decoration:none;color:#1f2329}\
.button.primary{background:#3370ff;color:#fff}.button.danger{color:#f54a45}.columns{display:flex}.col{flex:1}\
.c-info{color:#05a357}.c-warning{color:#ff8800}.c-comment{color:#8f959e}.c-red{color:#f54a45}.c-green{color:#34c724}\
.c-grey,.c-gray{color:#8f959e}.c-orange{color:#ff8800}.c-blue{color:#3370ff}.c-yellow{color:#dc9b04}.c-purple{color:#7f3bf5}\
.slack-msg{font-family:Lato,'Helvetica Neue',Arial,sans-serif}.slack-header{font-weight:900;font-size:17px}\
.context{color:#616061;font-size:12px}.attachment{border-left:4px solid #ddd;padding-left:10px;margin:6px 0}\
.section{margin:4px 0}.title{font-weight:600}hr{border:0;border-top:1px solid #dee0e3}\
.discord-msg{background:#313338;color:#dbdee1;border-radius:6px;padding:8px 10px}.discord-msg a{color:#00a8fc}\
.embed{background:#2b2d31;border-left:4px solid #1e1f22;border-radius:4px;padding:8px 12px;margin:6px 0;max-width:520px}\
.embed .title{color:#f2f3f5}.embed .footer{color:#949ba4;font-size:12px;margin-top:6px}\
.discord-msg .mention{background:#3c4270;color:#c9cdfb;border-radius:3px;padding:0 2px}\
.teams-msg{font-family:'Segoe UI',sans-serif}.teams-card{border:1px solid #e1dfdd;border-left:4px solid #6264a7;border-radius:4px;padding:8px 12px}\
.telegram-msg{background:#effdde;border-radius:10px;padding:6px 10px;white-space:normal}.telegram-msg .mention{color:#168acd}\
.spoiler{background:#c8c8c8;color:transparent}\
.pd-triggered{color:#d83931;font-weight:600}.pd-acknowledged{color:#dc9b04}.pd-resolved{color:#05a357}\
table{border-collapse:collapse}td{padding:2px 12px 2px 0;vertical-align:top}";

fn document(title: &str, body: &str) -> String {
    let nav: String = [
        Platform::Lark,
        Platform::WeCom,
        Platform::DingTalk,
        Platform::Slack,
        Platform::Discord,
        Platform::Teams,
        Platform::Telegram,
        Platform::PagerDuty,
    ]
    .iter()
    .map(|p| format!("<a href=\"{}\">{}</a>", page_path(*p), esc(p.name())))
    .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">\
         <title>{t}</title><style>{STYLE}</style></head><body><header><h1>{t}</h1>\
         <nav><a href=\"/\">All bots</a>{nav}</nav></header><main>{body}</main></body></html>",
        t = esc(title)
    )
}

fn refused_line(d: &Delivery) -> String {
    let why = match d.code {
        Some(c) => format!("HTTP {} code {c}", d.http_status),
        None => format!("HTTP {}", d.http_status),
    };
    format!(
        "<div class=\"refused\"><span class=\"meta\">{} refused ({why}):</span> <code>{}</code></div>",
        clock(d.at_ms),
        esc(&d.answer.chars().take(300).collect::<String>())
    )
}

/// The page of one platform: each bot's messages, newest first.
pub(crate) fn platform_page(core: &Core) -> String {
    let inner = core.lock();
    let platform = core.platform;
    let mut tokens: Vec<&String> = inner.bots.keys().collect();
    tokens.sort();
    let mut body = String::new();
    for token in tokens {
        let mine: Vec<&Delivery> = inner
            .received
            .iter()
            .filter(|d| &d.token == token)
            .collect();
        let accepted = mine.iter().filter(|d| d.accepted()).count();
        body.push_str(&format!(
            "<section class=\"bot\" id=\"{id}\"><h2>bot {id}</h2>\
             <div class=\"meta\">{accepted} shown in the group, {} refused; newest first</div>",
            mine.len() - accepted,
            id = esc(token)
        ));
        if platform == Platform::PagerDuty
            && let Some(b) = inner.bots.get(token)
        {
            body.push_str(&pagerduty::incidents(&b.incidents));
        }
        for d in mine.iter().rev() {
            if d.accepted() {
                body.push_str(&format!(
                    "<div class=\"msg\"><div class=\"meta\">{}</div>{}</div>",
                    clock(d.at_ms),
                    message_html(platform, &d.json())
                ));
            } else {
                body.push_str(&refused_line(d));
            }
        }
        body.push_str("</section>");
    }
    let strays: Vec<&Delivery> = inner
        .received
        .iter()
        .filter(|d| !inner.bots.contains_key(&d.token))
        .collect();
    if !strays.is_empty() {
        body.push_str(&format!(
            "<section class=\"bot\"><h2>{} request(s) to unknown bots</h2>",
            strays.len()
        ));
        for d in strays.iter().rev().take(20) {
            body.push_str(&refused_line(d));
        }
        body.push_str("</section>");
    }
    document(&format!("{} sandbox", platform.name()), &body)
}

/// One row of the index: a bot's platform, webhook URL, secret and keyword.
pub(crate) struct IndexRow {
    pub platform: Platform,
    pub token: String,
    pub url: String,
    pub secret: Option<String>,
    pub keywords: Vec<String>,
    pub accepted: usize,
    pub refused: usize,
}

pub(crate) fn index_page(rows: &[IndexRow]) -> String {
    let mut body = String::from(
        "<table><tr><td><b>platform</b></td><td><b>bot</b></td><td><b>webhook URL</b></td>\
         <td><b>secret</b></td><td><b>keyword</b></td><td><b>messages</b></td></tr>",
    );
    for r in rows {
        body.push_str(&format!(
            "<tr><td><a href=\"{page}#{tok}\">{name}</a></td><td>{tok}</td><td><code>{url}</code></td>\
             <td><code>{secret}</code></td><td>{kw}</td><td>{} shown, {} refused</td></tr>",
            r.accepted,
            r.refused,
            page = page_path(r.platform),
            tok = esc(&r.token),
            name = esc(r.platform.name()),
            url = esc(&r.url),
            secret = esc(r.secret.as_deref().unwrap_or("-")),
            kw = esc(&r.keywords.join(", ")),
        ));
    }
    body.push_str("</table>");
    document("Tocsin sandbox", &body)
}

/// `HH:MM:SS.mmm` UTC.
pub(crate) fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}
