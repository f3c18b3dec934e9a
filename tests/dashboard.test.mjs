// The dashboard in Debian's Chromium against the local runtime: sign in,
// configure a schedule, dream now, review by mouse and keyboard, submit a
// partial decision, see the version in history, roll back, read outcome
// charts and a regression, and review offline — from the cache, synced on
// reconnect, with a conflict when the store moved meanwhile. Every screen
// is saved as a screenshot in tests/artifacts.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, api, launchBrowser, screenshot, startRuntime } from "./harness.mjs";

const DAY = 86_400_000;
let rt;
let call;
let browser;
let page;
const errors = [];
/** The address of the proposal reviewed first. */
let reviewed;

function expectOk(res) {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function ingest(agent, id, metrics) {
  expectOk(await call(`/api/v1/agents/${agent}/sessions`, {
    body: { id, started_at: Date.now(), transcript: { messages: [{ role: "user", content: `Session ${id}` }] }, metrics },
  }));
}

/** The app shell must be under the service worker before going offline. */
async function waitForServiceWorker() {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    }
  });
}

before(async () => {
  rt = await startRuntime();
  call = (path, opts) => api(rt.baseUrl, path, opts);
  expectOk(await call("/api/v1/agents", { body: { id: "web_a", name: "Support bot" } }));
  expectOk(await call("/api/v1/stores/web_a/entries", {
    body: { entries: [
      { id: "m1", text: "The user prefers dark mode in the editor.", kind: "preference" },
      { id: "m2", text: "User preferred dark mode in editors", kind: "preference" },
      { id: "m3", text: "The user's shell is bash.", kind: "fact", observed_at: Date.now() - 10 * DAY },
      { id: "m4", text: "The user's shell is fish.", kind: "fact", observed_at: Date.now() - DAY },
      { id: "m5", text: "Lunch with Dana tomorrow at noon", kind: "note", observed_at: Date.now() - 30 * DAY },
    ] },
  }));
  // Sessions under version 1: tasks done, few errors.
  for (let i = 0; i < 8; i++) {
    await ingest("web_a", `before_${i}`, { task_completion_rate: 0.9 + (i % 3) * 0.02, error_rate: 0.05 + (i % 2) * 0.01 });
  }
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error" && /panicked/.test(msg.text())) errors.push(msg.text());
  });
});
after(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("the review dashboard", () => {
  test("sign in: a wrong token is refused, the admin's accepted", async () => {
    await page.goto(rt.baseUrl);
    await page.getByLabel("API token").waitFor();
    await screenshot(page, "01-sign-in");
    await page.getByLabel("API token").fill("rvr_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That token was not accepted").waitFor();
    await page.getByLabel("API token").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("agent-row").first().waitFor();
    assert.match(await page.getByTestId("who").innerText(), /admin/);
    assert.equal(await page.getByTestId("agent-row").count(), 2);
    const row = page.getByTestId("agent-row").filter({ hasText: "Support bot" });
    assert.match(await row.innerText(), /5 active/);
    await screenshot(page, "02-agents");
  });

  test("configure a schedule, checked as it is typed", async () => {
    await page.getByRole("link", { name: "Support bot" }).click();
    await page.getByTestId("settings-form").waitFor();
    await page.getByLabel("Schedule").selectOption("weekly");
    await page.getByLabel("Time of day (UTC)").fill("25:00");
    await page.getByText("hours run 00-23").waitFor();
    assert.equal(await page.getByTestId("save-config").isDisabled(), true);
    await page.getByLabel("Time of day (UTC)").fill("04:30");
    await page.getByLabel("Notify").fill("alice@team.example, review-bot@team.example");
    assert.equal(await page.getByText("hours run 00-23").count(), 0);
    const yaml = await page.getByTestId("config-text").innerText();
    assert.match(yaml, /schedule: "weekly"/);
    assert.match(yaml, /schedule_time: "04:30 UTC"/);
    await page.getByTestId("save-config").click();
    await page.getByTestId("save-status").getByText("Saved.").waitFor();
    await screenshot(page, "03-agent-settings");
    const agent = expectOk(await call("/api/v1/agents/web_a"));
    assert.equal(agent.schedule, "weekly");
    assert.equal(agent.schedule_time, "04:30 UTC");
    assert.deepEqual(agent.notify, ["alice@team.example", "review-bot@team.example"]);
  });

  test("dream now shows the pass's progress until the proposal is ready", async () => {
    await page.getByTestId("dream-now").click();
    await page.getByTestId("pass-done").waitFor();
    assert.match(await page.getByTestId("pass-progress").innerText(), /Finding duplicates/);
    await screenshot(page, "04-dream-now");
    await page.getByTestId("pass-done").getByRole("link", { name: "Review the proposal" }).click();
    await page.getByTestId("change-row").first().waitFor();
    reviewed = page.url();
  });

  test("review with the mouse and the keyboard, then submit a partial decision", async () => {
    const rows = page.getByTestId("change-row");
    assert.equal(await rows.count(), 3);
    const kinds = await rows.allInnerTexts();
    const index = (kind) => kinds.findIndex((t) => t.toLowerCase().includes(kind));
    // Mouse: accept the merge.
    await rows.nth(index("merge")).click();
    await page.getByTestId("accept").click();
    await page.getByTestId("decision").getByText("accepted").waitFor();
    // Keyboard: move to the supersession and edit its text.
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    const target = index("supersede");
    const selected = async () => Number((await page.locator(".row.selected").getAttribute("id")).replace("change-row-", ""));
    while ((await selected()) !== target) {
      await page.keyboard.press((await selected()) < target ? "j" : "k");
    }
    await page.keyboard.press("e");
    await page.getByTestId("editor").waitFor();
    await page.locator("#edit-text").fill("The user's shell is fish, since March.");
    await page.getByTestId("editor").locator("ins").filter({ hasText: "since March." }).waitFor();
    await screenshot(page, "05-review-editing");
    await page.getByTestId("save-edit").click();
    await page.getByTestId("decision").getByText("edited").waitFor();
    // Keyboard: reject the prune.
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    while ((await selected()) !== index("prune")) {
      await page.keyboard.press((await selected()) < index("prune") ? "j" : "k");
    }
    await page.keyboard.press("r");
    await page.keyboard.press("?");
    await page.getByTestId("help").waitFor();
    await screenshot(page, "06-review-help");
    await page.keyboard.press("Escape");
    assert.equal(await page.getByTestId("help").count(), 0);
    assert.match(await rows.nth(index("prune")).innerText(), /rejected/);
    await page.getByTestId("submit-partial").click();
    await page.getByTestId("review-notice").getByText("the store at version 2").waitFor();
    await page.getByTestId("proposal-status").filter({ hasText: /applied/i }).waitFor();
    await screenshot(page, "07-review-submitted");
    const m4 = expectOk(await call("/api/v1/stores/web_a/entries/m4"));
    assert.equal(m4.text, "The user's shell is fish, since March.");
    const m5 = expectOk(await call("/api/v1/stores/web_a/entries/m5"));
    assert.equal(m5.status, "active", "the rejected prune left it alone");
  });

  test("history shows the new version and its diff, the chain verifies, and a rollback is confirmed", async () => {
    // Sessions under version 2: fewer tasks done, more errors.
    for (let i = 0; i < 8; i++) {
      await ingest("web_a", `after_${i}`, { task_completion_rate: 0.6 + (i % 3) * 0.02, error_rate: 0.2 + (i % 2) * 0.01 });
    }
    await page.getByRole("link", { name: "history" }).click();
    await page.getByTestId("version").first().waitFor();
    await page.getByTestId("chain-check").getByText("Audit chain intact").waitFor();
    const newest = page.getByTestId("version").first();
    assert.match(await newest.innerText(), /v2.*applied prop_/s);
    await page.getByTestId("entry-diff").first().waitFor();
    assert.ok((await page.getByTestId("entry-diff").count()) >= 3);
    assert.ok((await page.getByTestId("audit-record").count()) >= 8);
    await screenshot(page, "08-history");
    const v1 = page.locator('[data-testid="version"][data-version="1"]');
    await v1.getByTestId("rollback").click();
    await v1.getByLabel("Reason").fill("checking the outcomes first");
    await v1.getByTestId("confirm-rollback").click();
    await page.getByTestId("rollback-done").waitFor();
    assert.match(await page.getByTestId("rollback-done").innerText(), /version 3 equals version 1/);
    await page.getByTestId("chain-check").getByText("Audit chain intact").waitFor();
    await screenshot(page, "09-history-rolled-back");
    const m4 = expectOk(await call("/api/v1/stores/web_a/entries/m4"));
    assert.equal(m4.text, "The user's shell is fish.");
  });

  test("outcome charts, the comparison, and the regression banner", async () => {
    await page.goto(`${rt.baseUrl}/#/agents/web_a/outcomes`);
    await page.getByTestId("chart").first().waitFor();
    assert.equal(await page.getByTestId("chart").count(), 2);
    assert.ok((await page.getByTestId("chart-marker").count()) >= 4, "versions are marked on every chart");
    assert.ok((await page.getByTestId("chart-pass").count()) >= 2, "and passes too");
    await page.getByLabel("Baseline: sessions under").selectOption("1");
    await page.getByLabel("against").selectOption("2");
    await page.getByTestId("regression-banner").waitFor();
    assert.match(await page.getByTestId("regression-banner").innerText(), /task_completion_rate/);
    assert.equal(await page.getByTestId("metric-row").count(), 2);
    await screenshot(page, "10-outcomes");
  });

  test("offline: review a cached proposal, queue the decision, sync on reconnect", async () => {
    const pass = expectOk(await call("/api/v1/agents/web_a/passes?wait=true", { method: "POST" }));
    await page.goto(`${rt.baseUrl}/#/proposals/${pass.proposal_id}`);
    await page.getByTestId("change-row").first().waitFor();
    await waitForServiceWorker();
    await browser.context.setOffline(true);
    await page.reload();
    await page.getByTestId("offline-copy").waitFor();
    await page.getByTestId("offline-badge").waitFor();
    await page.getByTestId("change-row").first().click();
    await page.getByTestId("accept").click();
    await page.getByTestId("submit-partial").click();
    await page.getByTestId("review-notice").getByText("Saved on this device").waitFor();
    await page.getByTestId("outbox-badge").waitFor();
    await screenshot(page, "11-offline-review");
    assert.equal(expectOk(await call(`/api/v1/proposals/${pass.proposal_id}`)).status, "pending", "nothing sent yet");
    await browser.context.setOffline(false);
    await page.getByTestId("outbox-badge").waitFor({ state: "detached" });
    const after = expectOk(await call(`/api/v1/proposals/${pass.proposal_id}`));
    assert.notEqual(after.status, "pending");
    assert.equal(after.changes.filter((c) => c.decision?.decision === "accept").length, 1);
    await page.getByTestId("proposal-status").filter({ hasNotText: "pending" }).waitFor();
  });

  test("offline with a conflict: the store moved meanwhile, the reviewer sees which changes", async () => {
    expectOk(await call("/api/v1/stores/web_a/entries", {
      body: { entries: [
        { id: "c1", text: "The staging cluster runs on Kubernetes 1.29.", kind: "fact", observed_at: Date.now() - 9 * DAY },
        { id: "c2", text: "The staging cluster runs on Kubernetes 1.31.", kind: "fact", observed_at: Date.now() - DAY },
      ] },
    }));
    const first = expectOk(await call("/api/v1/agents/web_a/passes?wait=true", { method: "POST" }));
    const second = expectOk(await call("/api/v1/agents/web_a/passes?wait=true", { method: "POST" }));
    await page.goto(`${rt.baseUrl}/#/proposals/${second.proposal_id}`);
    await page.getByTestId("change-row").first().waitFor();
    await browser.context.setOffline(true);
    await page.getByTestId("approve-all").click();
    await page.getByTestId("review-notice").getByText("Saved on this device").waitFor();
    // Meanwhile someone else applies the first proposal: the same entries move.
    expectOk(await call(`/api/v1/proposals/${first.proposal_id}/approve`, { method: "POST" }));
    await browser.context.setOffline(false);
    await page.getByTestId("conflict-banner").waitFor();
    const banner = await page.getByTestId("conflict-banner").innerText();
    assert.match(banner, /The store moved/);
    await page.locator(".badge.conflict").first().waitFor();
    await screenshot(page, "12-conflict");
    // Set aside, the conflicting changes stay pending; they cannot apply on
    // the moved store, so the reviewer rejects them, by keyboard.
    const conflicting = (banner.match(/changed meanwhile: ([^.]+)\./)[1]).split(", ");
    await page.getByTestId("set-aside").click();
    assert.equal(await page.getByTestId("conflict-banner").count(), 0);
    await page.locator(".badge.conflict").first().waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("submit-partial").innerText(), `Submit ${(await page.getByTestId("change-row").count()) - conflicting.length} decision(s)`);
    await page.getByTestId("change-row").first().click();
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < (await page.getByTestId("change-row").count()); i++) await page.keyboard.press("r");
    await page.getByTestId("submit-partial").click();
    await page.getByTestId("review-notice").getByText("the store at version").waitFor();
    const settled = expectOk(await call(`/api/v1/proposals/${second.proposal_id}`));
    assert.equal(settled.status, "rejected");
    assert.equal(await page.getByTestId("conflict-banner").count(), 0);
  });

  test("evidence from a transcript opens into the messages around it", async () => {
    for (let i = 0; i < 3; i++) {
      expectOk(await call("/api/v1/agents/web_a/sessions", {
        body: {
          id: `tz_${i}`, started_at: Date.now() - (i + 1) * 3_600_000,
          transcript: { messages: [
            { role: "user", content: `Can you book the call for ${i + 2} pm?` },
            { role: "assistant", content: "Booked for 2 pm PST." },
            { role: "user", content: "No, use CET times, not PST: we are in Berlin." },
            { role: "assistant", content: "Sorry, CET it is." },
          ] },
        },
      }));
    }
    const pass = expectOk(await call("/api/v1/agents/web_a/passes?wait=true", { method: "POST" }));
    await page.goto(`${rt.baseUrl}/#/proposals/${pass.proposal_id}`);
    const promote = page.getByTestId("change-row").filter({ hasText: /promote/i });
    await promote.first().click();
    assert.match(await page.getByTestId("change-detail").innerText(), /seen in 3 sessions/);
    await page.getByTestId("expand-evidence").first().click();
    const transcript = page.getByTestId("transcript").first();
    await transcript.waitFor();
    assert.match(await transcript.locator("li.quoted").innerText(), /No, use CET times, not PST/);
    assert.ok((await transcript.locator("li").count()) >= 3, "the messages around the quote are shown");
    await screenshot(page, "13-evidence-transcript");
  });

  test("a page seen before shows its saved copy at once while the service is slow", async () => {
    await page.goto(reviewed);
    await page.getByTestId("change-row").first().waitFor();
    await page.goto(`${rt.baseUrl}/#/`);
    await page.getByTestId("agent-row").first().waitFor();
    let release;
    const held = new Promise((r) => (release = r));
    await page.route("**/api/v1/proposals/*", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(reviewed);
    await page.getByTestId("change-row").first().waitFor({ timeout: 5000 });
    await page.getByTestId("saved-copy").waitFor();
    release();
    await page.getByTestId("saved-copy").waitFor({ state: "detached" });
    await page.unroute("**/api/v1/proposals/*");
  });

  test("a reviewer sees only the agents granted, and the review page fits a narrow window", async () => {
    const reviewer = expectOk(await call("/api/v1/tokens", { body: { role: "reviewer", agents: ["web_a"], label: "bob" } }));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").fill(reviewer.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("agent-row").first().waitFor();
    assert.equal(await page.getByTestId("agent-row").count(), 1);
    assert.match(await page.getByTestId("who").innerText(), /reviewer · bob/i);
    await page.setViewportSize({ width: 420, height: 860 });
    await page.goto(reviewed);
    await page.getByTestId("change-row").first().waitFor();
    await screenshot(page, "14-review-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  });
});
