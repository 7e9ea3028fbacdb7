//! Read queries: the outbox on start, the history API.

use super::super::*;
use crate::config::Level;
use crate::event::{Event, EventState, Format};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter, types::Value as Sql};
use std::collections::HashMap;

const EVENT_COLUMNS: &str = "seq, id, format, product, event_type, name, level, severity, status, resource, \
    instance, region, grp, time_ms, received_ms, content, raw, outcome, switch_source, switch_item, \
    switch_kind, config_version, state, identity_key";

/// A JSON column of an event row; text that does not parse is an error
/// naming the row and column, never a made-up value.
fn json_column(
    r: &Row,
    index: usize,
    id: &str,
    column: &'static str,
) -> rusqlite::Result<serde_json::Value> {
    let text: String = r.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| super::corrupt(index, "events", id, column, format!("not JSON ({e})")))
}

/// A JSON list of names (subscriptions, event ids).
fn list_column(
    r: &Row,
    index: usize,
    table: &'static str,
    id: &str,
    column: &'static str,
) -> rusqlite::Result<Vec<String>> {
    match r.get::<_, Option<String>>(index)? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            super::corrupt(
                index,
                table,
                id,
                column,
                format!("not a JSON list of strings ({e})"),
            )
        }),
    }
}

/// A code with its parameters (JSON), when the column holds one.
fn code_column<T: serde::de::DeserializeOwned>(
    r: &Row,
    index: usize,
    table: &'static str,
    id: &str,
    column: &'static str,
) -> rusqlite::Result<Option<T>> {
    match r.get::<_, Option<String>>(index)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            super::corrupt(index, table, id, column, format!("not a known code ({e})"))
        }),
    }
}

fn stored_event(r: &Row) -> rusqlite::Result<StoredEvent> {
    let id: String = r.get(1)?;
    let level: String = r.get(6)?;
    let format: String = r.get(2)?;
    let state: String = r.get(22)?;
    let unknown = |index, column, value: &str| {
        super::corrupt(
            index,
            "events",
            &id,
            column,
            format!("unknown value {value:?}"),
        )
    };
    Ok(StoredEvent {
        seq: r.get(0)?,
        event: Event {
            format: Format::parse(&format).ok_or_else(|| unknown(2, "format", &format))?,
            product: r.get(3)?,
            event_type: r.get(4)?,
            name: r.get(5)?,
            level: Level::parse(&level).ok_or_else(|| unknown(6, "level", &level))?,
            severity: r.get(7)?,
            status: r.get(8)?,
            resource: r.get(9)?,
            instance: r.get(10)?,
            region: r.get(11)?,
            group: r.get(12)?,
            time_ms: r.get(13)?,
            received_ms: r.get(14)?,
            content: json_column(r, 15, &id, "content")?,
            raw: json_column(r, 16, &id, "raw")?,
            state: EventState::parse(&state).ok_or_else(|| unknown(22, "state", &state))?,
            identity_key: r.get(23)?,
            id,
        },
        outcome: r.get(17)?,
        switch_source: r.get(18)?,
        switch_item: r.get(19)?,
        switch_kind: r.get(20)?,
        config_version: r.get(21)?,
    })
}

