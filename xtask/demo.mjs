// Fills the demo agent of `cargo xtask run` through the API, once: a
// support agent's memory with duplicates, a superseded fact, a stale note,
// related notes and a poisoned entry from a web page, plus three sessions
// where the user keeps correcting the same thing. Then it runs a pass (rules
// only unless an LLM key is set) so there is a proposal to review.
//
//   node xtask/demo.mjs <base url> <admin token>

import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [base, token] = process.argv.slice(2);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function call(path, body) {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error?.message ?? JSON.stringify(json)}`);
  return json;
}

const store = await call("/api/v1/stores/agent_demo");
if (store.entries > 0) {
  console.log(`demo: agent_demo already has ${store.entries} entries; nothing added`);
  process.exit(0);
}
const demo = JSON.parse(await readFile(join(dirname(fileURLToPath(import.meta.url)), "..", "worker", "seed", "demo.json"), "utf8"));
const now = Date.now();
const entries = demo.entries.map(({ age_days, trust, ...e }) => ({
  ...e,
  observed_at: now - age_days * DAY,
  ...(trust ? { provenance: { trust } } : {}),
}));
await call("/api/v1/stores/agent_demo/entries", { entries });
for (const s of demo.sessions) {
  await call("/api/v1/agents/agent_demo/sessions", {
    id: s.id, started_at: now - s.age_hours * HOUR, transcript: s.transcript, metrics: s.metrics,
  });
}
const pass = await call("/api/v1/agents/agent_demo/passes?wait=true", {});
const kinds = Object.entries(pass.stats.changes_by_kind).map(([k, n]) => `${n} ${k}`).join(", ");
console.log(`demo: ${entries.length} entries and ${demo.sessions.length} sessions added; pass #${pass.id} (${pass.stats.llm.mode.replace("_", "-")}) proposes ${kinds || "nothing"}`);
console.log(`demo: review it at ${base}/#/proposals/${pass.proposal_id}`);
