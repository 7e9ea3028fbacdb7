//! The quarantine's table (`schema5.sql`): writes go through the writer
//! thread as [`write::Job`]s (so they are fsync'd before they answer), reads
//! through the reader pool.

use super::write::{self, Finish};
use super::*;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One closure run in its own savepoint, answered after the commit.
struct Op<T, F> {
    f: F,
    reply: Reply<T>,
}

impl<T, F> write::Job for Op<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Finish {
        let Op { f, reply } = *self;
        let result = savepoint(conn, f);
        Box::new(move |commit| {
            let _ = reply.send(write::settle(result.map_err(classify), commit));
        })
    }
    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

fn savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("SAVEPOINT quarantine")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE quarantine")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO quarantine; RELEASE quarantine");
            Err(e)
        }
    }
}

pub(super) async fn job<T, F>(store: &SqliteStore, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    store
        .write(|reply| write::WriteOp::Job(Box::new(Op { f, reply })))
        .await
}

fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

pub(super) async fn put(
    store: &SqliteStore,
    req: NewQuarantined,
    limits: QuarantineLimits,
) -> Result<QuarantinePut, StoreError> {
    job(store, move |c| put_in(c, &req, limits)).await
}

fn put_in(
    c: &Connection,
    req: &NewQuarantined,
    limits: QuarantineLimits,
) -> rusqlite::Result<QuarantinePut> {
    // Kept headers are part of the request: the same body with other
    // headers is another request.
    let hash = match headers_json(&req.headers) {
        None => body_hash(&req.body),
        Some(h) => body_hash(&[req.body.as_slice(), b"\n", h.as_bytes()].concat()),
    };
    let index = req.index.map(crate::saturating_i64);
    let same: Option<String> = c
        .prepare_cached(
            "SELECT id FROM quarantine WHERE path = ?1 AND body_hash = ?2 AND received_ms >= ?3 \
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(
            params![req.path, hash, req.received_ms - limits.same_within_ms],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = same {
        c.prepare_cached(
            "UPDATE quarantine SET count = count + 1, last_ms = MAX(last_ms, ?2), error = ?3, \
             idx = ?4, field = ?5 WHERE id = ?1",
        )?
        .execute(params![id, req.received_ms, req.error, index, req.field])?;
        return Ok(QuarantinePut {
            id: Some(id),
            new: false,
            dropped: 0,
        });
    }
    let size = req.body.len() as u64;
    if size > limits.max_bytes {
        return Ok(QuarantinePut {
            id: None,
            new: false,
            dropped: 1,
        });
    }
    let mut total = total_bytes(c)?;
    let mut dropped = 0;
    while total + size > limits.max_bytes {
        let oldest: Option<(i64, i64)> = c
            .prepare_cached("SELECT seq, size FROM quarantine ORDER BY last_ms, seq LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((seq, freed)) = oldest else { break };
        c.prepare_cached("DELETE FROM quarantine WHERE seq = ?1")?
            .execute([seq])?;
        total = total.saturating_sub(freed as u64);
        dropped += 1;
    }
    c.prepare_cached(
        "INSERT INTO quarantine (id, path, content_type, body, body_hash, size, count, received_ms, \
         last_ms, error, idx, field, headers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        req.id,
        req.path,
        req.content_type,
        req.body,
        hash,
        crate::saturating_i64(size),
        req.received_ms,
        req.error,
        index,
        req.field,
        headers_json(&req.headers)
    ])?;
    Ok(QuarantinePut {
        id: Some(req.id.clone()),
        new: true,
        dropped,
    })
}

fn total_bytes(c: &Connection) -> rusqlite::Result<u64> {
    c.prepare_cached("SELECT COALESCE(SUM(size), 0) FROM quarantine")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

const COLUMNS: &str =
    "seq, id, received_ms, last_ms, path, content_type, size, count, error, idx, field, headers";

/// The kept headers as a JSON list of pairs; NULL when there are none.
fn headers_json(headers: &[(String, String)]) -> Option<String> {
    (!headers.is_empty()).then(|| serde_json::json!(headers).to_string())
}

fn row(r: &rusqlite::Row, with_body: bool) -> rusqlite::Result<QuarantinedRequest> {
    Ok(QuarantinedRequest {
        seq: r.get(0)?,
        id: r.get(1)?,
        received_ms: r.get(2)?,
        last_ms: r.get(3)?,
        path: r.get(4)?,
        content_type: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        count: r.get::<_, i64>(7)? as u64,
        error: r.get(8)?,
        index: r.get::<_, Option<i64>>(9)?.map(|i| i as u64),
        field: r.get(10)?,
        headers: match r.get::<_, Option<String>>(11)? {
            None => Vec::new(),
            Some(text) => {
                let id: String = r.get(1)?;
                serde_json::from_str(&text).map_err(|e| {
                    super::corrupt(
                        11,
                        "quarantine",
                        &id,
                        "headers",
                        format!("not a JSON list of pairs ({e})"),
                    )
                })?
            }
        },
        body: if with_body { Some(r.get(12)?) } else { None },
    })
}

pub(super) async fn list(
    store: &SqliteStore,
    filter: QuarantineFilter,
) -> Result<QuarantinePage, StoreError> {
    store
        .read(move |c| {
            let limit = filter.limit.max(1);
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM quarantine WHERE (?1 IS NULL OR last_ms >= ?1) \
                 AND (?2 IS NULL OR seq < ?2) ORDER BY seq DESC LIMIT ?3"
            ))?;
            let mut requests: Vec<QuarantinedRequest> = stmt
                .query_map(
                    params![
                        filter.since_ms,
                        filter.cursor,
                        crate::saturating_i64(limit + 1)
                    ],
                    |r| row(r, false),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let next_cursor = if requests.len() > limit {
                requests.truncate(limit);
                requests.last().map(|r| r.seq)
            } else {
                None
            };
            Ok(QuarantinePage {
                requests,
                next_cursor,
            })
        })
        .await
}

pub(super) async fn get(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<QuarantinedRequest>, StoreError> {
    let id = id.to_string();
    store
        .read(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS}, body FROM quarantine WHERE id = ?1"),
                [&id],
                |r| row(r, true),
            )
            .optional()
        })
        .await
}

