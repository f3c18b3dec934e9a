-- The demo agent `cargo xtask run` starts with.
INSERT OR IGNORE INTO agents (id, name, dreaming_enabled, created_at)
VALUES ('agent_demo', 'Demo support agent', 1, 1767225600000);
