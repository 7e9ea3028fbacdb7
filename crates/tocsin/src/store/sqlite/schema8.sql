-- Schema 8: the management API. `api_objects` keeps the objects made through
-- the API (kind as in the API's paths: contacts, contact-groups,
-- notification-policies, subscriptions, sources, silences), each body JSON in
-- the config file's schema; they are merged with the file into the effective
-- configuration at start, at every reload and at every change. `etag` changes
-- with every write (If-Match). `audit` records every change: who, what, the
-- config version it produced and a diff with secrets masked.
CREATE TABLE api_objects (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    etag       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    version TEXT,
    diff    TEXT
);
