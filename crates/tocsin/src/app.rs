//! What the running server shares with its HTTP API: the config snapshot,
//! the store, the dispatcher and the metrics ([`App`]), ingest (decode,
//! route, store, hand to the dispatcher) and reload. Both `server` (which
//! wires it up and serves it) and `api` (which answers requests with it)
//! use this module; it uses neither.

use crate::clock::SharedClock;
use crate::config::{self, Config, Diagnostic};
use crate::dispatch::{Dispatcher, OutboxMessage};
use crate::event::Format;
use crate::ingest::{self, DecodeContext, DecodeError};
use crate::metrics::Metrics;
use crate::route::Snapshot;
use crate::store::{IngestItem, MessageKind, NewMessage, Store, StoreError};
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;

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

/// An event and what routing decided about it, in the store's terms: the
/// verdicts as codes, and for each notice with noise rules a window rule
/// whose decision (route's) the store runs inside its transaction.
pub fn ingest_item(
    event: Arc<crate::event::Event>,
    route: crate::route::RouteResult,
    config_version: String,
    messages: Vec<NewMessage>,
) -> IngestItem {
    let verdicts_json =
        crate::store::pack_verdicts(route.decisions.iter().map(|d| crate::store::Verdict {
            subscription: &d.subscription,
            code: d.code,
            arg: d.arg.as_deref(),
        }));
    let notices = route
        .notices
        .into_iter()
        .map(|n| crate::store::NoticeWrite {
            window: n.noise.map(|p| crate::store::WindowRule {
                identity: p.identity.clone(),
                identity_text: p.identity_text.clone(),
                decide: Arc::new(move |window, at_ms| {
                    crate::route::noise::decide(window, &p, at_ms)
                }),
            }),
            contact: n.contact,
            subscriptions: n.subscriptions,
            digest: n.digest,
            hold: n.hold,
        })
        .collect();
    IngestItem {
        alert_identity: Some(crate::route::noise::alert_identity(&event)),
        content_json: event.content.to_string(),
        raw_json: event.raw.to_string(),
        outcome: route.outcome.as_str(),
        switch: route.switch.map(|s| crate::store::SwitchRecord {
            source: s.source,
            item: s.item.key().to_string(),
            kind: s.kind.as_str(),
        }),
        notices,
        verdicts_json,
        event,
        config_version,
        messages,
    }
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
    pub(crate) options: ServeOptions,
    /// Serializes reloads and management API changes: each builds the next
    /// configuration from the current one.
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    /// What the store keeps of each config version (the API's redacted
    /// view; given by the server so this module need not know the API).
    version_summary: VersionSummary,
}

