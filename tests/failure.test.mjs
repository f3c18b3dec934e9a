// A pass that fails half-way — here, its save: a statement breaking a
// constraint is added to the batch through the worker's REVERIE_FAULT
// test switch — leaves the store and the proposals as they were, and the
// pass records why.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, expectStatus, startRuntime } from "./harness.mjs";

const ENTRIES = [
  { id: "f1", text: "The user prefers dark mode in the editor.", kind: "preference" },
  { id: "f2", text: "User preferred dark mode in editors", kind: "preference" },
];

describe("a pass that fails half-way", () => {
  let rt;
  before(async () => {
    rt = await startRuntime({ seed: false, vars: { REVERIE_FAULT: "pass-save" } });
  });
  after(async () => {
    await rt?.stop();
  });

  test("leaves the store and the proposals untouched, and says why", async () => {
    const call = (path, opts) => api(rt.baseUrl, path, opts);
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
