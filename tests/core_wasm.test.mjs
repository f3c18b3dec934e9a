// The consolidation engine compiled to WASM and run under node: the same
// pass as natively, through its JSON bindings.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const require = createRequire(import.meta.url);
const core = require(join(ROOT, "target", "core-wasm", "reverie_core.js"));

const DAY = 86_400_000;
const entry = (id, text, day) => ({ id, text, kind: "fact", created_at: day * DAY, observed_at: day * DAY, status: "active" });
const store = {
  id: "store",
  version: 4,
  scope: { type: "private", agent_id: "agent" },
  entries: [
    entry("m1", "The user prefers dark mode in the editor.", 1),
    entry("m2", "User preferred dark mode in editors", 2),
    entry("m3", "The user's shell is bash.", 3),
    entry("m4", "The user's shell is fish.", 9),
  ],
};
// Only the id and the time are required; the thresholds default.
const config = { proposal_id: "p1", now: 30 * DAY };

test("runPass in WASM proposes the merge and the supersession", () => {
  const out = JSON.parse(core.runPass(JSON.stringify({ store, config })));
  const summary = out.proposal.changes.map((c) => `${c.kind} ${c.targets.join(",")} -> ${c.result?.id ?? "-"}`);
  // The merge keeps the newer of two wordings saying the same.
  assert.deepEqual(summary, ["supersede m3 -> m4", "merge m1,m2 -> m2"]);
  assert.equal(out.proposal.base_version, 4);
  assert.equal(out.proposal.changes[0].result.text, "The user's shell is fish.");
});

test("bad input throws an error naming the problem", () => {
  assert.throws(() => core.runPass("{"), /malformed pass request/);
  assert.throws(() => core.runPass(JSON.stringify({ store, config: { ...config, merge_threshold: 3 } })), /config\.merge_threshold.*outside/);
  const bad = structuredClone(store);
  bad.entries[0].text = "  ";
  assert.throws(() => core.runPass(JSON.stringify({ store: bad, config })), /entries\[m1\]\.text.*is empty/);
});

test("apply, audit and rollback round-trip through WASM", () => {
  const { proposal } = JSON.parse(core.runPass(JSON.stringify({ store, config })));
  const decisions = Object.fromEntries(proposal.changes.map((c) => [c.id, { decision: "accept" }]));
  const review = { actor: "user:alice", at: 31 * DAY, decisions };
  const applied = JSON.parse(core.applyReview(JSON.stringify({ store, proposal, review })));
  assert.equal(applied.store.version, 5);
  assert.equal(applied.store.entries.find((e) => e.id === "m3").status, "superseded");

  const records = JSON.parse(core.chainAudit(JSON.stringify({ events: applied.events })));
  assert.equal(records.length, applied.events.length);
  assert.deepEqual(JSON.parse(core.verifyAudit(JSON.stringify({ records }))).ok, true);
  records[1].actor = "user:mallory";
  const broken = JSON.parse(core.verifyAudit(JSON.stringify({ records })));
  assert.equal(broken.ok, false);
  assert.equal(broken.first_bad_seq, 1);

  const diff = JSON.parse(core.storeDiff(JSON.stringify({ before: store, after: applied.store })));
  assert.deepEqual(diff.entries.map((d) => `${d.id} ${d.status_before}->${d.status_after}`), [
    "m1 active->merged",
    "m3 active->superseded",
  ]);
  assert.match(diff.unified, /^--- store@4\n\+\+\+ store@5\n/);
  assert.deepEqual(JSON.parse(core.wordDiff("shell is bash", "shell is fish")), [
    { tag: "equal", text: "shell is " },
    { tag: "delete", text: "bash" },
    { tag: "insert", text: "fish" },
  ]);

  const back = JSON.parse(core.rollback(JSON.stringify({ current: applied.store, target: store, actor: "user:alice", at: 32 * DAY })));
  assert.equal(back.store.version, 6);
  // The original store as the engine reads it (defaults filled in): a
  // review that rejects everything returns it unchanged.
  const rejectAll = { ...review, decisions: Object.fromEntries(proposal.changes.map((c) => [c.id, { decision: "reject" }])) };
  const original = JSON.parse(core.applyReview(JSON.stringify({ store, proposal, review: rejectAll }))).store;
  assert.equal(original.version, 4);
  assert.deepEqual(back.store.entries, original.entries);

  const moved = structuredClone(store);
  moved.version = 5;
  moved.entries[2].text = "The user's shell is zsh.";
  assert.throws(() => core.applyReview(JSON.stringify({ store: moved, proposal, review })), /moved from version 4 to 5/);
});

test("outcome comparison flags a regression with its interval", () => {
  const sessions = (prefix, rate) =>
    Array.from({ length: 30 }, (_, i) => ({
      session_id: `${prefix}${i}`,
      at: i,
      values: { task_completion_rate: rate + ((i * 7) % 5) * 0.01, error_rate: 0.1 },
    }));
  const config = { resamples: 2000, confidence: 0.95, seed: 9, regression_threshold: 0.2 };
  const report = JSON.parse(core.compareOutcomes(JSON.stringify({ baseline: sessions("b", 0.9), candidate: sessions("c", 0.6), config })));
  assert.deepEqual(report.regressions, ["task_completion_rate"]);
  const tcr = report.metrics.find((m) => m.metric === "task_completion_rate");
  assert.ok(tcr.ci_low <= tcr.difference && tcr.difference <= tcr.ci_high);
  assert.equal(report.metrics.find((m) => m.metric === "error_rate").verdict, "no_clear_change");
});
