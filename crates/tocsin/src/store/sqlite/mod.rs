//! The SQLite store: one file under `server.data_dir`, WAL mode.
//!
//! SQLite has one writer, so one writer thread owns the write connection and
//! commits whatever requests are waiting together in one transaction (group
//! commit): one fsync serves many concurrent ingest requests. Each request
//! runs inside its own savepoint, so one bad request fails alone. Batches that
//! carry ingest commit with `synchronous=FULL`; batches of attempt records only
//! with `NORMAL` (a later FULL commit makes them durable too).
//! Reads go through a small pool of read-only connections.

pub mod backup;
mod objects;
mod quarantine;
mod read;
mod write;

use super::*;
use crate::event::Event;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The schema this build writes; a store with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 9;
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema2.sql"),
    include_str!("schema3.sql"),
    include_str!("schema4.sql"),
    include_str!("schema5.sql"),
    include_str!("schema6.sql"),
    include_str!("schema7.sql"),
    include_str!("schema8.sql"),
    include_str!("schema9.sql"),
];
const READERS: usize = 4;
/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// Most write requests folded into one transaction.
const MAX_GROUP: usize = 1024;

pub struct SqliteStore {
    writer: mpsc::Sender<write::WriteOp>,
    /// Dropping it stops the checkpointer thread.
    _checkpointer: mpsc::Sender<()>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<PathBuf>,
    /// A shared lock on `DIR/tocsin.lock` while the store is open: `tocsin
    /// restore` waits for none (see [`backup`]).
    _lock: Option<backup::DirLock>,
}

impl SqliteStore {
    /// Opens (creating if needed) `DIR/tocsin.db`, runs migrations, starts the writer.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Open(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let lock = match backup::DirLock::shared(data_dir) {
            Ok(l) => Some(l),
            Err(backup::LockError::Held) => {
                return Err(StoreError::Open(format!(
                    "{} is being restored ({} is locked by tocsin restore); start again when it has finished",
                    data_dir.display(),
                    data_dir.join(backup::LOCK_FILE).display()
                )));
            }
            // A directory where no lock file can be made: the store still
            // opens; only `tocsin restore` cannot see it is in use.
            Err(backup::LockError::Io(e)) => {
                tracing::warn!(
                    file = %data_dir.join(backup::LOCK_FILE).display(),
                    error = %e,
                    "cannot lock the data directory; tocsin restore will not see this store is open"
                );
                None
            }
        };
        let path = data_dir.join("tocsin.db");
        let mut conn = Connection::open(&path)
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        configure_writer(&conn).map_err(|e| open_error(&path, e))?;
        migrate(&mut conn, &path)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| open_error(&path, e))?;
            r.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(|e| open_error(&path, e))?;
            readers.push(r);
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tocsin-store-writer".into())
            .spawn(move || write::run(conn, rx))
            .map_err(|e| StoreError::Open(format!("cannot start the writer thread: {e}")))?;
        let (stop, stopped) = mpsc::channel();
        let checkpoints = Connection::open(&path).map_err(|e| open_error(&path, e))?;
        checkpoints
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| open_error(&path, e))?;
        std::thread::Builder::new()
            .name("tocsin-store-checkpoint".into())
            .spawn(move || checkpointer(checkpoints, stopped))
            .map_err(|e| StoreError::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(SqliteStore {
            writer: tx,
            _checkpointer: stop,
            readers: Arc::new(Mutex::new(readers)),
            path: Arc::new(path),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> write::WriteOp,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(make(tx))
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match conn {
                Some(c) => c,
                // Pool exhausted: a short-lived extra connection.
                None => {
                    Connection::open_with_flags(path.as_path(), OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .map_err(classify)?
                }
            };
            let result = f(&conn).map_err(classify);
            if let Ok(mut r) = readers.lock()
                && r.len() < READERS
            {
                r.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }
}

/// A stored value that cannot be read back: which row, which column, and why.
/// Carried inside `rusqlite::Error::FromSqlConversionFailure` out of a row
/// mapper and turned into [`StoreError::Corrupt`] by [`classify`].
#[derive(Debug)]
pub(super) struct CorruptColumn {
    table: &'static str,
    id: String,
    column: &'static str,
    problem: String,
}

impl std::fmt::Display for CorruptColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} row {:?}, column {}: {}",
            self.table, self.id, self.column, self.problem
        )
    }
}

impl std::error::Error for CorruptColumn {}

