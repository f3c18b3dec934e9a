-- A decision on a large proposal is applied a page of changes at a time,
-- so no request holds the whole store or proposal. The pages' writes wait
-- here, invisible to readers, until one last batch moves them into place
-- together with the new store version (or drops them, when another write
-- took that version first).
CREATE TABLE stagings (
    token TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- The entries the pages wrote, latest per id; `body` NULL for a removal.
CREATE TABLE staged_entries (
    token TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT,
    PRIMARY KEY (token, id)
);

-- Audit records and decisions, as JSON arrays in page order.
CREATE TABLE staged_chunks (
    token TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('audit', 'decisions')),
    chunk TEXT NOT NULL,
    PRIMARY KEY (token, seq)
);
