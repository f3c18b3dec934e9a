// The time to push and pull a large memory folder with the command-line
// client, against the local runtime: a Claude Code memory folder of N
// topic files (default 10,000), two notes each, one note in a hundred
// said again in another file. Pushes it, runs a pass, approves it, pulls,
// and checks that the pull rewrote only the files the review changed.
// Prints one JSON line of figures.
//
//   cargo xtask bench-folder [FILES]

import { spawn } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, ROOT, api, expectStatus, madeUpWord, startRuntime } from "./harness.mjs";

const FILES = Number(process.argv[2] ?? 10_000);
const CLI = process.env.REVERIE_CLI || join(ROOT, "target", "debug", "reverie");

function run(args, env) {
  return new Promise((resolve) => {
    const child = spawn(CLI, args, { env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

async function timed(what, f) {
  const t = performance.now();
  const value = await f();
  const seconds = (performance.now() - t) / 1000;
  process.stderr.write(`${what}: ${seconds.toFixed(2)} s\n`);
  return [value, Math.round(seconds * 100) / 100];
}

const rt = await startRuntime({ seed: false });
const dir = await mkdtemp(join(tmpdir(), "reverie-folder-"));
try {
  const call = (path, opts) => api(rt.baseUrl, path, opts);
  expectStatus(await call("/api/v1/agents", { body: { id: "folder", name: "Folder bench" } }), 201);
  await mkdir(join(dir, "memory"));
  const sentence = (i, k) => `The ${madeUpWord(i, k)} service answers on port ${1000 + i} in the ${madeUpWord(i, k + 7)} region.`;
  const index = [];
  for (let i = 0; i < FILES; i++) {
    const again = i % 100 === 99 ? sentence(i - 1, 0) : sentence(i, 1);
    const body = `---\nname: Topic ${i}\ntype: project\n---\n\n- ${sentence(i, 0)}\n- ${again}\n`;
    await writeFile(join(dir, "memory", `topic_${i}.md`), body);
    if (index.length < 150) index.push(`- [Topic ${i}](topic_${i}.md) — ${madeUpWord(i, 3)}`);
  }
  await writeFile(join(dir, "memory", "MEMORY.md"), `# Memory\n\n${index.join("\n")}\n`);
  const env = { REVERIE_URL: rt.baseUrl, REVERIE_TOKEN: ADMIN };
  const [push, pushSeconds] = await timed("push", () => run(["push", "claude-code", dir, "--agent", "folder"], env));
  if (push.code !== 0) throw new Error(`push failed:\n${push.out}`);
  const [pass, passSeconds] = await timed("pass", async () =>
    expectStatus(await call("/api/v1/agents/folder/passes?wait=true", { method: "POST" }), 201),
  );
  const [, approveSeconds] = await timed("approve", async () =>
    expectStatus(await call(`/api/v1/proposals/${pass.proposal_id}/approve`, { method: "POST" }), 200),
  );
  const before = {};
  for (let i = 0; i < FILES; i++) before[i] = await readFile(join(dir, "memory", `topic_${i}.md`), "utf8");
  const [pull, pullSeconds] = await timed("pull", () => run(["pull", dir, "--agent", "folder"], env));
  if (pull.code !== 0) throw new Error(`pull failed:\n${pull.out}`);
  let rewritten = 0;
  for (let i = 0; i < FILES; i++) {
    if ((await readFile(join(dir, "memory", `topic_${i}.md`), "utf8")) !== before[i]) rewritten++;
  }
  const [again, repushSeconds] = await timed("push again", () => run(["push", "claude-code", dir, "--agent", "folder"], env));
  if (again.code !== 0) throw new Error(`second push failed:\n${again.out}`);
  console.log(
    JSON.stringify({
      bench: "folder",
      files: FILES + 1,
      entries: FILES * 2,
      changes: pass.stats.changes,
      changes_by_kind: pass.stats.changes_by_kind,
      files_rewritten_by_pull: rewritten,
      seconds: { push: pushSeconds, pass: passSeconds, approve: approveSeconds, pull: pullSeconds, push_again: repushSeconds },
      engine_memory_bytes: pass.stats.engine_memory_bytes,
    }),
  );
} finally {
  await rt.stop();
  await rm(dir, { recursive: true, force: true });
}
