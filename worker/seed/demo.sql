-- The demo agent `cargo xtask run` starts with: its own private store at
-- version 0 and the recommended dreaming config (no config stored).
INSERT OR IGNORE INTO stores (id, scope, owner_agent, version, created_at)
VALUES ('agent_demo', 'private', 'agent_demo', 0, 1767225600000);
INSERT OR IGNORE INTO store_versions (store_id, version, created_at, actor, cause, active_entries)
VALUES ('agent_demo', 0, 1767225600000, 'seed', 'created', 0);
INSERT OR IGNORE INTO agents (id, name, dreaming_enabled, created_at, store_id, schedule_since, updated_at)
VALUES ('agent_demo', 'Demo support agent', 1, 1767225600000, 'agent_demo', 1767225600000, 1767225600000);
