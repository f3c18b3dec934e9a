-- A transcript as sent that is too big to sit in its session's row beside
-- the session as read (D1 caps a row at 2 MB): kept here in parts, and
-- `sessions.raw` left empty with the number of parts in `raw_parts`.
ALTER TABLE sessions ADD COLUMN raw_parts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE session_raw (
    agent_id TEXT NOT NULL,
    id TEXT NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (agent_id, id, part)
);
