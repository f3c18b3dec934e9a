// The walking skeleton end to end: API and D1 through workerd, the cron
// trigger, and the dashboard in Chromium, online and offline.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { api, launchBrowser, screenshot, startRuntime, triggerCron, workspaceVersion } from "./harness.mjs";

describe("walking skeleton", () => {
  let rt;
  before(async () => {
    rt = await startRuntime();
  });
  after(async () => {
    await rt?.stop();
  });

  test("health reports the core version and a D1 round trip", async () => {
    const { status, body } = await api(rt.baseUrl, "/api/v1/health");
    assert.equal(status, 200);
    assert.equal(body.status, "ok");
    assert.equal(body.core_version, await workspaceVersion());
    assert.equal(body.d1.agents, 1, "the demo agent is seeded");
    assert.ok(body.d1.roundtrip_ms >= 0);
  });

  test("unknown API routes answer a JSON 404", async () => {
    const { status, body } = await api(rt.baseUrl, "/api/v1/no-such-thing");
    assert.equal(status, 404);
    assert.match(body.error.message, /no route for GET \/api\/v1\/no-such-thing/);
  });

  test("the cron trigger records a pass that the API lists", async () => {
    const before = await api(rt.baseUrl, "/api/v1/passes");
    assert.deepEqual(before.body, { passes: [] });
    await triggerCron(rt.baseUrl, "*/5 * * * *");
    const { status, body } = await api(rt.baseUrl, "/api/v1/passes");
    assert.equal(status, 200);
    assert.equal(body.passes.length, 1);
    assert.equal(body.passes[0].agent_id, "agent_demo");
    assert.equal(body.passes[0].trigger, "cron:*/5 * * * *");
  });

  test("the dashboard shows health and passes, and the cached list offline", async () => {
    const { context, close } = await launchBrowser();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(rt.baseUrl);
      await page.getByTestId("health").filter({ hasText: "Service OK" }).waitFor();
      await page.getByTestId("pass-row").first().waitFor();
      assert.equal(await page.getByTestId("pass-row").count(), 1);
      assert.match(await page.getByTestId("pass-table").innerText(), /agent_demo/);
      await screenshot(page, "skeleton-online");

      // The app shell must be under the service worker before going offline.
      await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
        if (!navigator.serviceWorker.controller) {
          await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
        }
      });

      await context.setOffline(true);
      await page.reload();
      await page.getByTestId("offline-badge").waitFor();
      assert.equal(await page.getByTestId("pass-row").count(), 1);
      assert.match(await page.getByTestId("health").innerText(), /unreachable/);
      await screenshot(page, "skeleton-offline");
      await context.setOffline(false);
      assert.deepEqual(errors, [], "no uncaught errors in the page");
    } finally {
      await close();
    }
  });
});