pub fn pending_messages(c: &Connection) -> rusqlite::Result<Vec<PendingMessage>> {
    let mut stmt = c.prepare(
        "SELECT id, contact, kind, subscriptions, created_ms, next_attempt_ms, attempts, note, note_code FROM messages \
         WHERE status = 'pending' ORDER BY created_ms, id",
    )?;
    let mut messages: Vec<PendingMessage> = stmt
        .query_map([], |r| {
            let id: String = r.get(0)?;
            let kind: String = r.get(2)?;
            Ok(PendingMessage {
                contact: r.get(1)?,
                kind: MessageKind::parse(&kind).ok_or_else(|| {
                    super::corrupt(
                        2,
                        "messages",
                        &id,
                        "kind",
                        format!("unknown value {kind:?}"),
                    )
                })?,
                subscriptions: list_column(r, 3, "messages", &id, "subscriptions")?,
                created_ms: r.get(4)?,
                next_attempt_ms: r.get(5)?,
                attempts: crate::stored_u32(r.get::<_, i64>(6)?),
                note: r.get(7)?,
                note_code: code_column(r, 8, "messages", &id, "note_code")?,
                events: Vec::new(),
                id,
            })
        })?
        .collect::<Result<_, _>>()?;
    let ids: Vec<Vec<String>> = c
        .prepare(
            "SELECT id, event_ids FROM messages WHERE status = 'pending' ORDER BY created_ms, id",
        )?
        .query_map([], |r| {
            let id: String = r.get(0)?;
            list_column(r, 1, "messages", &id, "event_ids")
        })?
        .collect::<Result<_, _>>()?;
    let mut by_id = c.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
    let mut events = c.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT event_id FROM notices WHERE message_id = ?1) \
         ORDER BY seq"
    ))?;
    for (m, ids) in messages.iter_mut().zip(ids) {
        m.events = events
            .query_map([&m.id], stored_event)?
            .map(|s| s.map(|s| s.event))
            .collect::<Result<_, _>>()?;
        // Failure reports carry events by id, without notices of their own.
        if m.events.is_empty() {
            for id in ids {
                if let Some(s) = by_id.query_row([&id], stored_event).optional()? {
                    m.events.push(s.event);
                }
            }
        }
    }
    Ok(messages)
}

