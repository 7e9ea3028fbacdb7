//! Wiring: the store, the config snapshot, the dispatcher and the HTTP API
//! in one running server, with reload (SIGHUP) and graceful shutdown.

use crate::clock::SharedClock;
use crate::config::{self, Config, Diagnostic};
use crate::dispatch::{Dispatcher, OutboxMessage};
use crate::event::Format;
use crate::ingest::{self, DecodeContext, DecodeError};
use crate::metrics::Metrics;
use crate::route::Snapshot;
use crate::store::{IngestItem, MessageKind, NewMessage, Store, StoreError, sqlite::SqliteStore};
use anyhow::Context as _;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

mod http;

/// How the server was asked to run.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// None: the embedded defaults.
    pub config_path: Option<PathBuf>,
    /// Overrides `server.listen` (kept across reloads).
    pub listen: Option<String>,
    /// Overrides `server.data_dir` (kept across reloads).
    pub data_dir: Option<PathBuf>,
    /// Where the server reads the time. None: the system clock (tests pass a
    /// [`crate::clock::ManualClock`]).
    pub clock: Option<SharedClock>,
}

impl ServeOptions {
    /// The clock the server runs on.
    pub fn clock(&self) -> SharedClock {
        self.clock.clone().unwrap_or_else(crate::clock::system)
    }
}

/// The answer to an accepted ingest request.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IngestAnswer {
    pub accepted: usize,
    pub ids: Vec<String>,
    pub duplicates: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] DecodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a running server shares.
pub struct App {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub store: Arc<dyn Store>,
    pub dispatcher: Dispatcher,
    pub metrics: Arc<Metrics>,
    /// The server's time (ingest's `received_at`, pruning, the workers).
    pub clock: SharedClock,
    /// Ingest requests being read and decoded (`server.max_concurrent_ingest`).
    pub ingest_slots: IngestSlots,
    options: ServeOptions,
    reload_lock: tokio::sync::Mutex<()>,
}

/// Counts the ingest requests in progress against
/// `server.max_concurrent_ingest`: ingest holds several times a body's size
/// while it decodes, so too many at once would exhaust memory. The limit is
/// read at each request, so a reload applies at once.
#[derive(Debug, Default)]
pub struct IngestSlots {
    busy: std::sync::atomic::AtomicU32,
}

/// One ingest request's slot; freed on drop.
#[derive(Debug)]
pub struct IngestSlot<'a>(&'a IngestSlots);

impl IngestSlots {
    /// A slot, or None when `limit` requests are already in progress.
    pub fn try_take(&self, limit: u32) -> Option<IngestSlot<'_>> {
        use std::sync::atomic::Ordering;
        self.busy
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| IngestSlot(self))
    }
}

