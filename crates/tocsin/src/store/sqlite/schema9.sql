-- Schema 9: resolves. `alert_identity` is the identity a resolve is matched
-- by (the producer's identity key when it has one, else the default merge
-- identity; see route::noise::alert_identity), kept on every event stored
-- from now on. `resolutions` links a resolved event to the firing events it
-- resolved: a firing event that has a row here is resolved, and a later
-- firing event of the same identity is a new alert.
ALTER TABLE events ADD COLUMN alert_identity TEXT;
CREATE INDEX events_alert ON events (alert_identity, seq) WHERE alert_identity IS NOT NULL;
CREATE TABLE resolutions (
    resolved_id TEXT NOT NULL,
    firing_id   TEXT NOT NULL,
    PRIMARY KEY (resolved_id, firing_id)
);
CREATE INDEX resolutions_firing ON resolutions (firing_id);
