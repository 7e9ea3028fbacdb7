-- Schema 5: the quarantine. Authenticated ingest requests that could not be
-- decoded are kept whole (raw body, path, content type, the error with its
-- index and field) so a producer whose format drifted loses nothing; they can
-- be replayed once the code or config reads them. An identical body (same
-- path and body hash) within an hour only raises `count`. The writer bounds
-- the sum of `size` by store.quarantine_max, dropping the oldest first.
CREATE TABLE quarantine (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    path         TEXT NOT NULL,
    content_type TEXT,
    body         BLOB NOT NULL,
    body_hash    TEXT NOT NULL,
    size         INTEGER NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    received_ms  INTEGER NOT NULL,
    last_ms      INTEGER NOT NULL,
    error        TEXT NOT NULL,
    idx          INTEGER,
    field        TEXT
);
CREATE INDEX quarantine_same ON quarantine (path, body_hash, received_ms);
CREATE INDEX quarantine_last ON quarantine (last_ms, seq);
