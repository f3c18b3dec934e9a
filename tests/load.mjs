// A bounded load test on loopback: ingest many sessions through the API
// with a fixed number of requests in flight, fill a large store, and run a
// pass over it, printing requests per second, p50/p95 latencies and the
// pass's time per stage (the rules stage is the engine's CPU time, measured
// inside the worker between two storage round trips).
//
//   node tests/load.mjs [sessions] [entries]     (defaults 10000, 100000)
//
// `runLoad` is also used by load_smoke.test.mjs at a small size.

import { api, madeUpWord, startRuntime } from "./harness.mjs";

const HOUR = 3_600_000;

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(label, latencies, wallMs) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    what: label,
    requests: latencies.length,
    requests_per_s: Number(((latencies.length / wallMs) * 1000).toFixed(1)),
    p50_ms: Number(percentile(sorted, 50).toFixed(1)),
    p95_ms: Number(percentile(sorted, 95).toFixed(1)),
    max_ms: Number((sorted.at(-1) ?? 0).toFixed(1)),
    wall_s: Number((wallMs / 1000).toFixed(2)),
  };
}

/** Runs `work(i)` for i in 0..n with `concurrency` in flight; returns each
 * call's latency in ms and the wall time. */
async function hammer(n, concurrency, work) {
  const latencies = new Array(n);
  let next = 0;
  const started = performance.now();
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t = performance.now();
      await work(i);
      latencies[i] = performance.now() - t;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, wallMs: performance.now() - started };
}

const word = (i, k) => madeUpWord(i, k, 3);

/** Entry `i` of a store where every tenth entry repeats the one before it
 * and every twentieth restates a slot with a newer value. */
function entry(i, now) {
  const id = `e${String(i).padStart(7, "0")}`;
  const base = i % 10 === 9 ? i - 1 : i;
  if (i % 20 === 19) {
    return { id, text: `The ${word(base, 0)} service's region is ${word(i, 5)}.`, kind: "fact", observed_at: now - HOUR };
  }
  return {
    id,
    text: `The ${word(base, 0)} service's region is ${word(base, 1)}, and its owner ${word(base, 2)} reviews ${word(base, 3)} changes.`,
    kind: "fact",
    observed_at: now - 30 * 24 * HOUR + i,
  };
}

function transcript(i) {
  return {
    system: "You are a support agent.",
    messages: [
      { role: "user", content: `Hi, the ${word(i, 0)} dashboard shows an error for account ${i}.` },
      { role: "assistant", content: "Let me look that up." },
      { role: "user", content: i % 7 === 0 ? "No, I told you: use the EU region." : `I prefer answers in ${word(i, 4)} format.` },
      { role: "assistant", content: "Understood." },
    ],
  };
}

export async function runLoad({ sessions = 10_000, entries = 100_000, concurrency = 16, log = console.log } = {}) {
  const rt = await startRuntime({ seed: false });
  const call = (path, opts) => api(rt.baseUrl, path, opts);
  const results = {};
  try {
    const created = await call("/api/v1/agents", { body: { id: "load", name: "Load test", config: { inputs: { sessions_since: "7d" } } } });
    if (created.status !== 201) throw new Error(`agent: ${created.status} ${JSON.stringify(created.body)}`);
    const now = Date.now();

    const ingest = await hammer(sessions, concurrency, async (i) => {
      const res = await call("/api/v1/agents/load/sessions", {
        body: {
          id: `s${i}`, started_at: now - (i % 48) * HOUR, transcript: transcript(i),
          metrics: { task_completion_rate: (i % 10) / 10, error_rate: (i % 5) / 20 },
        },
      });
      if (res.status !== 201) throw new Error(`session ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    });
    results.ingest_sessions = summary("POST /agents/{id}/sessions", ingest.latencies, ingest.wallMs);
    log(JSON.stringify(results.ingest_sessions));

    const batch = 5000;
    const batches = Math.ceil(entries / batch);
    // One batch at a time: each is a new version of the store, and two at
    // once would race for the same version (the loser gets 409).
    const fill = await hammer(batches, 1, async (b) => {
      const list = [];
      for (let i = b * batch; i < Math.min(entries, (b + 1) * batch); i++) list.push(entry(i, now));
      const res = await call("/api/v1/stores/load/entries", { body: { entries: list } });
      if (res.status !== 201) throw new Error(`entries batch ${b}: ${res.status} ${JSON.stringify(res.body)}`);
    });
    results.fill_store = summary(`POST /stores/{id}/entries (${batch} entries each)`, fill.latencies, fill.wallMs);
    log(JSON.stringify(results.fill_store));

    const reads = await hammer(200, concurrency, async (i) => {
      const res = await call(`/api/v1/stores/load/entries?limit=100&after=e${String(i * 100).padStart(7, "0")}`);
      if (res.status !== 200) throw new Error(`read ${i}: ${res.status}`);
    });
    results.read_entries = summary("GET /stores/{id}/entries (100 per page)", reads.latencies, reads.wallMs);
    log(JSON.stringify(results.read_entries));

    const t = performance.now();
    const pass = await call("/api/v1/agents/load/passes?wait=true", { method: "POST" });
    const passWall = performance.now() - t;
    if (pass.status !== 201 || pass.body.status !== "completed") {
      throw new Error(`pass: ${pass.status} ${JSON.stringify(pass.body).slice(0, 500)}`);
    }
    const s = pass.body.stats;
    results.pass = {
      what: "pass over the store and the sessions of its window",
      entries: s.entries,
      sessions: s.sessions,
      changes: s.changes,
      changes_by_kind: s.changes_by_kind,
      wall_s: Number((passWall / 1000).toFixed(2)),
      stage_ms: s.timings_ms,
      cpu_rules_ms: s.timings_ms.rules,
    };
    log(JSON.stringify(results.pass));
    return results;
  } finally {
    await rt.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [sessions, entries] = process.argv.slice(2).map(Number);
  const results = await runLoad({ sessions: sessions || undefined, entries: entries || undefined });
  console.log(JSON.stringify({ bench: "load", ...results }));
}
