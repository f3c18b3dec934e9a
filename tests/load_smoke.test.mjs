// The load test at a small size, so the suite keeps it working; the full
// size (10k sessions, 100k entries) is `cargo xtask load-test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { runLoad } from "./load.mjs";

test("the load test runs end to end at a small size", async () => {
  const lines = [];
  const results = await runLoad({ sessions: 300, entries: 6000, concurrency: 8, log: (l) => lines.push(l) });
  assert.equal(results.ingest_sessions.requests, 300);
  assert.equal(results.fill_store.requests, 2);
  assert.equal(results.pass.entries, 6000);
  assert.equal(results.pass.sessions, 300);
  assert.ok(results.pass.changes > 0);
  assert.ok(results.ingest_sessions.p95_ms >= results.ingest_sessions.p50_ms);
  // The approval wins, or a write sent meanwhile took the next version
  // first and the approval is refused whole (409): never a 5xx.
  assert.ok([200, 409].includes(results.approve.status), JSON.stringify(results.approve));
  if (results.approve.status === 200) assert.ok(results.approve.accepted > 0);
  assert.equal(results.approve.writes_201 + results.approve.writes_409, 40);
  assert.deepEqual(results.server_errors, []);
  assert.ok(results.pass.peak_rss_mb > 0 && results.pass.engine_mb > 0);
  assert.equal(lines.filter((l) => l.startsWith("{")).length, 7, "one line of figures per phase");
});
