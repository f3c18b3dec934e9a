// The command-line client (`reverie`, the `cli/` crate) end to end, against
// the local Workers runtime with a local D1: a Claude Code project folder
// pushed, a pass's merge approved and pulled back into the files with every
// other byte kept, a file edited here refused, the agent's status, and two
// versions of a memory folder compared. The binary is `target/debug/reverie`
// (`cargo xtask test` builds it and names it in REVERIE_CLI).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ADMIN, ROOT, api, expectStatus, startRuntime } from "./harness.mjs";

const CLI = process.env.REVERIE_CLI || join(ROOT, "target", "debug", "reverie");
const SESSION = "0b3c7c4e-5f5e-4b8a-9d5c-1f2e3d4c5b6a";

let rt;
let call;
let home;
let token;
before(async () => {
  assert.ok(existsSync(CLI), `no client at ${CLI}: build it with \`cargo build -p reverie-cli\``);
  rt = await startRuntime();
  call = (path, opts) => api(rt.baseUrl, path, opts);
  // As the client names files: with links resolved.
  home = await realpath(await mkdtemp(join(tmpdir(), "reverie-cli-")));
});
after(async () => {
  await rt?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Runs the client in `home`; resolves `{ code, stdout, stderr }` whatever
 * its exit. `token: null` runs it with no token at all. */
function reverie(args, { token: t = token } = {}) {
  const env = { ...process.env, REVERIE_URL: rt.baseUrl };
  delete env.REVERIE_TOKEN;
  if (t) env.REVERIE_TOKEN = t;
  return new Promise((resolve) => {
    execFile(CLI, args, { cwd: home, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function expectExit(run, code) {
  assert.equal(run.code, code, `expected exit ${code}, got ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return run;
}

/** Every file under `dir`, by its path relative to it, with its bytes. */
async function snapshot(dir) {
  const out = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    out[path.slice(dir.length + 1)] = await readFile(path, "utf8");
  }
  return out;
}

async function writeFiles(dir, files) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

async function runPassAndApprove(agent) {
  const pass = expectStatus(await call(`/api/v1/agents/${agent}/passes?wait=true`, { method: "POST" }), 201);
  assert.equal(pass.status, "completed", JSON.stringify(pass));
  assert.ok(pass.proposal_id, JSON.stringify(pass));
  const p = expectStatus(await call(`/api/v1/proposals/${pass.proposal_id}`), 200);
  expectStatus(await call(`/api/v1/proposals/${p.id}/approve`, { method: "POST" }), 200);
  return p;
}

/** The lines of `before` that `after` no longer holds. */
function dropped(before, after) {
  const now = new Set(after.split("\n"));
  return before.split("\n").filter((l) => !now.has(l));
}

/** A Claude Code project folder: a memory index and a topic file holding
 * one preference twice in other words, and a session transcript. */
const MEMORY = {
  "memory/MEMORY.md":
    "# Memory index\n\n- [Testing](feedback_testing.md) — how tests run\n\n" +
    "- The user prefers dark mode in the editor.\n- The user's shell is bash.\n",
  "memory/feedback_testing.md":
    "---\nname: Testing\ndescription: how tests run\ntype: feedback\n---\n\n" +
    "- Integration tests hit a real database, never mocks.\n- User preferred dark mode in editors\n",
};
const TRANSCRIPT =
  [
    { type: "user", message: { role: "user", content: "I moved to Berlin last month." } },
    { type: "assistant", message: { role: "assistant", content: [{ type: "text", text: "Noted: Berlin." }] } },
  ]
    .map((line, i) =>
      JSON.stringify({
        parentUuid: i ? `u${i - 1}` : null,
        sessionId: SESSION,
        uuid: `u${i}`,
        timestamp: new Date(Date.UTC(2026, 0, 5, 10, i)).toISOString(),
        ...line,
      }),
    )
    .join("\n") + "\n";

describe("reverie push, pull and status on a Claude Code folder", () => {
  let dir;
  let memory;

  before(async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "cli_a", name: "CLI agent" } }), 201);
    // The client runs with an ingest token for its one agent, as a hook would.
    token = expectStatus(
      await call("/api/v1/tokens", { body: { role: "ingest", agents: ["cli_a"], label: "cli" } }),
      201,
    ).token;
    dir = join(home, "projects", "-home-u-proj");
    memory = join(dir, "memory");
    await writeFiles(dir, { ...MEMORY, [`${SESSION}.jsonl`]: TRANSCRIPT });
  });

  test("without a token the client says which one it needs; a bad one is the service's 401", async () => {
    const none = expectExit(await reverie(["status", "--agent", "cli_a"], { token: null }), 2);
    assert.match(none.stderr, /REVERIE_TOKEN/);
    const bad = expectExit(await reverie(["status", "--agent", "cli_a"], { token: "rvr_nope" }), 1);
    assert.match(bad.stderr, /401/);
    expectExit(await reverie(["--help"], { token: null }), 0);
  });

  test("push imports the memory files and sends the transcript; pull with nothing approved writes nothing", async () => {
    const push = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_a"]), 0);
    assert.match(push.stdout, /memory: 2 files read, 4 entries: 4 added, 0 removed, 0 unchanged/);
    assert.match(push.stdout, /sessions: /);
    // The Claude Code transcript was taken, under its own id.
    assert.ok(push.stdout.includes(`session ${SESSION}.jsonl: pushed as ${SESSION}`), push.stdout + push.stderr);
    const sessions = expectStatus(await call("/api/v1/agents/cli_a/sessions"), 200).sessions;
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    const state = JSON.parse(await readFile(join(dir, ".reverie/state.json"), "utf8"));
    assert.deepEqual(state.agents.cli_a.files.map((f) => f.path).sort(), Object.keys(MEMORY).sort());
    // Pushed again: the memory as it was, the session not sent twice.
    const again = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_a"]), 0);
    assert.match(again.stdout, /0 added, 0 removed, 4 unchanged/);
    assert.match(again.stdout, /sessions: 0 pushed, 1 pushed before, 0 failed/);
    const before = await snapshot(memory);
    const pull = expectExit(await reverie(["pull", dir, "--agent", "cli_a"]), 0);
    assert.match(pull.stdout, /No approved change since the push/);
    assert.deepEqual(await snapshot(memory), before);
    assert.ok(!existsSync(join(dir, ".reverie/backup")));
  });

  test("a transcript that grew since it was pushed is sent again and grows; one rewritten is skipped", async () => {
    const more = JSON.stringify({
      parentUuid: "u1",
      sessionId: SESSION,
      uuid: "u2",
      timestamp: new Date(Date.UTC(2026, 0, 5, 10, 2)).toISOString(),
      type: "user",
      message: { role: "user", content: "And I work from home on Fridays." },
    });
    await appendFile(join(dir, `${SESSION}.jsonl`), more + "\n");
    const grew = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_a"]), 0);
    assert.match(grew.stdout, /gained 1 messages/);
    // Rewritten rather than grown: refused by the service, said, skipped.
    await writeFile(join(dir, `${SESSION}.jsonl`), TRANSCRIPT.replace("Berlin last month", "Munich"));
    const push = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_a"]), 0);
    assert.match(push.stderr, /changed since it was pushed, not only grown/);
    assert.match(push.stdout, /1 changed since pushed \(skipped\)/);
  });

  test("an approved merge is pulled: one line gone, every other byte kept, the old file backed up", async () => {
    const before = await snapshot(memory);
    await runPassAndApprove("cli_a");
    const pull = expectExit(await reverie(["pull", dir, "--agent", "cli_a"]), 0);
    assert.match(pull.stdout, /Wrote store cli_a version \d+ into 1 file/);
    const now = await snapshot(memory);
    assert.deepEqual(Object.keys(now).sort(), Object.keys(before).sort());
    const removed = Object.keys(before).flatMap((p) => dropped(before[p], now[p]));
    assert.equal(removed.length, 1, JSON.stringify(now));
    assert.match(removed[0], /dark mode/);
    const changed = Object.keys(before).filter((p) => before[p] !== now[p]);
    assert.equal(changed.length, 1);
    assert.equal(now[changed[0]], before[changed[0]].replace(removed[0] + "\n", ""));
    // The file's previous bytes are in the backup, under its bundle path.
    const backups = await readdir(join(dir, ".reverie/backup"));
    assert.equal(backups.length, 1);
    const saved = await readFile(join(dir, ".reverie/backup", backups[0], "memory", changed[0]), "utf8");
    assert.equal(saved, before[changed[0]]);
    // Pulled again: nothing new, nothing written, no second backup.
    const again = expectExit(await reverie(["pull", dir, "--agent", "cli_a"]), 0);
    assert.match(again.stdout, /No approved change since the last pull/);
    assert.deepEqual(await snapshot(memory), now);
    assert.equal((await readdir(join(dir, ".reverie/backup"))).length, 1);
  });

  test("status shows the agent and what the folder last pushed and pulled", async () => {
    const status = expectExit(await reverie(["status", dir, "--agent", "cli_a"]), 0);
    assert.match(status.stdout, /agent cli_a \(CLI agent\)/);
    assert.match(status.stdout, /store cli_a: version \d+, 3 active entries/);
    assert.match(status.stdout, /last pass: #\d+ completed/);
    assert.match(status.stdout, /proposals pending: 0/);
    assert.match(status.stdout, /last push: .* 2 files as import imp_/);
    assert.match(status.stdout, /last pull: .* into 1 file/);
  });

  // A pulled file pushed again is taken by the service as changed both here
  // and by the review (409), though it holds exactly what the review made:
  // the sync compares it with the last push, not with the store's export.
  test(
    "after a pull, a second push and an approved change, pull refuses a file edited here",
    async () => {
      // The pulled files pushed again, with a new topic holding one fact twice.
      await writeFiles(dir, {
        "memory/tools.md": "- The user prefers tabs in the terminal.\n- User preferred tabs in terminals\n",
      });
      const push = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_a"]), 0);
      assert.match(push.stdout, /memory: 3 files read/);
      await runPassAndApprove("cli_a");
      const tools = join(memory, "tools.md");
      await appendFile(tools, "- The user's terminal is kitty.\n");
      const before = await snapshot(dir);
      const pull = expectExit(await reverie(["pull", dir, "--agent", "cli_a"]), 1);
      assert.ok(pull.stderr.includes(`${tools} (memory/tools.md): edited since the push`), pull.stderr);
      assert.deepEqual(await snapshot(dir), before);
    },
  );
});

describe("reverie pull never overwrites an edit made here", () => {
  test("a file edited since the push is named, and nothing is written", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "cli_b", name: "CLI agent B" } }), 201);
    const dir = join(home, "projects", "-home-u-other");
    await writeFiles(dir, MEMORY);
    expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_b"], { token: ADMIN }), 0);
    await runPassAndApprove("cli_b");
    // Both files edited here; the one the review changed is refused.
    for (const path of Object.keys(MEMORY)) await appendFile(join(dir, path), "- Edited here.\n");
    const state = JSON.parse(await readFile(join(dir, ".reverie/state.json"), "utf8")).agents.cli_b;
    const out = expectStatus(await call(`/api/v1/stores/${state.store_id}/export?import=${state.import_id}`), 200);
    assert.equal(out.changed.length, 1, JSON.stringify(out));
    const before = await snapshot(dir);
    const pull = expectExit(await reverie(["pull", dir, "--agent", "cli_b"], { token: ADMIN }), 1);
    assert.match(pull.stderr, /nothing was written/);
    const path = out.changed[0].path;
    assert.ok(pull.stderr.includes(`${join(dir, path)} (${path}): edited since the push`), pull.stderr);
    assert.deepEqual(await snapshot(dir), before);
    assert.ok(!existsSync(join(dir, ".reverie/backup")));
    // The edit undone, the pull goes through.
    for (const [p, content] of Object.entries(MEMORY)) await writeFile(join(dir, p), content);
    const ok = expectExit(await reverie(["pull", dir, "--agent", "cli_b"], { token: ADMIN }), 0);
    assert.match(ok.stdout, /into 1 file/);
  });
});

describe("reverie compare", () => {
  test("two versions of a memory folder become a proposal, linked to its dashboard page", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "cli_c", name: "CLI agent C" } }), 201);
    const before = join(home, "dream", "before");
    const afterDir = join(home, "dream", "after");
    await writeFiles(before, {
      "MEMORY.md": "- The user's shell is bash.\n- The user likes green tea.\n",
      "topics/editor.md": "- The user prefers dark mode in the editor.\n",
    });
    await writeFiles(afterDir, {
      "MEMORY.md": "- The user's shell is bash, with vi key bindings.\n",
      "topics/editor.md": "- The user prefers dark mode in the editor.\n",
    });
    const run = expectExit(await reverie(["compare", before, afterDir, "--agent", "cli_c"], { token: ADMIN }), 0);
    assert.match(run.stdout, /compared 2 files before with 2 after/);
    const [, id, changes] = run.stdout.match(/proposal (\S+): (\d+) changes?/) ?? [];
    assert.ok(id, run.stdout);
    assert.ok(run.stdout.includes(`review it at ${rt.baseUrl}/#/proposals/${id}`), run.stdout);
    const p = expectStatus(await call(`/api/v1/proposals/${id}`), 200);
    assert.equal(p.agent_id, "cli_c");
    assert.equal(p.change_count, Number(changes));
    // A folder that is not there is named, and nothing is sent.
    const missing = expectExit(await reverie(["compare", join(home, "nope"), afterDir, "--agent", "cli_c"], { token: ADMIN }), 1);
    assert.match(missing.stderr, /nope/);
  });
});

describe("reverie push of a folder where a file was deleted", () => {
  test("the deletion is pushed, and the file's entries are deleted with it", async () => {
    expectStatus(await call("/api/v1/agents", { body: { id: "cli_d", name: "CLI agent D" } }), 201);
    const dir = join(home, "projects", "-home-u-deleting");
    await writeFiles(dir, MEMORY);
    expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_d"], { token: ADMIN }), 0);
    const state = JSON.parse(await readFile(join(dir, ".reverie/state.json"), "utf8")).agents.cli_d;
    const count = async () =>
      expectStatus(await call(`/api/v1/stores/${state.store_id}/entries?status=active`), 200).entries.length;
    const before = await count();
    await rm(join(dir, "memory/feedback_testing.md"));
    const push = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_d"], { token: ADMIN }), 0);
    assert.match(push.stdout, /1 deleted here since the last push: memory\/feedback_testing\.md/);
    assert.ok((await count()) < before);
    // Said once: the next push has nothing more to delete.
    const again = expectExit(await reverie(["push", "claude-code", dir, "--agent", "cli_d"], { token: ADMIN }), 0);
    assert.doesNotMatch(again.stdout, /deleted here/);
  });
});

describe("reverie push files and push sessions: memory and transcripts in other formats", () => {
  /** A fresh agent; the client runs with an ingest token for it alone. */
  async function agent(id) {
    expectStatus(await call("/api/v1/agents", { body: { id, name: `CLI agent ${id}` } }), 201);
    return expectStatus(await call("/api/v1/tokens", { body: { role: "ingest", agents: [id], label: id } }), 201).token;
  }

  test("a mem0 listing: pushed as one file, its review pulled as operations beside it", async () => {
    const t = await agent("cli_m");
    const dir = join(home, "mem0");
    const listing = JSON.stringify(
      {
        results: [
          { id: "m-1", memory: "Prefers window seats on long flights", hash: "h1", user_id: "alice", created_at: "2026-01-02T10:00:00Z" },
          { id: "m-2", memory: "Lives in Lisbon", hash: "h2", user_id: "alice", created_at: "2026-01-03T10:00:00Z" },
          { id: "m-3", memory: "Prefers window seats on long flights", hash: "h3", user_id: "alice", created_at: "2026-01-04T10:00:00Z" },
        ],
      },
      null,
      2,
    );
    await writeFiles(dir, { "alice.json": listing, "notes.bin": "\u0000" });
    const file = join(dir, "alice.json");
    const push = expectExit(await reverie(["push", "files", file, "--agent", "cli_m"], { token: t }), 0);
    assert.match(push.stdout, /memory: 1 file read, 3 entries: 3 added/);
    await runPassAndApprove("cli_m");
    const pull = expectExit(await reverie(["pull", file, "--agent", "cli_m"], { token: t }), 0);
    assert.match(pull.stdout, /alice\.json\.operations\.json/);
    assert.match(pull.stdout, /updates and deletes/);
    // The listing is as it was; the operations delete one of the two.
    assert.equal(await readFile(file, "utf8"), listing);
    const ops = JSON.parse(await readFile(`${file}.operations.json`, "utf8")).operations;
    assert.equal(ops.length, 1, JSON.stringify(ops));
    assert.equal(ops[0].op, "delete");
    assert.ok(["m-1", "m-3"].includes(ops[0].id), JSON.stringify(ops));
    // Pulled again: they are there already. Pushed again: the operations
    // file is the pull's, not memory, and is not sent.
    assert.match(expectExit(await reverie(["pull", file, "--agent", "cli_m"], { token: t }), 0).stdout, /Nothing written/);
    const again = expectExit(await reverie(["push", "files", dir, "--agent", "cli_m", "--format", "mem0"], { token: t }), 0);
    assert.match(again.stdout, /not sent, no memory format keeps files so named: alice\.json\.operations\.json, notes\.bin/);
  });

  test("an MCP memory.jsonl folder: the approved merge is pulled, every other byte kept", async () => {
    const t = await agent("cli_j");
    const dir = join(home, "mcp");
    const lines = [
      { type: "entity", name: "Dana", entityType: "person", observations: ["Works at Acme as a data engineer", "Works at Acme as a data engineer", "Speaks Portuguese"], pinned: true },
      { type: "relation", from: "Dana", to: "Acme", relationType: "works_at" },
    ].map((l) => JSON.stringify(l));
    const before = lines.join("\n");
    await writeFiles(dir, { "memory.jsonl": before });
    const push = expectExit(await reverie(["push", "files", dir, "--agent", "cli_j"], { token: t }), 0);
    assert.match(push.stdout, /3 entries: 3 added/);
    await runPassAndApprove("cli_j");
    expectExit(await reverie(["pull", dir, "--agent", "cli_j"], { token: t }), 0);
    const after = await readFile(join(dir, "memory.jsonl"), "utf8");
    const entity = JSON.parse(after.split("\n")[0]);
    assert.deepEqual(entity.observations, ["Works at Acme as a data engineer", "Speaks Portuguese"]);
    assert.equal(entity.pinned, true);
    assert.equal(after.split("\n")[1], lines[1]);
    const saved = await readdir(join(dir, ".reverie/backup"));
    assert.equal(await readFile(join(dir, ".reverie/backup", saved[0], "memory.jsonl"), "utf8"), before);
  });

  test("transcripts in other formats go as sessions under their file names, once", async () => {
    const t = await agent("cli_s");
    const dir = join(home, "runs");
    const responses = {
      input: [
        { role: "user", content: "I always want prices in euros." },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Euros it is." }] },
      ],
    };
    await writeFiles(dir, { "run-7.json": JSON.stringify(responses) });
    const file = join(dir, "run-7.json");
    const push = expectExit(await reverie(["push", "sessions", file, "--agent", "cli_s"], { token: t }), 0);
    assert.match(push.stdout, /session run-7\.json: pushed as run-7/);
    const read = expectStatus(await call("/api/v1/agents/cli_s/sessions/run-7"), 200);
    assert.equal(read.format, "openai_responses");
    assert.equal(read.messages[0].content, "I always want prices in euros.");
    const again = expectExit(await reverie(["push", "sessions", file, "--agent", "cli_s"], { token: t }), 0);
    assert.match(again.stdout, /in Reverie already as run-7/);
    const missing = expectExit(await reverie(["push", "sessions", join(dir, "nope.json"), "--agent", "cli_s"], { token: t }), 1);
    assert.match(missing.stderr, /nope\.json is not a file/);
  });
});
