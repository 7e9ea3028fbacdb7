-- Tocsin store, schema 1. Timestamps are epoch milliseconds.
CREATE TABLE config_versions (
    version     TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    summary     TEXT NOT NULL
);
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    format         TEXT NOT NULL,
    product        TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    name           TEXT NOT NULL,
    level          TEXT NOT NULL,
    severity       TEXT,
    status         TEXT,
    resource       TEXT,
    instance       TEXT,
    region         TEXT,
    grp            TEXT,
    time_ms        INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    content        TEXT NOT NULL,
    raw            TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    switch_source  TEXT,
    switch_item    TEXT,
    switch_kind    TEXT,
    config_version TEXT NOT NULL
);
CREATE INDEX events_received ON events (received_ms);
CREATE INDEX events_product ON events (product, event_type, seq);
CREATE INDEX events_outcome ON events (outcome, seq);
CREATE INDEX events_level ON events (level, seq);
CREATE TABLE route_decisions (
    event_id     TEXT NOT NULL,
    position     INTEGER NOT NULL,
    subscription TEXT NOT NULL,
    matched      INTEGER NOT NULL,
    code         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    PRIMARY KEY (event_id, position)
);
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    contact         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    subscriptions   TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_reason     TEXT,
    finished_ms     INTEGER
);
CREATE INDEX messages_status ON messages (status, created_ms);
CREATE TABLE notices (
    event_id      TEXT NOT NULL,
    contact       TEXT NOT NULL,
    status        TEXT NOT NULL,
    subscriptions TEXT NOT NULL,
    message_id    TEXT,
    reason        TEXT,
    PRIMARY KEY (event_id, contact)
);
CREATE INDEX notices_message ON notices (message_id);
CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       TEXT NOT NULL,
    at_ms            INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    http_status      INTEGER,
    platform_code    TEXT,
    platform_message TEXT,
    reason           TEXT NOT NULL,
    outcome          TEXT NOT NULL
);
CREATE INDEX attempts_message ON attempts (message_id, id);
CREATE INDEX attempts_at ON attempts (at_ms);
