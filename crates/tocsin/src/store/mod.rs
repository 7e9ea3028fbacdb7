//! The store: events, route decisions, notices (event × contact), messages
//! (the outbox unit, carrying one or more events) and delivery attempts.
//!
//! [`Store`] is the seam between Tocsin and its database: SQLite now
//! ([`sqlite::SqliteStore`]), PostgreSQL behind the same trait later. Its SQL
//! is kept portable (no SQLite-only functions in queries).

pub mod sqlite;

use crate::domain::{MessageNote, NoiseDecision, NoticeReason, Window};
use crate::event::Event;
use async_trait::async_trait;
use std::sync::Arc;

/// Errors of the store, by what a caller can do about them.
///
/// `Unavailable` is transient: retrying later can succeed (the database is
/// busy or locked, an I/O hiccup, a full disk, the writer stopped), so ingest
/// answers 503 with `Retry-After`. `Failed` and `Corrupt` are deterministic:
/// the same request fails the same way every time (a constraint, a missing
/// table, a read-only or corrupt database file, a stored value that does not
/// parse), so the API answers 500 naming the problem instead of asking for
/// retries that cannot help. Each carries its source's words.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store refused to open: {0}")]
    Open(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    #[error("the store failed: {0}")]
    Failed(String),
}

impl StoreError {
    /// Whether retrying the same request later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub use crate::domain::MessageKind;

/// A message to create in the same transaction as the events it carries.
/// One contact's share of the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactBacklog {
    pub contact: String,
    pub messages: u64,
    pub oldest_created_ms: i64,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub id: String,
    pub contact: String,
    pub kind: MessageKind,
    pub subscriptions: Vec<String>,
    /// Ids of the events it carries (each gets a notice pointing here).
    pub event_ids: Vec<String>,
    pub created_ms: i64,
    /// A sentence shown above the events (failure reports).
    pub note: Option<String>,
    /// Not before this time (follow-ups: when their window closes).
    pub not_before_ms: Option<i64>,
}

/// One accepted event with everything routing decided about it, in the
/// store's terms (codes and parameters; the store knows no routing policy).
#[derive(Clone, Debug)]
pub struct IngestItem {
    pub event: Arc<Event>,
    /// What became of it at routing: `routed`, `unmatched`, `stopped_by_switch`.
    pub outcome: &'static str,
    /// The push switch that stopped it.
    pub switch: Option<SwitchRecord>,
    /// The contacts it goes to.
    pub notices: Vec<NoticeWrite>,
    pub config_version: String,
    pub messages: Vec<NewMessage>,
    /// The event's content and raw form as stored, serialized by the caller
    /// (in parallel) rather than by the store's single writer.
    pub content_json: String,
    pub raw_json: String,
    /// The route decisions, packed as the store keeps them (see
    /// [`pack_verdicts`] and `sqlite/schema4.sql`); `None` when no
    /// subscription covered the event.
    pub verdicts_json: Option<String>,
    /// The identity a resolve of this alert is matched by (see
    /// `route::noise::alert_identity`): kept with a firing event, looked up
    /// with a resolved one.
    pub alert_identity: Option<String>,
}

/// The push switch that stopped an event, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchRecord {
    pub source: String,
    pub item: String,
    pub kind: &'static str,
}

/// One contact an event goes to.
#[derive(Clone, Debug)]
pub struct NoticeWrite {
    pub contact: String,
    pub subscriptions: Vec<String>,
    /// The merge window, threshold and silence (None: send each event).
    pub window: Option<WindowRule>,
    /// Collected into a scheduled digest: (subscription, firing time).
    pub digest: Option<(String, i64)>,
    /// Held outside active hours: (policy, opening time).
    pub hold: Option<(String, i64)>,
}

/// How one occurrence changes a (contact, identity) window, and what follows:
/// handed in by routing and run by the store inside the ingest transaction,
/// between reading the window and writing it back, so that concurrent
/// requests and restarts see one history. The store knows no rule of it.
pub type DecideWindow = dyn Fn(Option<&Window>, i64) -> (NoiseDecision, Window) + Send + Sync;

