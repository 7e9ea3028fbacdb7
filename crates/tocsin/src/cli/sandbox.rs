//! `tocsin sandbox`: the six fake chat platforms alone, on one fixed port
//! and their real webhook paths, with fixed bots, so a user can point their
//! own config at them and watch each bot's page.

use super::SandboxArgs;
use tocsin_fakes::{Platform, SANDBOX_BOTS, Sandbox};

/// The chat the sandbox's contacts send Telegram messages to (its bot is in
/// every chat).
pub const TELEGRAM_CHAT: i64 = -1_001_000_000_001;

pub async fn run(args: SandboxArgs) -> i32 {
    crate::install_crypto_provider();
    let sandbox = match start(&args.listen, "sandbox").await {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    print!("{}", describe(&sandbox));
    let _ = tokio::signal::ctrl_c().await;
    println!("\nsandbox stopped.");
    0
}

/// Starts a sandbox on `listen`, or says why not (a taken port names who holds it).
pub async fn start(listen: &str, command: &str) -> Result<Sandbox, String> {
    match Sandbox::start(listen).await {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "tocsin {command}: cannot listen on {listen} for the sandbox: {e}\ntocsin {command}: {}",
            who_holds(listen).await
        )),
        Err(e) => Err(format!(
            "tocsin {command}: cannot listen on {listen} for the sandbox: {e}"
        )),
    }
}

/// A taken sandbox port: an earlier sandbox or demo (its index page says
/// "Tocsin sandbox"), a Tocsin server, or another program.
async fn who_holds(listen: &str) -> String {
    let url = format!("{}/", super::remote::listen_url(listen));
    let answer = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .ok()?;
        client.get(&url).send().await.ok()?.text().await.ok()
    };
    match answer.await {
        Some(page) if page.contains("<title>Tocsin sandbox</title>") => format!(
            "a Tocsin sandbox is already running on {listen} (`tocsin sandbox` or `tocsin demo`): \
             use it, stop it, or choose another address with --listen (demo: --sandbox-listen)"
        ),
        _ => super::port::who_holds(listen).await,
    }
}

/// What `tocsin sandbox` prints: each bot's webhook URL, secret, keyword and
/// page, and a contacts snippet for the user's config.
pub fn describe(sandbox: &Sandbox) -> String {
    let mut out = format!(
        "Tocsin sandbox on http://{} (Ctrl-C to stop): the eight platforms on their real webhook paths.\n",
        sandbox.addr()
    );
    for b in SANDBOX_BOTS {
        out.push_str(&format!("\n  {}\n", b.platform.name()));
        if b.platform == Platform::Telegram {
            out.push_str(&format!("    bot_token: {}\n", b.token));
            out.push_str(&format!("    chat_id:   {TELEGRAM_CHAT} (any chat)\n"));
            out.push_str(&format!("    api_base:  http://{}\n", sandbox.addr()));
            out.push_str(&format!(
                "    page:      {}\n",
                sandbox.page_url(b.platform)
            ));
            continue;
        }
        if b.platform == Platform::PagerDuty {
            out.push_str(&format!("    routing_key: {}\n", b.token));
            out.push_str(&format!(
                "    url:         {}\n",
                sandbox.url(b.platform, b.token)
            ));
            out.push_str(&format!(
                "    page:        {}\n",
                sandbox.page_url(b.platform)
            ));
            continue;
        }
        out.push_str(&format!(
            "    webhook: {}\n",
            sandbox.url(b.platform, b.token)
        ));
        out.push_str(&format!("    secret:  {}\n", b.secret.unwrap_or("(none)")));
        out.push_str(&format!("    keyword: {}\n", b.keyword.unwrap_or("(none)")));
        out.push_str(&format!("    page:    {}\n", sandbox.page_url(b.platform)));
    }
    out.push_str(&format!("\n  all bots: {}\n", sandbox.index_url()));
    out.push_str("\nContacts for your config (the sandbox is on loopback, hence allow_private_networks):\n\n");
    out.push_str("delivery:\n  allow_private_networks: true\ncontacts:\n");
    for b in SANDBOX_BOTS {
        if b.platform == Platform::Telegram {
            out.push_str(&format!(
                "  - {{ name: sandbox-telegram, channel: telegram, bot_token: \"{}\", chat_id: {TELEGRAM_CHAT}, api_base: \"http://{}\" }}\n",
                b.token,
                sandbox.addr()
            ));
            continue;
        }
        if b.platform == Platform::PagerDuty {
            out.push_str(&format!(
                "  - {{ name: sandbox-pagerduty, channel: pagerduty, routing_key: {}, url: \"{}\" }}\n",
                b.token,
                sandbox.url(b.platform, b.token)
            ));
            continue;
        }
        let mut line = format!(
            "  - {{ name: sandbox-{}, channel: {}, webhook: \"{}\"",
            b.channel,
            b.channel,
            sandbox.url(b.platform, b.token)
        );
        if let Some(s) = b.secret {
            line.push_str(&format!(", secret: {s}"));
        }
        if let Some(k) = b.keyword {
            line.push_str(&format!(", keywords: [{k}]"));
        }
        line.push_str(" }\n");
        out.push_str(&line);
    }
    out
}
