//! `tocsin health`: asks a running server whether it is ready (`GET
//! /readyz`: the store answers). It exists for container health checks and
//! service supervisors, which need an exit code and cannot count on curl
//! being in a minimal image.

use super::remote::RemoteArgs;

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// 0 when the server answers ready, 1 when it answers anything else, 2 when
/// it cannot be reached (as every client command).
pub async fn run(args: HealthArgs) -> i32 {
    let remote = match args.remote.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tocsin health: {e}");
            return 2;
        }
    };
    match super::call_api("health", reqwest::Method::GET, &remote, "/readyz", None).await {
        Ok((200, body)) => {
            let version = body["config_version"].as_str().unwrap_or("");
            println!(
                "{}: ready (config version {})",
                remote.server,
                &version[..version.len().min(12)]
            );
            0
        }
        Ok((status, body)) => {
            let why = body["error"].as_str().unwrap_or("no reason given");
            println!("{}: not ready (HTTP {status}): {why}", remote.server);
            1
        }
        Err(message) => {
            eprintln!("{message}");
            2
        }
    }
}
