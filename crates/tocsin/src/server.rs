//! Wiring: the store, the config snapshot, the dispatcher and the HTTP API
//! in one running server, with reload (SIGHUP) and graceful shutdown.

pub use crate::app::{App, IngestAnswer, IngestError, ServeOptions};
use crate::app::{apply_overrides, save_version};
use crate::config::{self, Config};
use crate::dispatch::Dispatcher;
use crate::metrics::Metrics;
use crate::route::Snapshot;
use crate::store::{Store, sqlite::SqliteStore};
use anyhow::Context as _;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// What the store keeps of each config version: the API's redacted view.
fn version_summary(config: &Config) -> String {
    crate::api::objects::redacted_config(config).to_string()
}

mod http;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: tokio::sync::watch::Sender<bool>,
    http: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    /// The data directory's serve lock (none for an injected store).
    _serving: Option<crate::store::sqlite::backup::DirLock>,
}

/// One server per data directory: a second one would resume the same
/// outbox and send every pending message twice. A directory where no lock
/// can be taken (a file system without locks) still serves, with a warning.
fn serve_lock(
    data_dir: &std::path::Path,
) -> anyhow::Result<Option<crate::store::sqlite::backup::DirLock>> {
    use crate::store::sqlite::backup::{DirLock, LockError, SERVE_LOCK_FILE};
    match DirLock::serving(data_dir) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Held) => anyhow::bail!(
            "another Tocsin server is serving {} (it holds {}); give each server its own --data, or stop the other first",
            data_dir.display(),
            data_dir.join(SERVE_LOCK_FILE).display()
        ),
        Err(LockError::Io(e)) => {
            tracing::warn!(
                file = %data_dir.join(SERVE_LOCK_FILE).display(),
                error = %e,
                "cannot lock the data directory; nothing stops a second server on the same store"
            );
            Ok(None)
        }
    }
}