/// The window a notice is counted in, and the function that decides on it.
#[derive(Clone)]
pub struct WindowRule {
    /// The key of the window (a hash of the event's identity).
    pub identity: String,
    /// The identity in words, kept with a merged notice.
    pub identity_text: String,
    pub decide: Arc<DecideWindow>,
}

impl std::fmt::Debug for WindowRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowRule")
            .field("identity", &self.identity)
            .field("identity_text", &self.identity_text)
            .finish_non_exhaustive()
    }
}

/// One covering subscription's verdict as the store keeps it: a code, and
/// the code's argument where it has one (`level_not_matched`: the
/// subscription's levels; `excluded`: the exclude entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub subscription: &'a str,
    pub code: &'a str,
    pub arg: Option<&'a str>,
}

/// A recorded verdict read back. `detail` is the sentence stored with it by
/// builds before schema 4; newer records keep the code only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedDecision {
    pub subscription: String,
    pub code: String,
    pub arg: Option<String>,
    pub detail: Option<String>,
}

/// Route decisions as stored: runs of consecutive subscriptions with the same
/// verdict, `[code, [subscription, ...]]`, or `[code, [subscription, ...],
/// argument]` for a code with an argument (see [`Verdict::arg`]). With
/// thousands of subscriptions most share a verdict, so an event's decisions
/// take a few bytes per subscription.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum VerdictRun<S> {
    Plain(S, Vec<S>),
    WithArg(S, Vec<S>, S),
}

/// Packs verdicts as the store keeps them; `None` when there are none.
pub fn pack_verdicts<'a>(verdicts: impl IntoIterator<Item = Verdict<'a>>) -> Option<String> {
    let mut runs: Vec<VerdictRun<&str>> = Vec::new();
    for d in verdicts {
        match (runs.last_mut(), d.arg) {
            (Some(VerdictRun::Plain(code, names)), None) if *code == d.code => {
                names.push(d.subscription)
            }
            (Some(VerdictRun::WithArg(code, names, l)), Some(arg))
                if *code == d.code && *l == arg =>
            {
                names.push(d.subscription)
            }
            (_, None) => runs.push(VerdictRun::Plain(d.code, vec![d.subscription])),
            (_, Some(arg)) => runs.push(VerdictRun::WithArg(d.code, vec![d.subscription], arg)),
        }
    }
    if runs.is_empty() {
        return None;
    }
    Some(serde_json::to_string(&runs).unwrap_or_else(|_| "[]".into()))
}

/// Unpacks stored verdicts; text that is not packed verdicts is an error
/// (the record is corrupt).
pub fn unpack_verdicts(text: &str) -> Result<Vec<RecordedDecision>, serde_json::Error> {
    // Owned strings: a name with escapes cannot be borrowed from the JSON.
    let runs: Vec<VerdictRun<String>> = serde_json::from_str(text)?;
    let mut out = Vec::new();
    for run in runs {
        let (code, names, arg) = match run {
            VerdictRun::Plain(c, n) => (c, n, None),
            VerdictRun::WithArg(c, n, l) => (c, n, Some(l)),
        };
        for subscription in names {
            out.push(RecordedDecision {
                subscription,
                code: code.clone(),
                arg: arg.clone(),
                detail: None,
            });
        }
    }
    Ok(out)
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed this time; the message stays pending for another try.
    Retry,
    /// Failed for good.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// One try to send a message, and the message state that follows from it.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub message_id: String,
    pub at_ms: i64,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub platform_code: Option<String>,
    pub platform_message: Option<String>,
    pub reason: String,
    pub outcome: AttemptOutcome,
    /// For `Retry`: when to try next.
    pub next_attempt_ms: Option<i64>,
}

