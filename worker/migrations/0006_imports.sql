-- Memory files imported from another tool's format, kept byte for byte
-- with where each entry sits in them, so an export can write back only the
-- spans of entries a review changed.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    format TEXT NOT NULL,
    -- Which folder or service the files come from, as the sender names
    -- it: a push is compared with the last push of the same source.
    source TEXT NOT NULL DEFAULT '',
    -- The store version the import made, or found when nothing was new.
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    actor TEXT NOT NULL,
    files INTEGER NOT NULL,
    entries INTEGER NOT NULL
);
CREATE INDEX imports_by_store ON imports (store_id, source, created_at);

CREATE TABLE import_files (
    import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    content TEXT NOT NULL,
    -- The file's layout: its digest and its entries' spans (JSON).
    document TEXT NOT NULL,
    PRIMARY KEY (import_id, position)
);
