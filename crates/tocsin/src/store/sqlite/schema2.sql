-- Schema 2: messages that carry events without notices (failure reports), and notes.
ALTER TABLE messages ADD COLUMN note TEXT;
ALTER TABLE messages ADD COLUMN event_ids TEXT;
