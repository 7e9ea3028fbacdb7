-- Schema 3: noise-reduction windows per (contact, identity of the event).
CREATE TABLE windows (
    contact       TEXT NOT NULL,
    identity      TEXT NOT NULL,
    opened_ms     INTEGER NOT NULL,
    merge_until   INTEGER NOT NULL,
    silence_until INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    last_ms       INTEGER NOT NULL,
    follow_up     TEXT,
    notified      INTEGER NOT NULL,
    PRIMARY KEY (contact, identity)
);
CREATE INDEX windows_ends ON windows (merge_until, silence_until);