pub(super) async fn set_error(
    store: &SqliteStore,
    id: &str,
    error: &str,
    index: Option<u64>,
    field: Option<&str>,
) -> Result<bool, StoreError> {
    let (id, error, field) = (id.to_string(), error.to_string(), field.map(str::to_string));
    job(store, move |c| {
        c.execute(
            "UPDATE quarantine SET error = ?2, idx = ?3, field = ?4 WHERE id = ?1",
            params![id, error, index.map(crate::saturating_i64), field],
        )
        .map(|n| n > 0)
    })
    .await
}

pub(super) async fn delete(store: &SqliteStore, id: &str) -> Result<bool, StoreError> {
    let id = id.to_string();
    job(store, move |c| {
        c.execute("DELETE FROM quarantine WHERE id = ?1", [&id])
            .map(|n| n > 0)
    })
    .await
}

pub(super) async fn bytes(store: &SqliteStore) -> Result<u64, StoreError> {
    store.read(total_bytes).await
}

/// Retention: requests last received before `before_ms` go.
pub(super) async fn prune(store: &SqliteStore, before_ms: i64) -> Result<u64, StoreError> {
    job(store, move |c| {
        c.execute("DELETE FROM quarantine WHERE last_ms < ?1", [before_ms])
            .map(|n| n as u64)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_schema_4_store_migrates_and_keeps_requests() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut c = Connection::open(dir.path().join("tocsin.db")).unwrap();
            for (i, sql) in MIGRATIONS[..4].iter().enumerate() {
                let tx = c.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", crate::saturating_i64(i + 1))
                    .unwrap();
                tx.commit().unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let req = NewQuarantined {
            id: "q1".into(),
            path: "/api/v1/events".into(),
            content_type: None,
            headers: Vec::new(),
            body: b"{nope".to_vec(),
            received_ms: 1_000,
            error: "the body is not valid JSON".into(),
            index: None,
            field: None,
        };
        let limits = QuarantineLimits {
            max_bytes: 1 << 20,
            same_within_ms: 3_600_000,
        };
        let put = store.quarantine_put(req.clone(), limits).await.unwrap();
        assert_eq!((put.id.as_deref(), put.new), (Some("q1"), true));
        // The same body an hour and more later is kept again.
        let later = NewQuarantined {
            id: "q2".into(),
            received_ms: 1_000 + 3_600_001,
            ..req
        };
        let put = store.quarantine_put(later, limits).await.unwrap();
        assert_eq!(put.id.as_deref(), Some("q2"));
        assert_eq!(store.quarantine_bytes().await.unwrap(), 10);
        // Retention: requests last received before the cut go.
        assert_eq!(store.prune(2_000).await.unwrap(), 1);
        assert!(store.quarantine_get("q1").await.unwrap().is_none());
        let version: i64 = Connection::open(dir.path().join("tocsin.db"))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
