// Every route of the OpenAPI document, called with no token, a wrong
// token, and the tokens of another agent: 401 for the first two, 403 for
// the last, and lists that show only what a token is granted.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN, ROOT, api, startRuntime } from "./harness.mjs";

let rt;
let call;
let doc;
/** Ids of agent B's things, by path parameter name. */
const b = {};
/** Ids of agent A's things. */
const a = {};
const tokens = {};

const expectOk = (res) => {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
};

/** Creates an agent with entries, a session, a proposal, a webhook and a
 * delivery, and returns their ids. */
async function populate(agent) {
  const ids = {
    agent_id: agent, store_id: agent, session_id: `${agent}_s1`, entry_id: `${agent}_e1`, version: "1", change_id: "c0001",
  };
  expectOk(await call("/api/v1/agents", { body: { id: agent, name: agent } }));
  expectOk(await call(`/api/v1/stores/${agent}/entries`, {
    body: { entries: [
      { id: `${agent}_e1`, text: "The user prefers dark mode in the editor." },
      { id: `${agent}_e2`, text: "User preferred dark mode in editors" },
    ] },
  }));
  expectOk(await call(`/api/v1/agents/${agent}/sessions`, {
    body: { id: ids.session_id, transcript: { messages: [{ role: "user", content: "hi" }] }, metrics: { error_rate: 0 } },
  }));
  // A webhook to a closed port, so the pass leaves a failed delivery.
  const hook = expectOk(await call(`/api/v1/agents/${agent}/webhooks`, { body: { url: "http://127.0.0.1:9/closed" } }));
  ids.webhook_id = hook.id;
  const pass = expectOk(await call(`/api/v1/agents/${agent}/passes?wait=true`, { method: "POST" }));
  ids.pass_id = String(pass.id);
  ids.proposal_id = pass.proposal_id;
  for (let i = 0; i < 50; i++) {
    const d = expectOk(await call(`/api/v1/agents/${agent}/webhooks/deliveries`));
    if (d.deliveries.length) {
      ids.delivery_id = d.deliveries[0].id;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(ids.delivery_id, "a delivery was recorded");
  return ids;
}

async function token(role, agents) {
  return expectOk(await call("/api/v1/tokens", { body: { role, agents, label: `${role} of ${agents.join(",") || "all"}` } }));
}

before(async () => {
  rt = await startRuntime({ seed: false });
  call = (path, opts) => api(rt.baseUrl, path, opts);
  doc = JSON.parse(await readFile(join(ROOT, "worker", "openapi.json"), "utf8"));
  Object.assign(a, await populate("auth_a"));
  Object.assign(b, await populate("auth_b"));
  tokens.reviewerA = (await token("reviewer", ["auth_a"])).token;
  tokens.ingestA = (await token("ingest", ["auth_a"])).token;
  const spare = await token("reviewer", ["auth_b"]);
  b.token_id = spare.id;
  a.token_id = spare.id;
});
after(async () => {
  await rt?.stop();
});

/** Every operation of the document: `{ method, path, roles, open }`. */
function operations() {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const open = Array.isArray(op.security) && op.security.length === 0;
      out.push({ method: method.toUpperCase(), path, roles: op["x-roles"] ?? [], open });
    }
  }
  return out;
}

const fill = (path, ids) => `/api/v1${path.replace(/\{(\w+)\}/g, (_, name) => {
  assert.ok(ids[name] !== undefined, `no test id for path parameter {${name}}`);
  return encodeURIComponent(ids[name]);
})}`;

const send = (op, ids, token) =>
  call(fill(op.path, ids), { method: op.method, token, body: ["POST", "PUT", "PATCH"].includes(op.method) ? {} : undefined });