/// A message that is still to be delivered, with the events it carries.
#[derive(Clone, Debug)]
pub struct PendingMessage {
    pub id: String,
    pub contact: String,
    pub kind: MessageKind,
    pub subscriptions: Vec<String>,
    pub created_ms: i64,
    pub next_attempt_ms: i64,
    pub attempts: u32,
    /// The note it was given (failure reports).
    pub note: Option<String>,
    /// What it is, for the messages Tocsin scheduled itself (digests, held).
    pub note_code: Option<MessageNote>,
    pub events: Vec<Event>,
}

/// Filters of the history list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub product: Option<String>,
    pub event_type: Option<String>,
    pub level: Option<String>,
    pub outcome: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub limit: usize,
    /// Continue after this position (exclusive), newest first.
    pub cursor: Option<i64>,
}

/// An event as the history shows it.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: Event,
    pub outcome: String,
    pub switch_item: Option<String>,
    pub switch_kind: Option<String>,
    pub switch_source: Option<String>,
    pub config_version: String,
}

#[derive(Clone, Debug)]
pub struct EventSummary {
    pub stored: StoredEvent,
    /// status → count over the event's notices.
    pub deliveries: Vec<(String, u64)>,
}

#[derive(Clone, Debug)]
pub struct EventPage {
    pub events: Vec<EventSummary>,
    pub next_cursor: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRow {
    pub at_ms: i64,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub platform_code: Option<String>,
    pub platform_message: Option<String>,
    pub reason: String,
    pub outcome: String,
}

#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub contact: String,
    pub status: String,
    pub subscriptions: Vec<String>,
    pub message_id: Option<String>,
    pub message_kind: Option<String>,
    /// The text recorded on the notice (a platform's verdict, a failure).
    pub reason: Option<String>,
    /// Why it is held, merged or suppressed (explain writes the sentence).
    pub reason_code: Option<NoticeReason>,
    /// While its message is pending: the message's last reason (a retry).
    pub pending_reason: Option<String>,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Clone, Debug)]
pub struct EventDetail {
    pub stored: StoredEvent,
    pub decisions: Vec<RecordedDecision>,
    pub deliveries: Vec<DeliveryRecord>,
    /// A resolved event: the firing events it resolved.
    pub resolves: Vec<String>,
    /// A firing event: the resolved event(s) that resolved it.
    pub resolved_by: Vec<String>,
}

/// What the ingest did with one item.
#[derive(Clone, Debug, Default)]
pub struct IngestOutcome {
    /// False: its id was already stored, so nothing was written for it.
    pub new: bool,
    /// Messages created for it that the dispatcher must send (singles now,
    /// follow-ups when their window closes).
    pub messages: Vec<NewMessage>,
    /// Message id → what it is, for the digests it created (their note is
    /// written from it).
    pub notes: std::collections::HashMap<String, MessageNote>,
}

/// The result of an ingest, one outcome per item in order.
pub type IngestResult = Vec<IngestOutcome>;

/// An authenticated ingest request that could not be decoded (see
/// `api/quarantine.rs`): kept so nothing unreadable is thrown away.
#[derive(Clone, Debug)]
pub struct NewQuarantined {
    /// Used unless an identical request is already kept (then its id is).
    pub id: String,
    /// The ingest path it was posted to, without the query.
    pub path: String,
    pub content_type: Option<String>,
    /// The request headers the format reads besides the content type
    /// (CloudEvents' `ce-*` in binary mode), as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_ms: i64,
    pub error: String,
    pub index: Option<u64>,
    pub field: Option<String>,
}

/// How much the quarantine may keep.
#[derive(Clone, Copy, Debug)]
pub struct QuarantineLimits {
    /// Total size of the kept bodies; the oldest are dropped to make room.
    pub max_bytes: u64,
    /// An identical body (same path and body hash) first received within this
    /// long is counted on the kept one instead of kept again.
    pub same_within_ms: i64,
}

/// What keeping a request did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuarantinePut {
    /// None: not kept (its body alone is larger than the whole bound).
    pub id: Option<String>,
    /// False: counted on an identical request kept earlier.
    pub new: bool,
    /// Kept requests dropped (oldest first) to make room, plus this one when not kept.
    pub dropped: u64,
}

