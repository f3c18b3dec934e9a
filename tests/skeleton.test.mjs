// The service's basics: health with a D1 round trip (no token needed),
// JSON errors for unknown routes, and the cron trigger recording passes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, startRuntime, triggerCron, workspaceVersion } from "./harness.mjs";

describe("service basics", () => {
  let rt;
  before(async () => {
    rt = await startRuntime();
  });
  after(async () => {
    await rt?.stop();
  });

  test("health reports the core version, a D1 round trip and the LLM mode, with no token", async () => {
    const { status, body } = await api(rt.baseUrl, "/api/v1/health", { token: null });
    assert.equal(status, 200);
    assert.equal(body.status, "ok");
    assert.equal(body.core_version, await workspaceVersion());
    assert.equal(body.d1.agents, 1, "the demo agent is seeded");
    assert.ok(body.d1.roundtrip_ms >= 0);
    assert.deepEqual(body.llm, { mode: "rules_only" });
  });

  test("unknown API routes answer a JSON 404, after authentication", async () => {
    const anonymous = await api(rt.baseUrl, "/api/v1/no-such-thing", { token: null });
    assert.equal(anonymous.status, 401);
    const { status, body } = await api(rt.baseUrl, "/api/v1/no-such-thing");
    assert.equal(status, 404);
    assert.deepEqual(body, { error: { status: 404, message: "no route `GET /api/v1/no-such-thing`" } });
  });

  test("the cron trigger records a pass that the API lists", async () => {
    const before = await api(rt.baseUrl, "/api/v1/passes");
    assert.deepEqual(before.body, { passes: [] });
    await triggerCron(rt.baseUrl, "*/5 * * * *");
    const { status, body } = await api(rt.baseUrl, "/api/v1/passes");
    assert.equal(status, 200);
    assert.equal(body.passes.length, 1);
    assert.equal(body.passes[0].agent_id, "agent_demo");
    assert.equal(body.passes[0].trigger, "schedule:nightly");
    assert.equal(body.passes[0].status, "completed");
  });
});