describe("authentication and grants on every route", () => {
  test("the document lists every route with the roles that may call it", () => {
    const ops = operations();
    assert.ok(ops.length >= 45, `${ops.length} operations`);
    for (const op of ops.filter((o) => !o.open)) {
      assert.ok(op.roles.length > 0, `${op.method} ${op.path} names no roles`);
      assert.ok(op.roles.includes("admin"), `${op.method} ${op.path}: admins may do everything`);
    }
  });

  test("no token or a wrong token: 401", async () => {
    for (const op of operations().filter((o) => !o.open)) {
      for (const token of [null, "rvr_not_a_real_token"]) {
        const res = await send(op, b, token);
        assert.equal(res.status, 401, `${op.method} ${op.path} with ${token}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.status, 401);
      }
    }
  });

  test("the scheme's name is case-insensitive; another scheme is a 401", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const res = await call("/api/v1/me", { token: null, headers: { authorization: `${scheme} ${ADMIN}` } });
      assert.equal(res.status, 200, `${scheme}: ${JSON.stringify(res.body)}`);
    }
    const basic = await call("/api/v1/me", { token: null, headers: { authorization: `Basic ${ADMIN}` } });
    assert.equal(basic.status, 401);
  });

  test("another agent's reviewer and ingest tokens: 403", async () => {
    for (const op of operations().filter((o) => !o.open)) {
      const scoped = /\{(agent_id|store_id|proposal_id|pass_id)\}/.test(op.path);
      for (const [name, role] of [["reviewerA", "reviewer"], ["ingestA", "ingest"]]) {
        if (!scoped && op.roles.includes(role)) continue; // lists, /me: checked below
        const res = await send(op, b, tokens[name]);
        assert.equal(res.status, 403, `${op.method} ${op.path} as ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  });

  test("a role may not do what its grant does not cover, even on its own agent", async () => {
    for (const op of operations().filter((o) => !o.open)) {
      for (const [name, role] of [["reviewerA", "reviewer"], ["ingestA", "ingest"]]) {
        if (op.roles.includes(role)) continue;
        const res = await send(op, a, tokens[name]);
        assert.equal(res.status, 403, `${op.method} ${op.path} as ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  });

  test("what a role may do on its own agent is not refused", async () => {
    for (const op of operations().filter((o) => !o.open && o.method === "GET")) {
      for (const [name, role] of [["reviewerA", "reviewer"], ["ingestA", "ingest"]]) {
        if (!op.roles.includes(role)) continue;
        const res = await send(op, a, tokens[name]);
        assert.ok(![401, 403].includes(res.status), `${op.method} ${op.path} as ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    // A reviewer decides on its agent's proposal.
    const approved = await call(`/api/v1/proposals/${a.proposal_id}/approve`, { method: "POST", token: tokens.reviewerA });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const audit = expectOk(await call("/api/v1/stores/auth_a/audit?order=desc&limit=1"));
    assert.match(audit.records[0].actor, /^reviewer:reviewer of auth_a$/);
  });

  test("lists show only the granted agents' things", async () => {
    const t = tokens.reviewerA;
    const agents = expectOk(await call("/api/v1/agents", { token: t }));
    assert.deepEqual(agents.agents.map((x) => x.id), ["auth_a"]);
    const stores = expectOk(await call("/api/v1/stores", { token: t }));
    assert.deepEqual(stores.stores.map((x) => x.id), ["auth_a"]);
    const passes = expectOk(await call("/api/v1/passes", { token: t }));
    assert.ok(passes.passes.length > 0 && passes.passes.every((p) => p.agent_id === "auth_a"));
    const proposals = expectOk(await call("/api/v1/proposals", { token: t }));
    assert.ok(proposals.proposals.length > 0 && proposals.proposals.every((p) => p.agent_id === "auth_a"));
    const me = expectOk(await call("/api/v1/me", { token: t }));
    assert.deepEqual([me.role, me.agents], ["reviewer", ["auth_a"]]);
  });

  test("tokens are made, listed without secrets, and revoked", async () => {
    const made = await token("ingest", ["auth_b"]);
    assert.match(made.token, /^rvr_[0-9a-f]{64}$/);
    expectOk(await call("/api/v1/agents/auth_b/sessions", { token: made.token, body: { transcript: { messages: [{ role: "user", content: "x" }] } } }));
    const list = expectOk(await call("/api/v1/tokens"));
    assert.ok(list.tokens.every((x) => x.token === undefined && x.hash === undefined));
    const bad = await call("/api/v1/tokens", { body: { role: "ingest", agents: ["auth_a", "auth_b"], label: "two" } });
    assert.equal(bad.status, 422);
    const ghost = await call("/api/v1/tokens", { body: { role: "reviewer", agents: ["nobody"], label: "ghost" } });
    assert.match(ghost.body.error.message, /no agent `nobody`/);
    assert.equal((await call(`/api/v1/tokens/${made.id}`, { method: "DELETE" })).status, 204);
    assert.equal((await call("/api/v1/me", { token: made.token })).status, 401);
  });

  test("an agent deleted and made again under its id does not revive its tokens", async () => {
    expectOk(await call("/api/v1/agents", { body: { id: "auth_again", name: "Again" } }));
    const ingest = await token("ingest", ["auth_again"]);
    const reviewer = await token("reviewer", ["auth_again", "auth_a"]);
    const read = (t) => call("/api/v1/agents/auth_again", { token: t });
    assert.equal((await read(ingest.token)).status, 200);
    assert.equal((await read(reviewer.token)).status, 200);
    assert.equal((await call("/api/v1/agents/auth_again", { method: "DELETE" })).status, 204);
    expectOk(await call("/api/v1/agents", { body: { id: "auth_again", name: "Someone else" } }));
    assert.equal((await read(ingest.token)).status, 401, "the ingest token went with its agent");
    assert.equal((await read(reviewer.token)).status, 403, "the reviewer lost the grant");
    assert.equal((await call("/api/v1/agents/auth_a", { token: reviewer.token })).status, 200, "other grants stay");
    const listed = expectOk(await call("/api/v1/tokens")).tokens;
    assert.ok(listed.find((t) => t.id === ingest.id).revoked_at > 0);
    assert.deepEqual(listed.find((t) => t.id === reviewer.id).agents, ["auth_a"]);
  });
});
