-- Schema 4: the verdict of every covering subscription packed into the
-- event's own row (JSON: runs of [code, [subscription, ...]], with the
-- subscriptions' levels as a third element for level_not_matched), instead
-- of one route_decisions row each: with thousands of subscriptions an event
-- used to write a hundred rows. route_decisions stays for events stored before.
ALTER TABLE events ADD COLUMN verdicts TEXT;
