-- The service's data. Entries are versioned: `entries` holds the current
-- state of each store, `entry_history` every state an entry ever had, keyed
-- by the version that made it (a NULL body: removed from the store at that
-- version). Every write to a store inserts its `store_versions` row first;
-- the primary key makes two writers racing from the same version collide,
-- and D1 runs a batch as one transaction, so the loser's batch leaves no
-- trace.

-- The agent's dreaming config, canonical JSON (core's `DreamingConfig`).
ALTER TABLE agents ADD COLUMN config TEXT;
ALTER TABLE agents ADD COLUMN store_id TEXT;
-- When the current schedule took effect, and the slot of the last
-- scheduled pass: a slot runs once, and never for a time before the
-- schedule existed.
ALTER TABLE agents ADD COLUMN schedule_since REAL;
ALTER TABLE agents ADD COLUMN last_slot REAL;
ALTER TABLE agents ADD COLUMN updated_at REAL;
-- Deleted agents stay for their history (passes refer to them).
ALTER TABLE agents ADD COLUMN deleted_at REAL;

CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('private', 'shared')),
    -- For a private store: the one agent that may use it.
    owner_agent TEXT,
    version INTEGER NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE store_versions (
    store_id TEXT NOT NULL REFERENCES stores(id),
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,
    actor TEXT NOT NULL,
    -- What made it: created, entries, proposal, rollback.
    cause TEXT NOT NULL,
    proposal_id TEXT,
    note TEXT,
    active_entries INTEGER NOT NULL,
    PRIMARY KEY (store_id, version)
);

CREATE TABLE entries (
    store_id TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (store_id, id)
);
CREATE INDEX entries_by_status ON entries (store_id, status, id);
CREATE INDEX entries_by_kind ON entries (store_id, kind, id);

CREATE TABLE entry_history (
    store_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT,
    PRIMARY KEY (store_id, id, version)
);
CREATE INDEX entry_history_by_version ON entry_history (store_id, version);

-- The hash-chained audit log of each store (core's `AuditRecord`).
CREATE TABLE audit (
    store_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    store_version INTEGER NOT NULL,
    proposal_id TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (store_id, seq)
);

-- Transcripts as they were sent (`raw`) and as the core reads them.
CREATE TABLE sessions (
    agent_id TEXT NOT NULL,
    id TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    format TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    body TEXT NOT NULL,
    raw TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    ingested_at REAL NOT NULL,
    PRIMARY KEY (agent_id, id)
);
CREATE INDEX sessions_by_start ON sessions (agent_id, started_at);

ALTER TABLE passes ADD COLUMN store_id TEXT;
ALTER TABLE passes ADD COLUMN stage TEXT;
ALTER TABLE passes ADD COLUMN proposal_id TEXT;
ALTER TABLE passes ADD COLUMN error TEXT;
-- JSON: inputs read, changes per kind, tokens, cost, timings, LLM calls.
ALTER TABLE passes ADD COLUMN stats TEXT;
CREATE INDEX passes_by_agent ON passes (agent_id, started_at DESC);

CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    pass_id INTEGER,
    base_version INTEGER NOT NULL,
    -- pending, partially_applied, applied, rejected, empty
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    change_count INTEGER NOT NULL,
    pending_count INTEGER NOT NULL,
    -- core's Summary and TokenCost, JSON
    summary TEXT NOT NULL,
    token_cost TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX proposals_by_agent ON proposals (agent_id, created_at DESC);

CREATE TABLE changes (
    proposal_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    risky INTEGER NOT NULL,
    -- core's Change, JSON, and the fingerprints of its targets at the base
    body TEXT NOT NULL,
    fingerprints TEXT NOT NULL,
    -- NULL while pending; else accept, reject or edit
    decision TEXT,
    decision_body TEXT,
    decided_by TEXT,
    decided_at REAL,
    applied_version INTEGER,
    PRIMARY KEY (proposal_id, id)
);
CREATE INDEX changes_in_order ON changes (proposal_id, seq);

-- Review memory (core's ReviewHistory), kept as counters and groups so
-- concurrent reviews add up instead of overwriting each other.
CREATE TABLE review_tallies (
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, kind)
);
CREATE TABLE rejected_groups (
    store_id TEXT NOT NULL,
    -- JSON array of the sorted entry ids
    members TEXT NOT NULL,
    PRIMARY KEY (store_id, members)
);

-- API tokens, by the SHA-256 of the secret. The admin token of the
-- environment (ADMIN_TOKEN) is not stored.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'ingest')),
    -- JSON array of agent ids (reviewer: granted; ingest: exactly one)
    agents TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- JSON array of event names
    events TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX webhooks_by_agent ON webhooks (agent_id);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending (will retry), delivered, failed (gave up)
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    next_attempt_at REAL,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX deliveries_by_agent ON deliveries (agent_id, created_at DESC);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