/// A kept request; `body` only when asked for one.
#[derive(Clone, Debug, PartialEq)]
pub struct QuarantinedRequest {
    pub seq: i64,
    pub id: String,
    /// The first time this body arrived.
    pub received_ms: i64,
    /// The last time it arrived (== received_ms when count is 1).
    pub last_ms: i64,
    pub path: String,
    pub content_type: Option<String>,
    /// See [`NewQuarantined::headers`].
    pub headers: Vec<(String, String)>,
    pub size: u64,
    pub count: u64,
    pub error: String,
    pub index: Option<u64>,
    pub field: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// Filters of the quarantine list.
#[derive(Clone, Debug, Default)]
pub struct QuarantineFilter {
    /// Only requests last received at or after this time.
    pub since_ms: Option<i64>,
    pub limit: usize,
    /// Continue after this position (exclusive), newest first.
    pub cursor: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct QuarantinePage {
    pub requests: Vec<QuarantinedRequest>,
    pub next_cursor: Option<i64>,
}

/// An object made through the management API, as the store keeps it: its
/// kind (`contacts`, `contact-groups`...), name, and body (JSON in the
/// config file's schema, secrets included: the API redacts them).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredObject {
    pub kind: String,
    pub name: String,
    pub body: String,
    /// Changes with every write (optimistic concurrency: `If-Match`).
    pub etag: String,
    /// 1 when created, +1 at every update.
    pub revision: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A change to one API-made object. `if_etag`: only when the stored
/// object's etag is this one.
#[derive(Clone, Debug)]
pub enum ObjectChange {
    Create {
        kind: String,
        name: String,
        body: String,
        etag: String,
    },
    Update {
        kind: String,
        name: String,
        body: String,
        etag: String,
        if_etag: Option<String>,
    },
    Delete {
        kind: String,
        name: String,
        if_etag: Option<String>,
    },
}

/// What a change did. Nothing is written (the audit entry neither) unless `Done`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeOutcome {
    /// The object as stored now (None after a delete).
    Done(Option<StoredObject>),
    /// Create: the name is taken.
    Exists,
    /// Update or delete: no such object.
    Missing,
    /// `if_etag` is not the stored etag (which is given).
    Stale(String),
}

/// One audit entry: who changed what, when, and into which config version.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub at_ms: i64,
    /// The token's name (`api-token` for server.api_token), `anonymous` when open.
    pub actor: String,
    /// `create`, `update`, `delete`.
    pub action: String,
    pub kind: String,
    pub name: String,
    /// The config version the change produced.
    pub version: Option<String>,
    /// JSON `{"before", "after"}`, secrets masked.
    pub diff: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
}

#[derive(Clone, Debug, Default)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<i64>,
}

fn no_objects() -> StoreError {
    StoreError::Unavailable("this store keeps no API-made objects".into())
}

