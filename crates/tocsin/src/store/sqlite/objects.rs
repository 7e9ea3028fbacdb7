//! The management API's tables (`schema8.sql`): API-made objects and the
//! audit log. Writes go through the writer thread as jobs (fsync'd before
//! they answer); a change and its audit entry commit together.

use super::*;
use rusqlite::{OptionalExtension, params};

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredObject> {
    Ok(StoredObject {
        kind: r.get(0)?,
        name: r.get(1)?,
        body: r.get(2)?,
        etag: r.get(3)?,
        revision: r.get(4)?,
        created_ms: r.get(5)?,
        updated_ms: r.get(6)?,
    })
}

const COLUMNS: &str = "kind, name, body, etag, revision, created_ms, updated_ms";

pub(super) fn list(c: &Connection) -> rusqlite::Result<Vec<StoredObject>> {
    let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM api_objects ORDER BY seq"))?;
    stmt.query_map([], row)?.collect()
}

fn get(c: &Connection, kind: &str, name: &str) -> rusqlite::Result<Option<StoredObject>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_objects WHERE kind = ?1 AND name = ?2"
    ))?
    .query_row(params![kind, name], row)
    .optional()
}

fn insert_audit(c: &Connection, a: &AuditRecord) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO audit (at_ms, actor, action, kind, name, version, diff) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.at_ms, a.actor, a.action, a.kind, a.name, a.version, a.diff
    ])?;
    Ok(())
}

fn change_in(
    c: &Connection,
    change: &ObjectChange,
    audit: &AuditRecord,
) -> rusqlite::Result<ChangeOutcome> {
    let now = audit.at_ms;
    let outcome = match change {
        ObjectChange::Create {
            kind,
            name,
            body,
            etag,
        } => {
            if get(c, kind, name)?.is_some() {
                return Ok(ChangeOutcome::Exists);
            }
            c.prepare_cached(
                "INSERT INTO api_objects (kind, name, body, etag, revision, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
            )?
            .execute(params![kind, name, body, etag, now])?;
            ChangeOutcome::Done(get(c, kind, name)?)
        }
        ObjectChange::Update {
            kind,
            name,
            body,
            etag,
            if_etag,
        } => {
            let Some(old) = get(c, kind, name)? else {
                return Ok(ChangeOutcome::Missing);
            };
            if if_etag.as_ref().is_some_and(|e| *e != old.etag) {
                return Ok(ChangeOutcome::Stale(old.etag));
            }
            c.prepare_cached(
                "UPDATE api_objects SET body = ?3, etag = ?4, revision = revision + 1, updated_ms = ?5 \
                 WHERE kind = ?1 AND name = ?2",
            )?
            .execute(params![kind, name, body, etag, now])?;
            ChangeOutcome::Done(get(c, kind, name)?)
        }
        ObjectChange::Delete {
            kind,
            name,
            if_etag,
        } => {
            let Some(old) = get(c, kind, name)? else {
                return Ok(ChangeOutcome::Missing);
            };
            if if_etag.as_ref().is_some_and(|e| *e != old.etag) {
                return Ok(ChangeOutcome::Stale(old.etag));
            }
            c.prepare_cached("DELETE FROM api_objects WHERE kind = ?1 AND name = ?2")?
                .execute(params![kind, name])?;
            ChangeOutcome::Done(None)
        }
    };
    insert_audit(c, audit)?;
    Ok(outcome)
}

pub(super) async fn change(
    store: &SqliteStore,
    change: ObjectChange,
    audit: AuditRecord,
) -> Result<ChangeOutcome, StoreError> {
    quarantine::job(store, move |c| change_in(c, &change, &audit)).await
}

pub(super) async fn audit(store: &SqliteStore, record: AuditRecord) -> Result<(), StoreError> {
    quarantine::job(store, move |c| insert_audit(c, &record)).await
}

pub(super) fn audit_list(
    c: &Connection,
    cursor: Option<i64>,
    limit: usize,
) -> rusqlite::Result<AuditPage> {
    let limit = limit.clamp(1, 1000);
    let mut stmt = c.prepare_cached(
        "SELECT seq, at_ms, actor, action, kind, name, version, diff FROM audit \
         WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let mut entries: Vec<AuditEntry> = stmt
        .query_map(
            params![cursor.unwrap_or(i64::MAX), crate::saturating_i64(limit + 1)],
            |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    record: AuditRecord {
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        kind: r.get(4)?,
                        name: r.get(5)?,
                        version: r.get(6)?,
                        diff: r.get(7)?,
                    },
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    let next_cursor = if entries.len() > limit {
        entries.truncate(limit);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}
