// A pass or a decision that fails half-way (a pass's save, or a
// decision's last batch after its pages were staged: a statement breaking
// a constraint is added to the batch through the worker's REVERIE_FAULT
// test switch) leaves the store and the proposals as they were, and says
// why. And a decision paused before its commit (the same switch) holds
// its store: a write sent meanwhile is refused, not let in first.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, expectStatus, madeUpWord, startRuntime } from "./harness.mjs";

const ENTRIES = [
  { id: "f1", text: "The user prefers dark mode in the editor.", kind: "preference" },
  { id: "f2", text: "User preferred dark mode in editors", kind: "preference" },
];

/** Starts a runtime with the fault switch set to `fault` for the
 * enclosing `describe`; returns the API caller for it. */
function withFault(fault) {
  let rt;
  before(async () => {
    rt = await startRuntime({ seed: false, vars: { REVERIE_FAULT: fault } });
  });
  after(async () => {
    await rt?.stop();
  });
  return (path, opts) => api(rt.baseUrl, path, opts);
}

describe("a pass that fails half-way", () => {
  const call = withFault("pass-save");

  test("leaves the store and the proposals untouched, and says why", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "fail_a", name: "Failing" } }), 201);
    expectStatus(await call("/api/v1/stores/fail_a/entries", { body: { entries: ENTRIES } }), 201);
    const pass = expectStatus(await call("/api/v1/agents/fail_a/passes?wait=true", { method: "POST" }), 201);
    assert.equal(pass.status, "failed");
    assert.match(pass.error, /CHECK constraint failed/);
    assert.equal(pass.proposal_id, null, "the save rolled back as a whole");
    assert.deepEqual(expectStatus(await call("/api/v1/proposals?agent_id=fail_a"), 200).proposals, []);
    const store = expectStatus(await call("/api/v1/stores/fail_a"), 200);
    assert.equal(store.version, 1);
    assert.equal(store.active_entries, ENTRIES.length);
  });
});

describe("a decision whose last batch fails", () => {
  const call = withFault("decision-commit");

  test("applies nothing of any page: store, entries, audit and proposal as they were", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "fail_d", name: "Failing decision" } }), 201);
    // Enough restatements for the decision to be staged over two pages.
    const entries = [];
    for (let i = 0; i < 2100; i++) {
      const [name, region] = [madeUpWord(i, 0), madeUpWord(i, 1)];
      entries.push({ id: `q${i}a`, text: `The ${name} gateway runs in the ${region} region.`, kind: "fact" });
      entries.push({ id: `q${i}b`, text: `The ${name} gateway runs in the ${region} region`, kind: "fact" });
    }
    expectStatus(await call("/api/v1/stores/fail_d/entries", { body: { entries: entries.slice(0, 2100) } }), 201);
    expectStatus(await call("/api/v1/stores/fail_d/entries", { body: { entries: entries.slice(2100) } }), 201);
    const pass = expectStatus(await call("/api/v1/agents/fail_d/passes?wait=true", { method: "POST" }), 201);
    assert.equal(pass.status, "completed");
    const auditBefore = expectStatus(await call("/api/v1/stores/fail_d/audit?limit=1000"), 200).records.length;
    const approved = await call(`/api/v1/proposals/${pass.proposal_id}/approve`, { method: "POST" });
    assert.equal(approved.status, 500, JSON.stringify(approved.body));
    assert.match(approved.body.error.message, /CHECK constraint failed/);
    const store = expectStatus(await call("/api/v1/stores/fail_d"), 200);
    assert.equal(store.version, 2, "no new version");
    assert.equal(store.active_entries, entries.length);
    const merged = expectStatus(await call("/api/v1/stores/fail_d/entries?status=merged"), 200).entries;
    assert.deepEqual(merged, [], "no page's entries reached the store");
    assert.equal(expectStatus(await call("/api/v1/stores/fail_d/audit?limit=1000"), 200).records.length, auditBefore);
    const proposal = expectStatus(await call(`/api/v1/proposals/${pass.proposal_id}?limit=5`), 200);
    assert.equal(proposal.status, "pending");
    assert.equal(proposal.pending_count, proposal.change_count);
    assert.ok(proposal.changes.every((c) => c.decision === null));
    const verified = expectStatus(await call("/api/v1/stores/fail_d/audit/verify"), 200);
    assert.equal(verified.verification.ok, true);
  });
});

describe("a decision holding its store", () => {
  const call = withFault("decision-pause");

  test("refuses other writes while it stages, then commits, then lets them in", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "hold_a", name: "Holding" } }), 201);
    expectStatus(await call("/api/v1/stores/hold_a/entries", { body: { entries: ENTRIES } }), 201);
    const pass = expectStatus(await call("/api/v1/agents/hold_a/passes?wait=true", { method: "POST" }), 201);
    // The decision pauses three seconds between its staging and its commit.
    const approving = call(`/api/v1/proposals/${pass.proposal_id}/approve`, { method: "POST" });
    await new Promise((r) => setTimeout(r, 1500));
    const write = await call("/api/v1/stores/hold_a/entries", { body: { id: "h1", text: "Written while held.", kind: "note" } });
    assert.equal(write.status, 409, JSON.stringify(write.body));
    assert.match(write.body.error.message, /a decision is being applied to this store/);
    const approved = await approving;
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.version, 2);
    // Released: the same write goes in now.
    expectStatus(await call("/api/v1/stores/hold_a/entries", { body: { id: "h1", text: "Written after.", kind: "note" } }), 201);
    assert.equal(expectStatus(await call("/api/v1/stores/hold_a"), 200).version, 3);
  });
});