/// Renders a config for the store's version history.
pub type VersionSummary = fn(&Config) -> String;

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
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        metrics: Arc<Metrics>,
        clock: SharedClock,
        options: ServeOptions,
        version_summary: VersionSummary,
    ) -> App {
        App {
            snapshot,
            store,
            dispatcher,
            metrics,
            clock,
            ingest_slots: IngestSlots::default(),
            options,
            reload_lock: tokio::sync::Mutex::new(()),
            version_summary,
        }
    }

    pub fn config(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Decodes, routes and durably stores one request's events, then hands
    /// their messages to the dispatcher. Nothing is stored when any event is
    /// invalid.
    pub async fn ingest(&self, format: Format, body: &[u8]) -> Result<IngestAnswer, IngestError> {
        self.ingest_request(format, body, &ingest::RequestMeta::default())
            .await
    }

    /// [`App::ingest`] for a request whose format reads more than its body
    /// (the content type, `ce-*` headers).
    pub async fn ingest_request(
        &self,
        format: Format,
        body: &[u8],
        meta: &ingest::RequestMeta,
    ) -> Result<IngestAnswer, IngestError> {
        let snap = self.snapshot.load_full();
        let received_ms = self.clock.now_ms();
        let ctx = DecodeContext {
            severity_map: &snap.config.catalog.severity_map,
            received_ms,
        };
        let events = ingest::decode_request(format, body, meta, &ctx)?;
        let mut items = Vec::with_capacity(events.len());
        for event in events {
            // A resolve is not routed as a new alert: the store sends it to
            // the contacts told of its firing alert.
            let route = if event.state == crate::event::EventState::Resolved {
                crate::route::RouteResult::resolve()
            } else {
                snap.routing.route(&snap.config, &event)
            };
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
            items.push(ingest_item(
                Arc::new(event),
                route,
                snap.version.clone(),
                messages,
            ));
        }
        // What the answer and the dispatcher need after the commit (cheap: Arc'd events).
        let plans: Vec<(Arc<crate::event::Event>, &'static str)> =
            items.iter().map(|i| (i.event.clone(), i.outcome)).collect();
        let started = std::time::Instant::now();
        let fresh = self.store.ingest(items).await?;
        self.metrics
            .store_committed("ingest", started.elapsed().as_secs_f64());
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
                let note = crate::explain::sentences::note(m.note, done.notes.get(&m.id));
                outbox.push(OutboxMessage {
                    id: m.id,
                    contact: m.contact,
                    kind: m.kind,
                    subscriptions: m.subscriptions,
                    events: vec![event.clone()],
                    created_ms: m.created_ms,
                    next_attempt_ms: m.not_before_ms.unwrap_or(m.created_ms),
                    attempts: 0,
                    note,
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
        let Some(new) = loaded.config else {
            return Err(loaded
                .diagnostics
                .into_iter()
                .filter(|d| !d.warning)
                .collect());
        };
        crate::doctor::log_findings(&path.display().to_string(), &new);
        // The API-made objects stay: merged into the new file and checked
        // with it (a name the file now also has is an error naming both).
        let objects = self.api_objects().await.map_err(|e| {
            vec![Diagnostic {
                file: path.display().to_string(),
                line: 0,
                path: "(api objects)".into(),
                message: format!("cannot read the API-made objects: {e}"),
                warning: false,
            }]
        })?;
        let new = if objects.is_empty() {
            new
        } else {
            let effective =
                config::load_effective(new.document.get(), &objects, &config::process_env);
            match effective.config {
                Some(c) => c,
                None => {
                    return Err(effective
                        .problems
                        .iter()
                        .map(|p| problem_diagnostic(p, &objects, &path.display().to_string()))
                        .collect());
                }
            }
        };
        let mut effective = new.clone();
        apply_overrides(&mut effective, &self.options);
        if let Some(why) = effective.server.unguarded_exposure() {
            return Err(vec![Diagnostic {
                file: path.display().to_string(),
                line: 0,
                path: "server.api_token".into(),
                message: why,
                warning: false,
            }]);
        }
        let version = self.install(new).await;
        tracing::info!(version = %short(&version), "configuration reloaded");
        Ok(version)
    }

    /// Makes `new` the running configuration (the caller holds
    /// `reload_lock`): new events are routed with it from now on, its
    /// version is stored, the dispatchers pick up delivery changes.
    pub(crate) async fn install(&self, mut new: Config) -> String {
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
        save_version(
            self.store.as_ref(),
            self.version_summary,
            &snapshot,
            self.clock.now_ms(),
        )
        .await;
        self.snapshot.store(snapshot);
        if let Err(e) = self.dispatcher.reconcile(&old).await {
            tracing::error!(error = %e, "reload: delivery settings not applied");
        }
        version
    }

    /// The API-made objects, as the config merge takes them.
    pub async fn api_objects(&self) -> Result<Vec<config::ApiObject>, StoreError> {
        stored_objects(self.store.as_ref()).await
    }
}

/// The store's API-made objects; a body that is not JSON of a known kind is corrupt.
pub async fn stored_objects(store: &dyn Store) -> Result<Vec<config::ApiObject>, StoreError> {
    store
        .api_objects()
        .await?
        .into_iter()
        .map(|o| {
            let kind = config::ObjectKind::from_api_name(&o.kind).ok_or_else(|| {
                StoreError::Corrupt(format!("api_objects {}/{}: unknown kind", o.kind, o.name))
            })?;
            let body = serde_json::from_str(&o.body).map_err(|e| {
                StoreError::Corrupt(format!("api_objects {}/{}: body: {e}", o.kind, o.name))
            })?;
            Ok(config::ApiObject {
                kind,
                name: o.name,
                body,
            })
        })
        .collect()
}

/// A problem of the effective config as a reload or a start reports it.
pub fn problem_diagnostic(
    p: &config::Problem,
    objects: &[config::ApiObject],
    file: &str,
) -> Diagnostic {
    match p.object.and_then(|i| objects.get(i)) {
        Some(o) => Diagnostic {
            file: format!("(API-made {} `{}`)", o.kind.singular(), o.name),
            line: 0,
            path: if p.path.is_empty() {
                "(object)".into()
            } else {
                p.path.clone()
            },
            message: p.message.clone(),
            warning: false,
        },
        None => Diagnostic {
            file: file.to_string(),
            line: p.line,
            path: p.path.clone(),
            message: p.message.clone(),
            warning: false,
        },
    }
}

fn short(version: &str) -> &str {
    &version[..version.len().min(12)]
}

/// `--listen` and `--data-dir` over the file's values.
pub fn apply_overrides(config: &mut Config, options: &ServeOptions) {
    if let Some(l) = &options.listen {
        config.server.listen = l.clone();
    }
    if let Some(d) = &options.data_dir {
        config.server.data_dir = d.clone();
    }
}

/// Stores the version of `snapshot` with its summary (failures are logged:
/// the history misses a version, the server runs on).
pub async fn save_version(
    store: &dyn Store,
    summary: VersionSummary,
    snapshot: &Snapshot,
    now_ms: i64,
) {
    let summary = summary(&snapshot.config);
    if let Err(e) = store
        .save_config_version(&snapshot.version, &summary, now_ms)
        .await
    {
        tracing::error!(error = %e, "could not store the config version");
    }
}
