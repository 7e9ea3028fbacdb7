use super::ServeArgs;
use crate::server::{ServeOptions, Server};

pub async fn run(args: ServeArgs) -> i32 {
    let config_path = args.config.clone();
    let options = ServeOptions {
        config_path: args.config,
        listen: args.listen,
        data_dir: args.data,
        clock: None,
    };
    let listen = options.listen.clone();
    let server = match Server::start(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tocsin serve: {e:#}");
            if super::port::is_addr_in_use(&e) {
                let listen = listen.unwrap_or_else(|| configured_listen(config_path.as_deref()));
                eprintln!("tocsin serve: {}", super::port::who_holds(&listen).await);
            }
            return 1;
        }
    };
    eprintln!(
        "tocsin: listening on {} (history: {}/api/v1/events)",
        server.addr,
        server.base_url()
    );
    let summary = server.app.config().config.summary();
    match &config_path {
        Some(path) => tracing::info!(file = %path.display(), "configuration loaded: {summary}"),
        None => tracing::info!("no --config: running on the embedded defaults ({summary})"),
    }
    wait_for_signals(&server).await;
    tracing::info!(
        "shutting down: no new requests; in-flight requests and sends share one 4.5 s deadline"
    );
    server.shutdown().await;
    0
}

/// The address the server tried: the config file's `server.listen`, else
/// the embedded default.
fn configured_listen(config: Option<&std::path::Path>) -> String {
    config
        .and_then(|p| crate::config::load_file(p, &crate::config::process_env).config)
        .unwrap_or_else(crate::config::Config::embedded_default)
        .server
        .listen
}

#[cfg(unix)]
async fn wait_for_signals(server: &Server) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => match server.app.reload().await {
                Ok(v) => {
                    let summary = server.app.config().config.summary();
                    tracing::info!(version = %&v[..12.min(v.len())], "SIGHUP: configuration reloaded: {summary}");
                }
                Err(errors) => {
                    for e in errors {
                        tracing::error!("SIGHUP: reload refused, keeping the running configuration: {e}");
                    }
                }
            },
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_server: &Server) {
    let _ = tokio::signal::ctrl_c().await;
}