pub fn list_events(c: &Connection, f: &EventFilter) -> rusqlite::Result<EventPage> {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
    let mut args: Vec<Sql> = Vec::new();
    let mut add = |sql: &mut String, clause: &str, v: Sql| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(v) = &f.product {
        add(&mut sql, "product =", Sql::Text(v.clone()));
    }
    if let Some(v) = &f.event_type {
        add(&mut sql, "event_type =", Sql::Text(v.clone()));
    }
    if let Some(v) = &f.level {
        add(&mut sql, "level =", Sql::Text(v.clone()));
    }
    if let Some(v) = &f.outcome {
        add(&mut sql, "outcome =", Sql::Text(v.clone()));
    }
    if let Some(v) = f.since_ms {
        add(&mut sql, "received_ms >=", Sql::Integer(v));
    }
    if let Some(v) = f.until_ms {
        add(&mut sql, "received_ms <", Sql::Integer(v));
    }
    if let Some(v) = f.cursor {
        add(&mut sql, "seq <", Sql::Integer(v));
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", f.limit + 1));
    let mut stmt = c.prepare(&sql)?;
    let mut rows: Vec<StoredEvent> = stmt
        .query_map(params_from_iter(args), stored_event)?
        .collect::<Result<_, _>>()?;
    let next_cursor = if rows.len() > f.limit {
        rows.truncate(f.limit);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let mut counts: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    if !rows.is_empty() {
        let placeholders = (1..=rows.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = c.prepare(&format!(
            "SELECT event_id, status, COUNT(*) FROM notices WHERE event_id IN ({placeholders}) \
             GROUP BY event_id, status ORDER BY event_id, status"
        ))?;
        let ids = rows.iter().map(|r| r.event.id.clone());
        let mut q = stmt.query(params_from_iter(ids))?;
        while let Some(r) = q.next()? {
            counts
                .entry(r.get(0)?)
                .or_default()
                .push((r.get(1)?, r.get::<_, i64>(2)? as u64));
        }
    }
    let events = rows
        .into_iter()
        .map(|stored| {
            let deliveries = counts.remove(&stored.event.id).unwrap_or_default();
            EventSummary { stored, deliveries }
        })
        .collect();
    Ok(EventPage {
        events,
        next_cursor,
    })
}

/// Route decisions of an event stored before schema 4, with their sentences.
fn read_decision_rows(c: &Connection, id: &str) -> rusqlite::Result<Vec<RecordedDecision>> {
    c.prepare_cached(
        "SELECT subscription, code, detail FROM route_decisions WHERE event_id = ?1 ORDER BY position",
    )?
    .query_map([id], |r| {
        Ok(RecordedDecision {
            subscription: r.get(0)?,
            code: r.get(1)?,
            arg: None,
            detail: Some(r.get(2)?),
        })
    })?
    .collect()
}

pub fn get_event(c: &Connection, id: &str) -> rusqlite::Result<Option<EventDetail>> {
    // The verdicts column follows EVENT_COLUMNS (24 of them).
    let Some((stored, packed)) = c
        .query_row(
            &format!("SELECT {EVENT_COLUMNS}, verdicts FROM events WHERE id = ?1"),
            [id],
            |r| Ok((stored_event(r)?, r.get::<_, Option<String>>(24)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let decisions = match packed {
        Some(text) => super::super::unpack_verdicts(&text).map_err(|e| {
            super::corrupt(
                24,
                "events",
                id,
                "verdicts",
                format!("not packed route decisions ({e})"),
            )
        })?,
        // Stored before schema 4: one row per decision.
        None => read_decision_rows(c, id)?,
    };
    let mut deliveries = c
        .prepare_cached(
            "SELECT n.contact, n.status, n.subscriptions, n.message_id, m.kind, n.reason, n.reason_code, \
             CASE WHEN m.status = 'pending' THEN m.last_reason END \
             FROM notices n LEFT JOIN messages m ON m.id = n.message_id WHERE n.event_id = ?1 ORDER BY n.rowid",
        )?
        .query_map([id], |r| {
            let contact: String = r.get(0)?;
            let row = format!("{id}/{contact}");
            Ok(DeliveryRecord {
                subscriptions: list_column(r, 2, "notices", &row, "subscriptions")?,
                contact,
                status: r.get(1)?,
                message_id: r.get(3)?,
                message_kind: r.get(4)?,
                reason: r.get(5)?,
                reason_code: code_column(r, 6, "notices", &row, "reason_code")?,
                pending_reason: r.get(7)?,
                attempts: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut attempts = c.prepare_cached(
        "SELECT at_ms, duration_ms, http_status, platform_code, platform_message, reason, outcome \
         FROM attempts WHERE message_id = ?1 ORDER BY id",
    )?;
    for d in &mut deliveries {
        if let Some(mid) = &d.message_id {
            d.attempts = attempts
                .query_map(params![mid], |r| {
                    Ok(AttemptRow {
                        at_ms: r.get(0)?,
                        duration_ms: r.get(1)?,
                        http_status: r
                            .get::<_, Option<i64>>(2)?
                            .and_then(|s| u16::try_from(s).ok()),
                        platform_code: r.get(3)?,
                        platform_message: r.get(4)?,
                        reason: r.get(5)?,
                        outcome: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
    }
    let linked = |sql: &str| -> rusqlite::Result<Vec<String>> {
        c.prepare_cached(sql)?
            .query_map([id], |r| r.get(0))?
            .collect()
    };
    let resolves = linked(
        "SELECT firing_id FROM resolutions r JOIN events e ON e.id = r.firing_id \
         WHERE r.resolved_id = ?1 ORDER BY e.seq",
    )?;
    let resolved_by = linked(
        "SELECT resolved_id FROM resolutions r JOIN events e ON e.id = r.resolved_id \
         WHERE r.firing_id = ?1 ORDER BY e.seq",
    )?;
    Ok(Some(EventDetail {
        stored,
        decisions,
        deliveries,
        resolves,
        resolved_by,
    }))
}

pub fn message_events(c: &Connection, message_id: &str) -> rusqlite::Result<Vec<Event>> {
    c.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT event_id FROM notices WHERE message_id = ?1) \
         ORDER BY seq"
    ))?
    .query_map([message_id], stored_event)?
    .map(|s| s.map(|s| s.event))
    .collect()
}
