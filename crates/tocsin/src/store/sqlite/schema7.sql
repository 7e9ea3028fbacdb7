-- Schema 7: an event's state (`firing`, the default and every event stored
-- before; or `resolved`) and the producer's own identity of the alert it is
-- about (Alertmanager's fingerprint), when its format has one: a resolve is
-- matched to its firing event by it.
ALTER TABLE events ADD COLUMN state TEXT NOT NULL DEFAULT 'firing';
ALTER TABLE events ADD COLUMN identity_key TEXT;
CREATE INDEX events_identity ON events (identity_key, seq) WHERE identity_key IS NOT NULL;
-- The request headers a format reads besides the content type (CloudEvents'
-- `ce-*` in binary mode), kept with a quarantined request so a replay reads
-- it whole: JSON `[[name, value], ...]`, NULL when none.
ALTER TABLE quarantine ADD COLUMN headers TEXT;
