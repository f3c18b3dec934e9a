// A bounded load test on loopback: ingest many sessions through the API
// with a fixed number of requests in flight, fill a large store, run a
// pass over it and approve the whole proposal while entry writes arrive,
// printing requests per second, p50/p95 latencies, the pass's time per
// stage (the rules stage is the engine's CPU time, measured inside the
// worker between two storage round trips), every answer of 500 or more,
// and memory: the runtime process's peak resident memory over its idle
// size during each request, and the engine's WebAssembly memory (the most
// it has held; it never shrinks). Production gives an isolate 128 MB.
//
//   node tests/load.mjs [sessions] [entries]     (defaults 10000, 100000)
//   node tests/load.mjs --sizes 10000,100000,1000000 [sessions]
//                                               (one fresh runtime per size)
//   --writes N: entry writes sent during the approval (default 40)
//   REVERIE_LOAD_LOG=FILE keeps the runtime's log there
//
// `runLoad` is also used by load_smoke.test.mjs at a small size.

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
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

/** The runtime (workerd) among the descendants of process `root`. */
function runtimePid(root) {
  const children = new Map();
  const names = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid ...": the name may hold spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      names.set(Number(name), stat.slice(stat.indexOf("(") + 1, close));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    if (names.get(pid) === "workerd") return pid;
    queue.push(...(children.get(pid) ?? []));
  }
  throw new Error(`no workerd process under ${root}`);
}

/** Resident memory of `pid` in MB. */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) / 1024;
}

/** Samples the runtime's resident memory every 20 ms; `during(work)` gives
 * the work's result and the peak seen while it ran. */