impl Server {
    /// Loads the config named by `options` (or the embedded defaults) and starts.
    pub async fn start(options: ServeOptions) -> anyhow::Result<Server> {
        let config = match &options.config_path {
            None => Config::embedded_default(),
            Some(path) => {
                let file = path.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    config::load_file(&file, &config::process_env)
                })
                .await
                .context("the config loader stopped")?;
                for d in loaded.diagnostics.iter().filter(|d| d.warning) {
                    tracing::warn!("{d}");
                }
                match loaded.config {
                    Some(c) => {
                        crate::doctor::log_findings(&path.display().to_string(), &c);
                        c
                    }
                    None => {
                        let errors: Vec<String> =
                            loaded.diagnostics.iter().map(|d| d.to_string()).collect();
                        anyhow::bail!("the configuration has errors:\n{}", errors.join("\n"));
                    }
                }
            }
        };
        Server::start_with(config, options).await
    }

    /// Starts with an already loaded config (tests, the demo).
    pub async fn start_with(mut config: Config, options: ServeOptions) -> anyhow::Result<Server> {
        apply_overrides(&mut config, &options);
        // Opening runs migrations and may wait on the file lock: blocking work.
        let data_dir = config.server.data_dir.clone();
        let serving = serve_lock(&data_dir)?;
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir))
            .await
            .context("the store opener stopped")?
            .with_context(|| {
                format!(
                    "cannot open the store in {}",
                    config.server.data_dir.display()
                )
            })?;
        let mut server = Server::start_with_store(config, options, Arc::new(store)).await?;
        server._serving = serving;
        Ok(server)
    }

    /// Starts on a given store (tests inject faults through the `Store` trait).
    pub async fn start_with_store(
        mut config: Config,
        options: ServeOptions,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Server> {
        crate::install_crypto_provider();
        // Objects made through the management API live in the store: the
        // running config is the file with them merged in.
        let objects = crate::app::stored_objects(store.as_ref())
            .await
            .context("cannot read the API-made objects")?;
        let built_in_code = config.document.get().is_none()
            && !(config.contacts.is_empty() && config.subscriptions.is_empty());
        if built_in_code && !objects.is_empty() {
            tracing::warn!(
                objects = objects.len(),
                "the configuration was built in code, not read from a file: the API-made objects in the store are not applied"
            );
        } else if !objects.is_empty() {
            let doc = config.document.0.clone();
            let effective = config::load_effective(doc.as_deref(), &objects, &config::process_env);
            match effective.config {
                Some(c) => config = c,
                None => {
                    let file = config::merge::document_name(doc.as_deref());
                    let errors: Vec<String> = effective
                        .problems
                        .iter()
                        .map(|p| crate::app::problem_diagnostic(p, &objects, file).to_string())
                        .collect();
                    anyhow::bail!(
                        "the configuration with the API-made objects has errors:\n{}",
                        errors.join("\n")
                    );
                }
            }
        }
        apply_overrides(&mut config, &options);
        if let Some(why) = config.server.unguarded_exposure() {
            anyhow::bail!(why);
        }
        if config.server.allow_unauthenticated
            && config.server.api_token.is_empty()
            && !crate::config::listens_on_loopback(&config.server.listen)
        {
            tracing::warn!(
                listen = %config.server.listen,
                "server.allow_unauthenticated is true: the API is open to anyone who can reach this address"
            );
        }
        let listen = config.server.listen.clone();
        let clock = options.clock();
        let snapshot = Arc::new(Snapshot::new(config));
        save_version(store.as_ref(), version_summary, &snapshot, clock.now_ms()).await;
        let snapshot = Arc::new(ArcSwap::new(snapshot));
        let metrics = Arc::new(Metrics::default());
        let dispatcher = Dispatcher::new(
            store.clone(),
            snapshot.clone(),
            metrics.clone(),
            clock.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        let app = Arc::new(App::new(
            snapshot,
            store,
            dispatcher,
            metrics,
            clock,
            options,
            version_summary,
        ));
        let resumed = app
            .dispatcher
            .resume()
            .await
            .context("cannot read the outbox")?;
        if resumed > 0 {
            tracing::info!(messages = resumed, "resumed pending messages");
        }
        let open_files = http::raise_open_file_limit();
        let default_max = http::default_max_connections(open_files);
        if let (Some(max), Some(files)) = (app.config().config.server.max_connections, open_files)
            && u64::from(max) > files / 4 * 3
        {
            tracing::warn!(
                max_connections = max,
                open_files = files,
                "server.max_connections is more than three quarters of the open-file limit: \
                 the store and outgoing sends may run out of file descriptors"
            );
        }
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let router = crate::api::router(app.clone());
        let http = tokio::spawn(http::serve(
            listener,
            router,
            app.clone(),
            Arc::new(http::Slots::default()),
            default_max,
            stopped,
        ));
        let background = vec![tokio::spawn(retention_loop(app.clone(), stop.subscribe()))];
        tracing::info!(%addr, "tocsin is listening");
        Ok(Server {
            _serving: None,
            addr,
            app,
            stop,
            http,
            background,
        })
    }

    /// `https://` while `server.tls` is on.
    pub fn base_url(&self) -> String {
        let scheme = if self.app.config().config.server.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, gives in-flight requests and sends one shared
    /// deadline ([`crate::dispatch_grace`]), leaves the rest pending in the
    /// store. HTTP drain and delivery stop at the same time, so the whole
    /// shutdown stays within the 5 s the README promises.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + crate::dispatch_grace();
        let _ = self.stop.send(true);
        let mut serving = self.http;
        let http = async {
            // Past the deadline, the connections still open are cut.
            if tokio::time::timeout_at(deadline, &mut serving)
                .await
                .is_err()
            {
                serving.abort();
            }
        };
        tokio::join!(http, self.app.dispatcher.shutdown(deadline));
        for b in self.background {
            b.abort();
        }
    }
}

/// The prune cut-off for `retention`: never later than `now_ms`, however
/// large the retention (a wrapped cut-off in the future would prune every
/// event).
fn retention_cutoff(now_ms: i64, retention: Duration) -> i64 {
    now_ms
        .saturating_sub(crate::duration_ms(retention))
        .min(now_ms)
}

/// Prunes records older than `store.retention`, at start and then regularly.
async fn retention_loop(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let retention = app.snapshot.load().config.store.retention;
        let now = app.clock.now_ms();
        let before = retention_cutoff(now, retention);
        match app.store.prune(before).await {
            Ok(n) if n > 0 => {
                tracing::info!(events = n, "pruned records older than store.retention")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
        let every = (retention / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600));
        tokio::select! {
            _ = app.clock.sleep_until(now.saturating_add(crate::duration_ms(every))) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_huge_retention_prunes_nothing() {
        let now = crate::now_ms();
        // 150000000000d once wrapped `now - retention` into the future.
        for retention in [Duration::from_secs(150_000_000_000 * 86_400), Duration::MAX] {
            assert!(retention_cutoff(now, retention) <= now);
        }
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let event = crate::event::Event {
            event_type: "Incident".into(),
            time_ms: now - 1_000,
            received_ms: now - 1_000,
            ..crate::event::Event::minimal("kept", "Sas", "n", crate::config::Level::Info)
        };
        let route = crate::route::RouteResult {
            outcome: crate::route::Outcome::Unmatched,
            switch: None,
            decisions: vec![],
            notices: vec![],
        };
        store
            .ingest(vec![crate::app::ingest_item(
                Arc::new(event),
                route,
                "v".into(),
                vec![],
            )])
            .await
            .unwrap();
        let cutoff = retention_cutoff(
            crate::now_ms(),
            Duration::from_secs(150_000_000_000 * 86_400),
        );
        assert_eq!(store.prune(cutoff).await.unwrap(), 0);
        assert!(store.get_event("kept").await.unwrap().is_some());
    }
}
