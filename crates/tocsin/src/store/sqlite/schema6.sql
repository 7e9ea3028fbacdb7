-- Schema 6: the store keeps codes and parameters, not sentences. Why a notice
-- is held, merged or suppressed is `notices.reason_code` (JSON
-- `{"code": ..., ...}`, see domain::NoticeReason); what a digest Tocsin
-- scheduled itself is `messages.note_code` (domain::MessageNote). Explain and
-- the dispatcher write the words when they read them. `reason` and `note`
-- keep free text (a platform's verdict, a failure report's note) and every
-- sentence stored before this schema, which still reads as it was.
ALTER TABLE notices ADD COLUMN reason_code TEXT;
ALTER TABLE messages ADD COLUMN note_code TEXT;
