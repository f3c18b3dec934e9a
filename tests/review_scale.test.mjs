// A proposal of 5,000 changes in the dashboard: only the rows in view are
// in the page, the keyboard and scrolling reach any change, and the time
// to first render is printed (a measurement, not a pass/fail threshold).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, api, launchBrowser, madeUpWord, screenshot, startRuntime } from "./harness.mjs";

const PAIRS = 5000;
/** Pairs beyond what one proposal holds (5,000 changes): the next pass's. */
const BEYOND = 3;
let rt;
let browser;
let proposalId;

/** Pairs share no words with each other. */
const word = (i, k) => madeUpWord(i, k, 4);

before(async () => {
  rt = await startRuntime({ seed: false });
  const call = (path, opts) => api(rt.baseUrl, path, opts);
  assert.equal((await call("/api/v1/agents", { body: { id: "big", name: "Big store" } })).status, 201);
  const entries = [];
  for (let i = 0; i < PAIRS + BEYOND; i++) {
    const text = `The ${word(i, 0)} account uses ${word(i, 1)} for ${word(i, 2)} and ${word(i, 3)} reports.`;
    entries.push({ id: `e${String(i).padStart(5, "0")}a`, text }, { id: `e${String(i).padStart(5, "0")}b`, text });
  }
  for (let start = 0; start < entries.length; start += 5000) {
    const res = await call("/api/v1/stores/big/entries", { body: { entries: entries.slice(start, start + 5000) } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const started = Date.now();
  const pass = await call("/api/v1/agents/big/passes?wait=true", { method: "POST" });
  assert.equal(pass.status, 201, JSON.stringify(pass.body));
  console.log(`pass over ${entries.length} entries: ${Date.now() - started} ms wall, stages ${JSON.stringify(pass.body.stats.timings_ms)}`);
  assert.equal(pass.body.stats.changes, PAIRS);
  assert.equal(pass.body.stats.deferred, BEYOND);
  proposalId = pass.body.proposal_id;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("a proposal of 5,000 changes", () => {
  test("renders only the rows in view, and every change is reachable", async () => {
    const page = await browser.newPage();
    await page.goto(rt.baseUrl);
    await page.getByLabel("API token").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("agent-row").first().waitFor();

    const t0 = Date.now();
    await page.goto(`${rt.baseUrl}/#/proposals/${proposalId}`);
    await page.getByTestId("change-row").first().waitFor();
    const firstRender = Date.now() - t0;
    // The first hundred come first; bulk actions wait for the rest.
    const partial = await page.getByTestId("partial-note").count();
    if (partial > 0) {
      assert.match(await page.getByTestId("partial-note").innerText(), /first 100 of 5000 changes; the others are on their way/);
      assert.ok(await page.getByTestId("approve-all").isDisabled());
    }
    await page.locator('[data-testid="change-list"][aria-label^="5000 changes"]').waitFor();
    const whole = Date.now() - t0;
    assert.equal(await page.getByTestId("partial-note").count(), 0);
    assert.match(await page.getByTestId("deferred").innerText(), /found 3 more change\(s\) than one proposal holds; the next pass proposes them/);
    // An exact copy: one entry kept, the other retired, neither "kept".
    const joined = await page.getByTestId("merged-diffs").locator("li").allInnerTexts();
    assert.deepEqual(joined, ["e00000a kept as the result", "e00000b retired: the result says it word for word"]);
    assert.ok(!(await page.getByTestId("approve-all").isDisabled()));
    // Where the time went: the proposal's fetches, as the browser timed them.
    const fetched = await page.evaluate((id) => performance.getEntriesByType("resource")
      .filter((r) => r.name.includes(`/proposals/${id}`))
      .map((e) => ({ path: new URL(e.name).search || "whole", ms: Math.round(e.responseEnd - e.startTime), wait: Math.round(e.responseStart - e.requestStart), bytes: e.encodedBodySize })), proposalId);
    console.log(`proposal fetches: ${JSON.stringify(fetched)}; all 5000 changes after ${whole} ms`);
    const inDom = await page.getByTestId("change-row").count();
    assert.ok(inDom < 60, `${inDom} rows in the page: only those in view (and a few around) are rendered`);
    await screenshot(page, "15-review-5000");

    // Jump to the end by scrolling, then walk with the keyboard.
    const t1 = Date.now();
    await page.getByTestId("change-list").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator("#change-row-4999").waitFor();
    const toEnd = Date.now() - t1;
    await page.locator("#change-row-4999").click();
    const t2 = Date.now();
    for (let i = 0; i < 50; i++) await page.keyboard.press("k");
    await page.locator("#change-row-4949.selected").waitFor();
    const perKey = (Date.now() - t2) / 50;
    assert.ok((await page.getByTestId("change-row").count()) < 60);
    console.log(
      `5000-change proposal: first rows after ${firstRender} ms (fetch, parse, render); ` +
        `scrolled to the last change in ${toEnd} ms; ${perKey.toFixed(1)} ms per key press; ${inDom} rows in the page`,
    );
  });

  test("the memory after counts the whole store and lists changes beyond its first 5,000 entries", async () => {
    const call = (path, opts) => api(rt.baseUrl, path, opts);
    const last = (await call(`/api/v1/proposals/${proposalId}?offset=4999&limit=1`)).body.changes[0];
    const retired = last.targets.find((t) => t !== last.result.id);
    assert.ok(retired > "e02499b", `${retired} lies beyond the first 5,000 entries`);
    const page = await browser.newPage();
    await page.goto(rt.baseUrl);
    await page.getByLabel("API token").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("agent-row").first().waitFor();
    await page.goto(`${rt.baseUrl}/#/proposals/${proposalId}`);
    await page.locator('[data-testid="change-list"][aria-label^="5000 changes"]').waitFor();
    await page.getByTestId("change-list").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator("#change-row-4999").click();
    await page.getByTestId("accept").click();
    await page.getByTestId("preview-memory").click();
    const panel = page.getByTestId("memory-after");
    const active = (await call("/api/v1/stores/big")).body.active_entries;
    await panel.getByTestId("memory-after-summary").waitFor();
    assert.equal(
      await panel.getByTestId("memory-after-summary").innerText(),
      `${active - 1} entries after (0 reworded, 0 new, 1 retired); listed: the store's first 5,000 entries and every entry a change touches.`,
    );
    const rows = panel.getByTestId("memory-after-row");
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), new RegExp(`${retired}[\\s\\S]*retired by ${last.id}`));
  });
});