fn no_quarantine() -> StoreError {
    StoreError::Unavailable("this store keeps no quarantine".into())
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a batch durably (fsync'd) in one transaction. Items whose id is
    /// already stored, or repeated earlier in the batch, are skipped.
    async fn ingest(&self, items: Vec<IngestItem>) -> Result<IngestResult, StoreError>;
    /// Queues an attempt record, which moves its message (and notices) on,
    /// without waiting for its commit: a send slot is not held up by the
    /// store, and attempt records are committed many at a time. Writes are
    /// applied in the order they were queued; a record that cannot be written
    /// is logged. `flush` waits until everything queued is committed.
    ///
    /// A crash can lose the last few records; their messages stay pending
    /// and are sent again after the restart with the same message id.
    fn record_attempt(&self, attempt: AttemptRecord);
    /// Waits until every write queued before it is committed.
    async fn flush(&self) -> Result<(), StoreError>;
    /// Replaces pending messages by one digest carrying their events: their
    /// notices now point at the digest, and they end `folded`.
    async fn fold_into_digest(
        &self,
        digest: NewMessage,
        folded: Vec<String>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Creates messages that carry events without notices of their own
    /// (failure reports); their events are kept by id.
    async fn create_messages(&self, messages: Vec<NewMessage>) -> Result<(), StoreError>;
    /// The events a message carries now (follow-ups gain events while their window is open).
    async fn message_events(&self, message_id: &str) -> Result<Vec<Event>, StoreError>;
    /// (contact, time) of every attempt since `since_ms`: seeds the rate budgets on start.
    async fn recent_attempts(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError>;
    /// Marks every pending message of a contact failed with `reason`.
    async fn fail_pending(
        &self,
        contact: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Remembers a config version (idempotent).
    async fn save_config_version(
        &self,
        version: &str,
        summary: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Every pending message, oldest first, with its events.
    async fn pending_messages(&self) -> Result<Vec<PendingMessage>, StoreError>;
    async fn pending_count(&self) -> Result<u64, StoreError>;
    /// Pending messages per contact: how many, and since when the oldest.
    async fn pending_by_contact(&self) -> Result<Vec<ContactBacklog>, StoreError>;
    /// What the store takes on disk (for SQLite: the database and its WAL).
    async fn size_bytes(&self) -> Result<u64, StoreError>;
    async fn list_events(&self, filter: EventFilter) -> Result<EventPage, StoreError>;
    async fn get_event(&self, id: &str) -> Result<Option<EventDetail>, StoreError>;
    /// Deletes records older than `before_ms` (pending messages are kept).
    async fn prune(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Readiness: the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    // The management API's objects and its audit log. A store without them
    // has no API-made objects and refuses changes (`Unavailable`).

    /// Every API-made object, in the order they were created.
    async fn api_objects(&self) -> Result<Vec<StoredObject>, StoreError> {
        Ok(Vec::new())
    }
    /// Applies one change and records its audit entry in the same
    /// transaction (durable before it answers).
    async fn change_object(
        &self,
        change: ObjectChange,
        audit: AuditRecord,
    ) -> Result<ChangeOutcome, StoreError> {
        let _ = (change, audit);
        Err(no_objects())
    }
    /// Records an audit entry on its own (a change that needed no object write).
    async fn audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        let _ = record;
        Err(no_objects())
    }
    /// Audit entries, newest first, continuing after `cursor` (exclusive).
    async fn audit_list(&self, cursor: Option<i64>, limit: usize) -> Result<AuditPage, StoreError> {
        let _ = (cursor, limit);
        Err(no_objects())
    }

    // The quarantine of unreadable requests. A store without one answers
    // `Unavailable` (ingest then answers its 400 without a quarantine id).
    // `prune` removes kept requests last received before its time too.

    /// Keeps a request durably (fsync'd before it answers), within `limits`.
    async fn quarantine_put(
        &self,
        request: NewQuarantined,
        limits: QuarantineLimits,
    ) -> Result<QuarantinePut, StoreError> {
        let _ = (request, limits);
        Err(no_quarantine())
    }
    /// Kept requests, newest first, without their bodies.
    async fn quarantine_list(
        &self,
        filter: QuarantineFilter,
    ) -> Result<QuarantinePage, StoreError> {
        let _ = filter;
        Err(no_quarantine())
    }
    /// One kept request with its body.
    async fn quarantine_get(&self, id: &str) -> Result<Option<QuarantinedRequest>, StoreError> {
        let _ = id;
        Err(no_quarantine())
    }
    /// Replaces a kept request's error (a replay that failed again); false when unknown.
    async fn quarantine_set_error(
        &self,
        id: &str,
        error: &str,
        index: Option<u64>,
        field: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _ = (id, error, index, field);
        Err(no_quarantine())
    }
    /// Removes a kept request; false when unknown.
    async fn quarantine_delete(&self, id: &str) -> Result<bool, StoreError> {
        let _ = id;
        Err(no_quarantine())
    }
    /// Total size of the kept bodies.
    async fn quarantine_bytes(&self) -> Result<u64, StoreError> {
        Err(no_quarantine())
    }
}
