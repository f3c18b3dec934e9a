// Starts the real parts for end-to-end tests: the local Workers runtime
// (workerd through wrangler) with a fresh local D1 on free loopback ports,
// and Debian's Chromium through playwright-core.

import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { appendFileSync } from "node:fs";
import { mkdtemp, mkdir, rm, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const ARTIFACTS = join(ROOT, "tests", "artifacts");
const WORKER_DIR = join(ROOT, "worker");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1", CI: "true" };
// `cargo xtask test` builds into a folder of its own and names the wrangler
// config pointing at it; run by hand, the committed config is used.
const CONFIG = process.env.REVERIE_WRANGLER_CONFIG ? ["--config", process.env.REVERIE_WRANGLER_CONFIG] : [];

const run = promisify(execFile);

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function wrangler(args) {
  return run(WRANGLER, [...args, ...CONFIG], { cwd: WORKER_DIR, env: ENV, maxBuffer: 16 << 20 });
}

/** Says once per test file which runtime and browser the tests ran on. */
const announced = new Set();
function announce(what, version) {
  if (announced.has(what)) return;
  announced.add(what);
  console.log(`${what} ${version}`);
}

/** The admin token every test runtime is started with. */
export const ADMIN = "rvr_test_admin_0123456789abcdef0123456789abcdef";

/**
 * Starts `wrangler dev` on a fresh D1 (migrated, and seeded with the demo
 * agent unless `seed` is false), with `ADMIN_TOKEN` set and any other
 * worker `vars` given. Returns `{ baseUrl, stop, logs, pid }` (`pid`:
 * wrangler's process, the runtime's ancestor).
 */
export async function startRuntime(options = {}) {
  // The local runtime now and then fails to come up at all ("The Workers
  // runtime failed to start", as when a port it picked was taken
  // meanwhile): that is the test machine, not the service, so it is tried
  // again on fresh ports, and said.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRuntimeOnce(options);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof StartFailed)) throw e;
      process.stderr.write(`# the runtime did not start (attempt ${attempt}); trying again:\n${e.message}\n`);
    }
  }
}

/** wrangler dev ended before it answered. */
class StartFailed extends Error {}

async function startRuntimeOnce({ seed = true, vars = {} } = {}) {
  const state = await mkdtemp(join(tmpdir(), "reverie-e2e-"));
  if (!announced.has("wrangler")) announce("wrangler", (await wrangler(["--version"])).stdout.trim());
  await wrangler(["d1", "migrations", "apply", "reverie", "--local", "--persist-to", state]);
  if (seed) {
    await wrangler(["d1", "execute", "reverie", "--local", "--file", "seed/demo.sql", "--persist-to", state]);
  }
  const port = await freePort();
  const inspectorPort = await freePort();
  const child = spawn(
    WRANGLER,
    ["dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--test-scheduled", "--persist-to", state, "--show-interactive-dev-session=false", ...CONFIG,
      ...Object.entries({ ADMIN_TOKEN: ADMIN, ...vars }).flatMap(([k, v]) => ["--var", `${k}:${v}`])],
    { cwd: WORKER_DIR, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let logs = "";
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;

  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    await rm(state, { recursive: true, force: true });
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 250))]);
    if (code !== undefined) {
      await rm(state, { recursive: true, force: true });
      throw new StartFailed(`wrangler dev exited with ${code} before it was ready:\n${logs}`);
    }
    try {
      const res = await fetch(`${baseUrl}/api/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev was not ready within 90 s:\n${logs}`);
    }
  }
  return { baseUrl, stop, logs: () => logs, pid: child.pid };
}

/**
 * One API call: `body` is sent as JSON (a string as it is), `token` as the
 * bearer (the admin's unless given; `null` for none). Returns
 * `{ status, body, headers }` with the body parsed when it is JSON.
 */
export async function api(baseUrl, path, { method, body, token = ADMIN, headers = {} } = {}) {
  const init = { method: method ?? (body === undefined ? "GET" : "POST"), headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    // Text and bytes go as they are; anything else as JSON.
    init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${baseUrl}${path}`, init);
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  record(init.method, path, res, parsed);
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * With `REVERIE_API_LOG` set, every JSON answer of the API is appended to
 * that file, one line each, for `openapi_check.mjs` to hold against the
 * OpenAPI document after the suites ran.
 */
function record(method, path, res, body) {
  const log = process.env.REVERIE_API_LOG;
  const type = res.headers.get("content-type") ?? "";
  if (!log || !path.startsWith("/api/v1/") || !type.includes("application/json")) return;
  const line = { method, path: path.split("?")[0], status: res.status, body };
  appendFileSync(log, `${JSON.stringify(line)}\n`);
}

/**
 * Fires the worker's cron handler the way Cloudflare's scheduler would
 * (wrangler's test route; the scheduled time is now).
 */
export async function triggerCron(baseUrl, cron = "*/5 * * * *") {
  const res = await fetch(`${baseUrl}/__scheduled?cron=${encodeURIComponent(cron)}`);
  if (!res.ok) throw new Error(`cron trigger answered ${res.status}: ${await res.text()}`);
}

/**
 * Debian's Chromium, headless. Every page it opens (`newPage`) lives in a
 * context of its own — its own storage, service worker, network state and
 * sign-in — so one test's state cannot leak into the next. `token` signs
 * the page in (put in session storage before the app starts); `errors`
 * collects the page's uncaught errors and Rust panics.
 */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  announce("chromium", browser.version());
  const contexts = new Set();
  const newPage = async ({ token, viewport = { width: 1280, height: 800 }, serviceWorkers = "allow" } = {}) => {
    const context = await browser.newContext({ viewport, serviceWorkers });
    contexts.add(context);
    if (token) {
      await context.addInitScript((t) => {
        if (!sessionStorage.getItem("reverie.token")) sessionStorage.setItem("reverie.token", t);
      }, token);
    }
    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", (err) => page.errors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error" && /panicked/.test(msg.text())) page.errors.push(msg.text());
    });
    return page;
  };
  /** Closes every context opened so far (each test's, after it). */
  const closePages = async () => {
    for (const context of contexts) await context.close().catch(() => {});
    contexts.clear();
  };
  const close = async () => {
    await closePages();
    await browser.close();
  };
  return { newPage, closePages, close };
}

/** Saves a screenshot as a test artifact and returns its path. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The workspace version, which the service reports as the core's. */
export async function workspaceVersion() {
  const toml = await readFile(join(ROOT, "Cargo.toml"), "utf8");
  const m = toml.match(/\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/);
  if (!m) throw new Error("no [workspace.package] version in Cargo.toml");
  return m[1];
}

/** Asserts an API answer's status, showing the body when it differs, and
 * returns the body. */
export function expectStatus(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * A made-up word, the same for the same `(i, k)` and different across
 * them: synthetic entries that share no words unless a test wants them to.
 */
export function madeUpWord(i, k, syllableCount = 4) {
  const syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "ju", "ke"];
  let n = i * 7 + k * 104_729 + 12_345;
  let w = "";
  for (let s = 0; s < syllableCount; s++) {
    w += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length) + s * 31;
  }
  return w;
}
