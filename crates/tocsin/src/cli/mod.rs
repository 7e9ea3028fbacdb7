//! The `tocsin` command line.

mod backup;
mod bench;
mod check;
mod demo;
mod doctor;
mod dry_run;
mod explain;
mod health;
mod port;
mod quarantine;
mod remote;
mod sandbox;
mod send;
mod serve;
mod tail;
mod test_contact;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:9750";

#[derive(Parser, Debug)]
#[command(
    name = "tocsin",
    version = crate::VERSION,
    about = "A self-hosted security-alert router",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (without --config: the embedded defaults).
    Serve(ServeArgs),
    /// Validate a config file; every problem is printed as FILE:LINE: PATH: message.
    Check(CheckArgs),
    /// Post events from a file or stdin to a running server.
    Send(SendArgs),
    /// Measure ingest throughput and end-to-end delivery on loopback.
    Bench(BenchArgs),
    /// Send a test message through a contact and print the platform's verdict.
    TestContact(TestContactArgs),
    /// The whole flow with no bot of your own: sandbox bots on loopback and a stream of events.
    Demo(DemoArgs),
    /// The six fake chat platforms alone, on a fixed port: prints each bot's webhook URL, secret and keyword.
    Sandbox(SandboxArgs),
    /// Why an event was or was not delivered to each contact, step by step.
    Explain(ExplainArgs),
    /// Walk the "I'm not receiving alerts" checklist over a whole config.
    Doctor(DoctorArgs),
    /// What a candidate subscription would have matched and sent, over the stored events.
    DryRun(DryRunArgs),
    /// Requests the server could not read: list, show, replay or delete them.
    Quarantine(quarantine::QuarantineArgs),
    /// Follow new events and their deliveries live.
    Tail(tail::TailArgs),
    /// Copy the store to a file while the server runs (SQLite's online backup), and check the copy.
    Backup(backup::BackupArgs),
    /// Put a backup in place as the data directory's store (the server stopped).
    Restore(backup::RestoreArgs),
    /// Ask a running server whether it is ready (exit 0), for health checks.
    Health(health::HealthArgs),
}

#[derive(clap::Args, Debug)]
pub struct DryRunArgs {
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
    /// A YAML or JSON file holding one subscription (the config file's schema).
    #[arg(long)]
    pub subscription: PathBuf,
    /// Only events received at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events received before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Print the server's forecast as JSON instead of sentences.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// The YAML config file.
    #[arg(long)]
    pub config: PathBuf,
    /// Also send a test message through every contact.
    #[arg(long)]
    pub live: bool,
    /// The store to read the last 24 h of history from (default: server.data_dir).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
    /// Print the API's JSON steps instead of text.
    #[arg(long)]
    pub json: bool,
    /// The event's id.
    pub event_id: String,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Listen address of the demo server.
    #[arg(long, default_value = "127.0.0.1:9750")]
    pub listen: String,
    /// Listen address of the demo's sandbox of chat platforms.
    #[arg(long, default_value = tocsin_fakes::DEFAULT_SANDBOX_LISTEN)]
    pub sandbox_listen: String,
    /// Store directory (default: a new temporary directory).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How many events to post.
    #[arg(long, default_value_t = 40)]
    pub events: usize,
    /// Milliseconds between events.
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,
    /// Stop by itself once every event is posted (for scripts).
    #[arg(long)]
    pub exit_when_done: bool,
}

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Listen address of the sandbox.
    #[arg(long, default_value = tocsin_fakes::DEFAULT_SANDBOX_LISTEN)]
    pub listen: String,
}

#[derive(clap::Args, Debug)]
pub struct TestContactArgs {
    /// The YAML config file that defines the contact.
    #[arg(long)]
    pub config: PathBuf,
    /// The contact's name.
    pub name: String,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Events per scenario.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Events per request (several: one scenario each).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub batch: Vec<usize>,
    /// Concurrent clients (several: one scenario each).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub clients: Vec<usize>,
    /// Instead: a burst of N alerts to one WeCom sandbox bot (20 a minute).
    #[arg(long)]
    pub wecom_burst: Option<usize>,
    /// Instead: a burst of N alerts to three chat sandbox bots (Lark, WeCom,
    /// DingTalk, each at its platform's rate limit), with /healthz probed
    /// every 100 ms throughout.
    #[arg(long)]
    pub burst: Option<usize>,
    /// Instead: replay 10,000 events with repeats through each noise-reduction setting.
    #[arg(long)]
    pub noise: bool,
    /// Instead: routing cost with 10, 1,000 and 10,000 subscriptions, ingest with them, and start-up time.
    #[arg(long)]
    pub matching: bool,
    /// Instead: ingest-to-receiver latency at this many single-event requests per second, for 10 s.
    #[arg(long)]
    pub latency: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The YAML config file; SIGHUP re-reads it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address, overriding server.listen (e.g. 127.0.0.1:9750).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory, overriding server.data_dir.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The YAML config file to validate.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFormat {
    Native,
    Aliyun,
    Alertmanager,
    Falco,
    Cloudevents,
    Auto,
}

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub remote: remote::RemoteArgs,
    /// The wire format of the events; auto detects it.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: SendFormat,
    /// A JSON file with one event or an array of events; - or nothing for stdin.
    pub file: Option<PathBuf>,
}

/// Calls a running server's API: `(status, JSON body)`, or the message to
/// print when the server is unreachable (exit code 2 for every command).
pub(crate) async fn call_api(
    command: &str,
    method: reqwest::Method,
    remote: &remote::Remote,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), String> {
    crate::install_crypto_provider();
    let server = &remote.server;
    let url = format!("{server}{path}");
    let mut req = reqwest::Client::new().request(method, &url);
    if let Some(t) = remote.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.map_err(|e| {
        format!(
            "tocsin {command}: server unreachable at {server}: {}",
            e.without_url()
        )
    })?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or_default()))
}

/// Runs a parsed command and returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Serve(a) => serve::run(a).await,
        Command::Check(a) => check::run(a),
        Command::Send(a) => send::run(a).await,
        Command::Bench(a) => bench::run(a).await,
        Command::TestContact(a) => test_contact::run(a).await,
        Command::Demo(a) => demo::run(a).await,
        Command::Sandbox(a) => sandbox::run(a).await,
        Command::Explain(a) => explain::run(a).await,
        Command::Doctor(a) => doctor::run(a).await,
        Command::DryRun(a) => dry_run::run(a).await,
        Command::Quarantine(a) => quarantine::run(a).await,
        Command::Tail(a) => tail::run(a).await,
        Command::Backup(a) => backup::run_backup(a).await,
        Command::Restore(a) => backup::run_restore(a).await,
        Command::Health(a) => health::run(a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// `tocsin 0.1.0 (commit abc1234, built 2026-12-03)`, or `unknown` for
    /// the commit and date outside a git checkout.
    #[test]
    fn version_names_the_commit_and_its_date() {
        let v = Cli::command().render_version();
        let rest = v
            .trim_end()
            .strip_prefix(concat!("tocsin ", env!("CARGO_PKG_VERSION"), " (commit "))
            .unwrap_or_else(|| panic!("unexpected version line {v:?}"));
        let (commit, rest) = rest.split_once(", built ").expect("a build date");
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
            "commit {commit:?}"
        );
        let date = rest.strip_suffix(')').expect("closing parenthesis");
        assert!(
            date == "unknown" || jiff::civil::Date::strptime("%Y-%m-%d", date).is_ok(),
            "date {date:?}"
        );
    }
}