function memoryWatch(pid) {
  const idle = rssMb(pid);
  return {
    idle,
    async during(work) {
      let peak = rssMb(pid);
      const timer = setInterval(() => {
        try {
          peak = Math.max(peak, rssMb(pid));
        } catch {
          // the runtime went away; the request's answer will say so
        }
      }, 20);
      try {
        const result = await work();
        return { result, peak_rss_mb: Math.round(Math.max(peak, rssMb(pid))) };
      } finally {
        clearInterval(timer);
      }
    },
  };
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

export async function runLoad({ sessions = 10_000, entries = 100_000, concurrency = 16, writes = 40, log = console.log } = {}) {
  const rt = await startRuntime({ seed: false });
  const call = (path, opts) => api(rt.baseUrl, path, opts);
  const results = {};
  // Every answer of 500 or more, by request.
  const failures = [];
  // A 5xx where the run can go on (a write during the approval, the
  // approval itself) is recorded and the run goes on, so every figure is
  // printed; the run fails at the end.
  const expect = (what, res, ok, { fatal = true } = {}) => {
    if (res.status >= 500) failures.push({ what, status: res.status, body: JSON.stringify(res.body).slice(0, 200) });
    if (ok.includes(res.status) || (!fatal && res.status >= 500)) return;
    throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  };
  const engineMb = async () => {
    const health = await call("/api/health");
    return Math.round(health.body.engine_memory_bytes / 2 ** 20);
  };
  try {
    const memory = memoryWatch(runtimePid(rt.pid));
    results.memory = { what: "runtime process (workerd) resident memory, idle", idle_rss_mb: Math.round(memory.idle) };
    log(JSON.stringify(results.memory));
    const created = await call("/api/v1/agents", { body: { id: "load", name: "Load test", config: { inputs: { sessions_since: "7d" } } } });
    expect("agent", created, [201]);
    const now = Date.now();

    const ingest = await memory.during(() => hammer(sessions, concurrency, async (i) => {
      const res = await call("/api/v1/agents/load/sessions", {
        body: {
          id: `s${i}`, started_at: now - (i % 48) * HOUR, transcript: transcript(i),
          metrics: { task_completion_rate: (i % 10) / 10, error_rate: (i % 5) / 20 },
        },
      });
      expect(`session ${i}`, res, [201]);
    }));
    results.ingest_sessions = { ...summary("POST /agents/{id}/sessions", ingest.result.latencies, ingest.result.wallMs), peak_rss_mb: ingest.peak_rss_mb };
    log(JSON.stringify(results.ingest_sessions));

    const batch = 5000;
    const batches = Math.ceil(entries / batch);
    // One batch at a time: each is a new version of the store, and two at
    // once would race for the same version (the loser gets 409).
    const fill = await memory.during(() => hammer(batches, 1, async (b) => {
      const list = [];
      for (let i = b * batch; i < Math.min(entries, (b + 1) * batch); i++) list.push(entry(i, now));
      const res = await call("/api/v1/stores/load/entries", { body: { entries: list } });
      expect(`entries batch ${b}`, res, [201]);
      if (b % 20 === 19) log(`  filled ${(b + 1) * batch} entries`);
    }));
    results.fill_store = { ...summary(`POST /stores/{id}/entries (${batch} entries each)`, fill.result.latencies, fill.result.wallMs), peak_rss_mb: fill.peak_rss_mb };
    log(JSON.stringify(results.fill_store));

    const reads = await hammer(200, concurrency, async (i) => {
      const res = await call(`/api/v1/stores/load/entries?limit=100&after=e${String(i * 100).padStart(7, "0")}`);
      expect(`read ${i}`, res, [200]);
    });
    results.read_entries = summary("GET /stores/{id}/entries (100 per page)", reads.latencies, reads.wallMs);
    log(JSON.stringify(results.read_entries));

    const t = performance.now();
    const passed = await memory.during(() => call("/api/v1/agents/load/passes?wait=true", { method: "POST" }));
    const pass = passed.result;
    const passWall = performance.now() - t;
    expect("pass", pass, [201]);
    if (pass.body.status !== "completed") throw new Error(`pass: ${JSON.stringify(pass.body).slice(0, 500)}`);
    const s = pass.body.stats;
    results.pass = {
      what: "pass over the store and the sessions of its window",
      entries: s.entries,
      sessions: s.sessions,
      changes: s.changes,
      // Found beyond the most one proposal holds: the next pass's.
      deferred: s.deferred,
      changes_by_kind: s.changes_by_kind,
      wall_s: Number((passWall / 1000).toFixed(2)),
      stage_ms: s.timings_ms,
      cpu_rules_ms: s.timings_ms.rules,
      peak_rss_mb: passed.peak_rss_mb,
      engine_mb: Math.round(s.engine_memory_bytes / 2 ** 20),
    };
    log(JSON.stringify(results.pass));

    // The whole proposal approved while entry writes arrive, a few at a
    // time: each write is a 201, or a 409 when it raced the approval's
    // commit; never a 5xx, and never a restart.
    const written = [];
    const t2 = performance.now();
    const approval = await memory.during(() => Promise.all([
      call(`/api/v1/proposals/${pass.body.proposal_id}/approve`, { method: "POST" }),
      hammer(writes, 4, async (i) => {
        const res = await call("/api/v1/stores/load/entries", {
          body: { entries: [{ id: `w${i}`, text: `Write ${i} arrived during the approval.`, kind: "note" }] },
        });
        written.push(res.status);
        expect(`write ${i} during the approval`, res, [201, 409], { fatal: false });
      }),
    ]));
    const [approved, writing] = approval.result;
    expect("approve", approved, [200, 409], { fatal: false });
    results.approve = {
      what: "approve the whole proposal with entry writes arriving",
      status: approved.status,
      accepted: approved.body.accepted,
      wall_s: Number(((performance.now() - t2) / 1000).toFixed(2)),
      writes_201: written.filter((x) => x === 201).length,
      writes_409: written.filter((x) => x === 409).length,
      writes_5xx: written.filter((x) => x >= 500).length,
      // A write is answered while the approval goes on, not after it.
      writes_max_ms: Math.round(Math.max(...writing.latencies)),
      peak_rss_mb: approval.peak_rss_mb,
      engine_mb: await engineMb(),
    };
    log(JSON.stringify(results.approve));
    results.server_errors = failures;
    log(JSON.stringify({ what: "answers of 500 or more", count: failures.length, first: failures.slice(0, 3) }));
    return results;
  } catch (e) {
    e.message += `\n-- the runtime's last words:\n${rt.logs().slice(-4000)}`;
    throw e;
  } finally {
    // `REVERIE_LOAD_LOG=FILE` keeps the runtime's log.
    if (process.env.REVERIE_LOAD_LOG) writeFileSync(process.env.REVERIE_LOAD_LOG, rt.logs());
    await rt.stop();
  }
}

/** One fresh runtime per store size, `sessions` sessions each; a table of
 * what each request held at its peak. */
async function runSizes(sizes, sessions, writes) {
  const rows = [];
  for (const entries of sizes) {
    console.log(`== ${entries} entries, ${sessions} sessions`);
    const r = await runLoad({ sessions, entries, writes });
    rows.push({
      entries,
      idle_rss_mb: r.memory.idle_rss_mb,
      fill_peak_rss_mb: r.fill_store.peak_rss_mb,
      pass_s: r.pass.wall_s,
      pass_peak_rss_mb: r.pass.peak_rss_mb,
      pass_engine_mb: r.pass.engine_mb,
      approve_changes: r.approve.accepted,
      approve_s: r.approve.wall_s,
      approve_peak_rss_mb: r.approve.peak_rss_mb,
      approve_engine_mb: r.approve.engine_mb,
      server_errors: r.server_errors.length,
    });
  }
  console.table(rows);
  console.log(JSON.stringify({ bench: "load-sizes", rows }));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  // `--writes N`: entry writes sent during the approval (default 40).
  const w = args.indexOf("--writes");
  const writes = w >= 0 ? Number(args.splice(w, 2)[1]) : 40;
  const at = args.indexOf("--sizes");
  if (at >= 0) {
    const sizes = (args[at + 1] ?? "").split(",").map(Number);
    if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n <= 0)) {
      throw new Error(`--sizes needs entry counts such as 10000,100000, not ${args[at + 1]}`);
    }
    const rest = args.filter((_, i) => i !== at && i !== at + 1).map(Number);
    const rows = await runSizes(sizes, rest[0] || 1000, writes);
    if (rows.some((r) => r.server_errors > 0)) process.exitCode = 1;
  } else {
    const [sessions, entries] = args.map(Number);
    const results = await runLoad({ sessions: sessions || undefined, entries: entries || undefined, writes });
    console.log(JSON.stringify({ bench: "load", ...results }));
    if (results.server_errors.length > 0) process.exitCode = 1;
  }
}