/// The error a row mapper returns for column `index` whose stored value is unreadable.
pub(super) fn corrupt(
    index: usize,
    table: &'static str,
    id: &str,
    column: &'static str,
    problem: impl std::fmt::Display,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        Box::new(CorruptColumn {
            table,
            id: id.to_string(),
            column,
            problem: problem.to_string(),
        }),
    )
}

/// Sorts a SQLite error by what retrying can do about it (see [`StoreError`]),
/// keeping SQLite's words (never the statement's parameters, so no event content).
///
/// Transient: busy or locked (another writer, past the busy timeout), I/O
/// errors, a full disk (nothing was written; it succeeds once space is freed,
/// so producers should keep the event and retry), out of memory, an
/// interrupted statement, a schema changed under a prepared statement, a file
/// that cannot be opened right now. Deterministic: everything else, notably
/// constraint violations, "no such table/column" (SQLITE_ERROR), a read-only
/// database, type mismatches, and a corrupt file or a value that does not parse.
pub(crate) fn classify(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e
        && let Some(c) = inner.downcast_ref::<CorruptColumn>()
    {
        return StoreError::Corrupt(c.to_string());
    }
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DatabaseBusy
            | C::DatabaseLocked
            | C::SystemIoFailure
            | C::DiskFull
            | C::OutOfMemory
            | C::OperationInterrupted
            | C::FileLockingProtocolFailed
            | C::SchemaChanged
            | C::CannotOpen => StoreError::Unavailable(e.to_string()),
            C::DatabaseCorrupt | C::NotADatabase => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Failed(e.to_string()),
        },
        // Rusqlite's own errors (a column of the wrong type, a query that
        // returned no row where one was required...) repeat on every try.
        _ => StoreError::Failed(e.to_string()),
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Open(format!("{}: {e}", path.display()))
}

/// Copies the WAL back into the database file beside the writer, so the
/// writer's commits never wait for it. A passive checkpoint neither blocks
/// the writer nor waits for readers; the writer's own automatic checkpoint
/// stays as a backstop at a larger size.
fn checkpointer(conn: Connection, stop: mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            _ => return,
        }
    }
}

fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement the writer runs stays prepared (the default keeps 16).
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The checkpointer thread normally keeps the WAL short; this is the backstop.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // A file that is not a database fails here, with SQLite's own words.
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| {
            StoreError::Open(format!(
                "{} is not a usable Tocsin store: {e}",
                path.display()
            ))
        })?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Open(format!(
            "{} was written by a newer Tocsin (schema {version}; this build knows up to {SCHEMA_VERSION}); \
             upgrade Tocsin or point --data at another directory",
            path.display()
        )));
    }
    let check: String = conn
        .pragma_query_value(None, "quick_check", |r| r.get(0))
        .map_err(|e| {
            StoreError::Open(format!(
                "{} failed its integrity check: {e}",
                path.display()
            ))
        })?;
    if check != "ok" {
        return Err(StoreError::Open(format!(
            "{} failed its integrity check: {check}",
            path.display()
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(usize::MAX))
    {
        let tx = conn.transaction().map_err(|e| open_error(path, e))?;
        tx.execute_batch(sql).map_err(|e| open_error(path, e))?;
        tx.pragma_update(None, "user_version", crate::saturating_i64(i + 1))
            .map_err(|e| open_error(path, e))?;
        tx.commit().map_err(|e| open_error(path, e))?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, items: Vec<IngestItem>) -> Result<IngestResult, StoreError> {
        self.write(|reply| write::WriteOp::Ingest(items, reply))
            .await
    }
    fn record_attempt(&self, attempt: AttemptRecord) {
        if self.writer.send(write::WriteOp::Attempt(attempt)).is_err() {
            tracing::error!("could not record an attempt: the store writer has stopped");
        }
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.write(write::WriteOp::Flush).await
    }
    async fn fold_into_digest(
        &self,
        digest: NewMessage,
        folded: Vec<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.write(|reply| write::WriteOp::Fold {
            digest,
            folded,
            now_ms,
            reply,
        })
        .await
    }
    async fn create_messages(&self, messages: Vec<NewMessage>) -> Result<(), StoreError> {
        self.write(|reply| write::WriteOp::Create(messages, reply))
            .await
    }
    async fn message_events(&self, message_id: &str) -> Result<Vec<Event>, StoreError> {
        let id = message_id.to_string();
        self.read(move |c| read::message_events(c, &id)).await
    }
    async fn recent_attempts(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT m.contact, a.at_ms FROM attempts a JOIN messages m ON m.id = a.message_id \
                 WHERE a.at_ms >= ?1 ORDER BY a.at_ms",
            )?;
            stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .await
    }
    async fn fail_pending(
        &self,
        contact: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (contact, reason) = (contact.to_string(), reason.to_string());
        self.write(|reply| write::WriteOp::FailPending {
            contact,
            reason,
            now_ms,
            reply,
        })
        .await
    }
    async fn save_config_version(
        &self,
        version: &str,
        summary: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (version, summary) = (version.to_string(), summary.to_string());
        self.write(|reply| write::WriteOp::ConfigVersion {
            version,
            summary,
            now_ms,
            reply,
        })
        .await
    }
    async fn pending_messages(&self) -> Result<Vec<PendingMessage>, StoreError> {
        self.read(read::pending_messages).await
    }
    async fn pending_count(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM messages WHERE status = 'pending'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
        .await
    }
    async fn pending_by_contact(&self) -> Result<Vec<ContactBacklog>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT contact, COUNT(*), MIN(created_ms) FROM messages \
                 WHERE status = 'pending' GROUP BY contact ORDER BY contact",
            )?;
            stmt.query_map([], |r| {
                Ok(ContactBacklog {
                    contact: r.get(0)?,
                    messages: r.get::<_, i64>(1)?.max(0).unsigned_abs(),
                    oldest_created_ms: r.get(2)?,
                })
            })?
            .collect()
        })
        .await
    }
    async fn size_bytes(&self) -> Result<u64, StoreError> {
        let pages: u64 = self
            .read(|c| {
                c.query_row(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n.max(0).unsigned_abs())
            })
            .await?;
        // The WAL holds what is not checkpointed yet: disk it takes too.
        let mut wal = self.path.as_os_str().to_os_string();
        wal.push("-wal");
        let wal = std::fs::metadata(&wal).map_or(0, |m| m.len());
        Ok(pages.saturating_add(wal))
    }
    async fn list_events(&self, filter: EventFilter) -> Result<EventPage, StoreError> {
        self.read(move |c| read::list_events(c, &filter)).await
    }
    async fn get_event(&self, id: &str) -> Result<Option<EventDetail>, StoreError> {
        let id = id.to_string();
        self.read(move |c| read::get_event(c, &id)).await
    }
    async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        // Never a cut-off in the future: that would prune what just arrived.
        let before_ms = before_ms.min(crate::now_ms());
        let pruned = self
            .write(|reply| write::WriteOp::Prune { before_ms, reply })
            .await?;
        Ok(pruned + quarantine::prune(self, before_ms).await?)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
    async fn api_objects(&self) -> Result<Vec<StoredObject>, StoreError> {
        self.read(objects::list).await
    }
    async fn change_object(
        &self,
        change: ObjectChange,
        audit: AuditRecord,
    ) -> Result<ChangeOutcome, StoreError> {
        objects::change(self, change, audit).await
    }
    async fn audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        objects::audit(self, record).await
    }
    async fn audit_list(&self, cursor: Option<i64>, limit: usize) -> Result<AuditPage, StoreError> {
        self.read(move |c| objects::audit_list(c, cursor, limit))
            .await
    }
    async fn quarantine_put(
        &self,
        request: NewQuarantined,
        limits: QuarantineLimits,
    ) -> Result<QuarantinePut, StoreError> {
        quarantine::put(self, request, limits).await
    }
    async fn quarantine_list(
        &self,
        filter: QuarantineFilter,
    ) -> Result<QuarantinePage, StoreError> {
        quarantine::list(self, filter).await
    }
    async fn quarantine_get(&self, id: &str) -> Result<Option<QuarantinedRequest>, StoreError> {
        quarantine::get(self, id).await
    }
    async fn quarantine_set_error(
        &self,
        id: &str,
        error: &str,
        index: Option<u64>,
        field: Option<&str>,
    ) -> Result<bool, StoreError> {
        quarantine::set_error(self, id, error, index, field).await
    }
    async fn quarantine_delete(&self, id: &str) -> Result<bool, StoreError> {
        quarantine::delete(self, id).await
    }
    async fn quarantine_bytes(&self) -> Result<u64, StoreError> {
        quarantine::bytes(self).await
    }
}

#[cfg(test)]
mod tests;