impl Drop for IngestSlot<'_> {
    fn drop(&mut self) {
        self.0
            .busy
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl App {
    pub fn config(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Decodes, routes and durably stores one request's events, then hands
    /// their messages to the dispatcher. Nothing is stored when any event is
    /// invalid.
    pub async fn ingest(&self, format: Format, body: &[u8]) -> Result<IngestAnswer, IngestError> {
        let snap = self.snapshot.load_full();
        let received_ms = self.clock.now_ms();
        let ctx = DecodeContext {
            severity_map: &snap.config.catalog.severity_map,
            received_ms,
        };
        let events = ingest::decode(format, body, &ctx)?;
        let mut items = Vec::with_capacity(events.len());
        for event in events {
            let route = snap.routing.route(&snap.config, &event);
            let messages = route
                .notices
                .iter()
                .map(|n| NewMessage {
                    id: uuid::Uuid::now_v7().to_string(),
                    contact: n.contact.clone(),
                    kind: MessageKind::Single,
                    subscriptions: n.subscriptions.clone(),
                    event_ids: vec![event.id.clone()],
                    created_ms: received_ms,
                    note: None,
                    not_before_ms: None,
                })
                .collect();
            items.push(IngestItem::new(
                Arc::new(event),
                route,
                snap.version.clone(),
                messages,
            ));
        }
        // What the answer and the dispatcher need after the commit (cheap: Arc'd events).
        let plans: Vec<(Arc<crate::event::Event>, &'static str)> = items
            .iter()
            .map(|i| (i.event.clone(), i.route.outcome.as_str()))
            .collect();
        let fresh = self.store.ingest(items).await?;
        let mut answer = IngestAnswer {
            accepted: 0,
            ids: Vec::with_capacity(plans.len()),
            duplicates: 0,
        };
        let mut outbox = Vec::new();
        for ((event, outcome), done) in plans.into_iter().zip(fresh) {
            answer.ids.push(event.id.clone());
            if !done.new {
                answer.duplicates += 1;
                continue;
            }
            answer.accepted += 1;
            self.metrics.event_received(event.format.as_str(), outcome);
            // Only the messages the store created: merged and suppressed
            // occurrences have none.
            for m in done.messages {
                outbox.push(OutboxMessage {
                    id: m.id,
                    contact: m.contact,
                    kind: m.kind,
                    subscriptions: m.subscriptions,
                    events: vec![event.clone()],
                    created_ms: m.created_ms,
                    next_attempt_ms: m.not_before_ms.unwrap_or(m.created_ms),
                    attempts: 0,
                    note: m.note,
                });
            }
        }
        self.metrics
            .add_pending(crate::saturating_i64(outbox.len()));
        self.dispatcher.enqueue(outbox);
        Ok(answer)
    }

    /// Re-reads the config file. A file with errors is refused and the
    /// running config kept. Returns the new version.
    pub async fn reload(&self) -> Result<String, Vec<Diagnostic>> {
        let _guard = self.reload_lock.lock().await;
        let Some(path) = &self.options.config_path else {
            return Ok(self.snapshot.load().version.clone());
        };
        // File reading and parsing block: keep them off the runtime threads.
        let file = path.clone();
        let loaded =
            tokio::task::spawn_blocking(move || config::load_file(&file, &config::process_env))
                .await
                .map_err(|e| {
                    vec![Diagnostic {
                        file: path.display().to_string(),
                        line: 0,
                        path: "(file)".into(),
                        message: format!("the config loader stopped: {e}"),
                        warning: false,
                    }]
                })?;
        let Some(mut new) = loaded.config else {
            return Err(loaded
                .diagnostics
                .into_iter()
                .filter(|d| !d.warning)
                .collect());
        };
        apply_overrides(&mut new, &self.options);
        let old = self.snapshot.load_full();
        if new.server.listen != old.config.server.listen
            || new.server.data_dir != old.config.server.data_dir
        {
            tracing::warn!(
                "server.listen and server.data_dir changes take effect at the next restart"
            );
            new.server.listen = old.config.server.listen.clone();
            new.server.data_dir = old.config.server.data_dir.clone();
        }
        let snapshot = Arc::new(Snapshot::new(new));
        let version = snapshot.version.clone();
        save_version(self.store.as_ref(), &snapshot, self.clock.now_ms()).await;
        self.snapshot.store(snapshot);
        if let Err(e) = self.dispatcher.reconcile(&old).await {
            tracing::error!(error = %e, "reload: delivery settings not applied");
        }
        tracing::info!(version = %short(&version), "configuration reloaded");
        Ok(version)
    }
}

fn short(version: &str) -> &str {
    &version[..version.len().min(12)]
}

fn apply_overrides(config: &mut Config, options: &ServeOptions) {
    if let Some(l) = &options.listen {
        config.server.listen = l.clone();
    }
    if let Some(d) = &options.data_dir {
        config.server.data_dir = d.clone();
    }
}

async fn save_version(store: &dyn Store, snapshot: &Snapshot, now_ms: i64) {
    let summary = crate::api::objects::redacted_config(&snapshot.config).to_string();
    if let Err(e) = store
        .save_config_version(&snapshot.version, &summary, now_ms)
        .await
    {
        tracing::error!(error = %e, "could not store the config version");
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: tokio::sync::watch::Sender<bool>,
    http: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
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
                    Some(c) => c,
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
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir))
            .await
            .context("the store opener stopped")?
            .with_context(|| {
                format!(
                    "cannot open the store in {}",
                    config.server.data_dir.display()
                )
            })?;
        Server::start_with_store(config, options, Arc::new(store)).await
    }

    /// Starts on a given store (tests inject faults through the `Store` trait).
    pub async fn start_with_store(
        mut config: Config,
        options: ServeOptions,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Server> {
        crate::install_crypto_provider();
        apply_overrides(&mut config, &options);
        let listen = config.server.listen.clone();
        let clock = options.clock();
        let snapshot = Arc::new(Snapshot::new(config));
        save_version(store.as_ref(), &snapshot, clock.now_ms()).await;
        let snapshot = Arc::new(ArcSwap::new(snapshot));
        let metrics = Arc::new(Metrics::default());
        let dispatcher = Dispatcher::new(
            store.clone(),
            snapshot.clone(),
            metrics.clone(),
            clock.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        let app = Arc::new(App {
            snapshot,
            store,
            dispatcher,
            metrics,
            clock,
            ingest_slots: IngestSlots::default(),
            options,
            reload_lock: tokio::sync::Mutex::new(()),
        });
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
            addr,
            app,
            stop,
            http,
            background,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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
            id: "kept".into(),
            product: "Sas".into(),
            event_type: "Incident".into(),
            name: "n".into(),
            level: crate::config::Level::Info,
            severity: None,
            status: None,
            resource: None,
            instance: None,
            region: None,
            group: None,
            time_ms: now - 1_000,
            received_ms: now - 1_000,
            content: serde_json::json!({}),
            format: Format::Native,
            raw: serde_json::json!({}),
        };
        let route = crate::route::RouteResult {
            outcome: crate::route::Outcome::Unmatched,
            switch: None,
            decisions: vec![],
            notices: vec![],
        };
        store
            .ingest(vec![IngestItem::new(
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
