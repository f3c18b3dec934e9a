// A local stand-in for the LLM providers, for end-to-end tests. It speaks the
// real wire formats of the Anthropic Messages API (POST /v1/messages) and
// OpenAI chat completions (POST /v1/chat/completions), answers the
// `record_decisions` tool call that core/src/llm.rs forces (and the learn
// and rewrite stages' `record_memories` and `record_rewrites`), and can be
// told to
// misbehave (errors, delays, malformed or truncated answers, made-up evidence)
// one request at a time. Only Node built-ins.
//
//   const stub = await startLlmStub();
//   stub.enqueue({ kind: "status", status: 429, retryAfter: 1 }, { kind: "ok" });
//   // point the service's base URL at stub.url, run it, then inspect stub.requests
//   await stub.close();

import { createServer } from "node:http";
import { randomBytes } from "node:crypto";

const TOOL_NAME = "record_decisions";
/** The rewrite stage's tool (core/src/llm/rewrite.rs). */
const REWRITE_TOOL = "record_rewrites";
/** The learn stage's tool (core/src/llm/learn.rs). */
const LEARN_TOOL = "record_memories";
/** The synthesize stage's tool (core/src/llm/rewrite.rs). */
const SYNTHESIZE_TOOL = "record_instructions";

/** The behaviours `enqueue` accepts; see `startLlmStub`. */
const KINDS = new Set([
  "ok", "distinct", "supersedes", "delay", "status", "malformed", "made_up_evidence", "truncated", "no_tool",
  "rewrite_drops_number", "learn_made_up_quote",
]);

/** The two endpoints, by method and path. */
const ROUTES = {
  "POST /v1/messages": "anthropic",
  "POST /v1/chat/completions": "openai",
};

/** The batch behaviours `enqueueBatch` accepts; see `startLlmStub`. */
const BATCH_KINDS = new Set(["batch_ok", "batch_truncated", "batch_expired", "batch_never_ends"]);

/** Anthropic's shortest cached prefix for Sonnet and Opus, in tokens. */
const MIN_CACHED_TOKENS = 1024;
/** How long a cached prefix lives (the default five minutes). */
const CACHE_TTL_MS = 5 * 60 * 1000;

/**
 * Starts the stub on 127.0.0.1 on a free port. Returns:
 * - `url`: "http://127.0.0.1:<port>" (the service appends /v1/...);
 * - `requests`: every request received, in order, as
 *   `{ path, headers (lower-case keys), body (parsed JSON, or the raw string), at (ms) }`;
 * - `enqueue(...behaviours)`: queue behaviours, used one per model request in
 *   FIFO order ("ok" once the queue is empty). Requests refused before they
 *   reach the "model" (unknown path, missing auth headers, body not JSON) are
 *   recorded but do not use up a behaviour;
 * - `reset()`: clears the queue and the recorded requests;
 * - `close()`: stops the server, dropping open connections and pending delays.
 *
 * - `enqueueBatch(...behaviours)`: the same for Message Batches (see
 *   below), one per batch created ("batch_ok" once the queue is empty);
 * - `batches`: every batch created, as `{ id, requests, behaviour, polls, canceled }`;
 *
 * Prompt caching is simulated as Anthropic does it: a request whose tool,
 * system prompt and content blocks up to the last `cache_control` mark
 * come to 1,024 tokens or more (bytes / 4) writes that prefix, and a later
 * request with the same prefix within five minutes reads it; `usage`
 * reports `cache_creation_input_tokens` and `cache_read_input_tokens`
 * apart from `input_tokens`.
 *
 * Message Batches (`POST /v1/messages/batches`, `GET …/{id}`,
 * `GET …/{id}/results`, `POST …/{id}/cancel`): each request of a batch
 * uses up one behaviour of the model queue, answered as a direct call
 * would be (behaviours that answer with an HTTP error make the request
 * `errored`). A batch ends at its first poll. Batch behaviours:
 * `{kind:"batch_ok"}`; `{kind:"batch_truncated"}` (the results leave out
 * the last request); `{kind:"batch_expired"}` (every request `expired`);
 * `{kind:"batch_never_ends"}` (in progress until canceled).
 *
 * Behaviours: `{kind:"ok"}`, `{kind:"distinct"}`, `{kind:"supersedes"}`,
 * `{kind:"delay", ms, then?}`, `{kind:"status", status, retryAfter?}`,
 * `{kind:"malformed"}`, `{kind:"made_up_evidence"}`, `{kind:"truncated"}`,
 * `{kind:"no_tool"}`, for the rewrite tool `{kind:"rewrite_drops_number"}`
 * (an "ok" rewrite answers with wordings that keep every fact), and for
 * the learn tool `{kind:"learn_made_up_quote"}`.
 */
export async function startLlmStub() {
  const queue = [];
  const batchQueue = [];
  const batches = [];
  // Cached prefixes: key → when written.
  const cached = new Map();
  const requests = [];
  // Resolvers of pending delays, so `close()` can end them at once.
  const pendingDelays = new Set();

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      // A bug in the stub must not take the test process down; make it loud.
      console.error("llm_stub: internal error:", err);
      send(res, 500, {}, { type: "error", error: { type: "api_error", message: `llm_stub: ${err.message}` } });
    });
  });

  async function handle(req, res) {
    const at = Date.now();
    const raw = await readBody(req);
    if (raw === null) return; // The client hung up mid-body: nothing to answer.
    let body = raw;
    let isJson = false;
    try {
      body = JSON.parse(raw);
      isJson = true;
    } catch {
      // Keep the raw text; answered with a 400 below.
    }
    requests.push({ path: req.url, headers: { ...req.headers }, body, at });

    const pathname = new URL(req.url, "http://stub").pathname;
    if (pathname.startsWith("/v1/messages/batches")) {
      if (!req.headers["x-api-key"]) return sendError(res, "anthropic", 401, "x-api-key header is required");
      return handleBatch(req.method, pathname, body, isJson, res);
    }
    const provider = ROUTES[`${req.method} ${pathname}`];
    if (!provider) {
      return sendError(res, guessProvider(req), 404, `${req.method} ${pathname} is not an endpoint of this stub`);
    }

    // Authentication first, as the real APIs do.
    if (provider === "anthropic") {
      if (!req.headers["x-api-key"]) return sendError(res, provider, 401, "x-api-key header is required");
      if (!req.headers["anthropic-version"]) {
        return sendError(res, provider, 400, "anthropic-version: header is required");
      }
    } else if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
      return sendError(
        res,
        provider,
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
      );
    }

    if (!isJson || typeof body !== "object" || body === null || Array.isArray(body)) {
      return sendError(res, provider, 400, "There was an error parsing the body of your request as a JSON object.");
    }

    // The request reached the "model": it uses up one behaviour.
    const behaviour = queue.shift() ?? { kind: "ok" };
    const call = callOf(provider, body, raw);
    const stage = stageAnswer(behaviour, call);
    if (stage) return send(res, 200, {}, stage);
    await perform(behaviour, call, res);
  }

  /** What the model is asked, with its input tokens split as a cache would. */
  function callOf(provider, body, raw) {
    const total = Math.ceil(Buffer.byteLength(raw) / 4);
    const call = { provider, body, tool: toolOf(body), groups: groupsOf(body), inputTokens: total, cache: null };
    if (provider !== "anthropic") return call;
    const prefix = cachedPrefix(body);
    if (prefix === null) return call;
    const tokens = Math.ceil(Buffer.byteLength(prefix) / 4);
    if (tokens < MIN_CACHED_TOKENS) return call;
    const key = `${body.model}\n${prefix}`;
    const written = cached.get(key);
    const now = Date.now();
    const read = written !== undefined && now - written < CACHE_TTL_MS;
    cached.set(key, now);
    call.inputTokens = Math.max(0, total - tokens);
    call.cache = read ? { read: tokens, write: 0 } : { read: 0, write: tokens };
    return call;
  }

  /** The stage tools' well-formed answers (learn, rewrite, synthesize), or null. */
  function stageAnswer(behaviour, call) {
    const { tool, body } = call;
    if (tool === LEARN_TOOL && ["ok", "learn_made_up_quote"].includes(behaviour.kind)) {
      return toolAnswer(call, memoriesFor(behaviour.kind, dataOf(body).excerpts ?? []));
    }
    if ([REWRITE_TOOL, SYNTHESIZE_TOOL].includes(tool) && ["ok", "rewrite_drops_number"].includes(behaviour.kind)) {
      const changes = dataOf(body).changes ?? [];
      return toolAnswer(call, rewritesFor(behaviour.kind, changes, tool === SYNTHESIZE_TOOL));
    }
    return null;
  }

  /** The Message Batches endpoints. */
  function handleBatch(method, pathname, body, isJson, res) {
    const [, , , , id, action] = pathname.split("/");
    if (method === "POST" && id === undefined) {
      const list = isJson && Array.isArray(body?.requests) ? body.requests : null;
      if (!list || list.length === 0 || list.some((r) => typeof r?.custom_id !== "string" || typeof r?.params !== "object")) {
        return sendError(res, "anthropic", 400, "requests: a list of {custom_id, params} is required");
      }
      if (new Set(list.map((r) => r.custom_id)).size !== list.length) {
        return sendError(res, "anthropic", 400, "custom_id must be unique within a batch");
      }
      const behaviour = batchQueue.shift() ?? { kind: "batch_ok" };
      const batch = { id: id_("msgbatch_"), requests: list, behaviour, polls: 0, canceled: false, results: null };
      // Each request is answered as it would be one by one, now.
      batch.results = list.map((r) => {
        const b = queue.shift() ?? { kind: "ok" };
        const call = callOf("anthropic", r.params, JSON.stringify(r.params));
        const message = stageAnswer(b, call) ?? directMessage(b, call);
        const result = message
          ? { type: "succeeded", message }
          : { type: "errored", error: { type: "error", error: { type: "api_error", message: "Internal server error" } } };
        return { custom_id: r.custom_id, result };
      });
      batches.push(batch);
      return send(res, 200, {}, batchObject(batch, "in_progress"));
    }
    const batch = batches.find((b) => b.id === id);
    if (!batch) return sendError(res, "anthropic", 404, `batch ${id} not found`);
    const status = () =>
      batch.canceled ? "ended" : batch.behaviour.kind === "batch_never_ends" || batch.polls === 0 ? "in_progress" : "ended";
    if (method === "GET" && action === undefined) {
      batch.polls += 1;
      return send(res, 200, {}, batchObject(batch, status()));
    }
    if (method === "POST" && action === "cancel") {
      batch.canceled = true;
      return send(res, 200, {}, batchObject(batch, "canceling"));
    }
    if (method === "GET" && action === "results") {
      if (status() !== "ended") return sendError(res, "anthropic", 400, `batch ${id} has not ended`);
      let results = batch.results;
      if (batch.canceled) results = results.map((r) => ({ custom_id: r.custom_id, result: { type: "canceled" } }));
      else if (batch.behaviour.kind === "batch_expired") {
        results = results.map((r) => ({ custom_id: r.custom_id, result: { type: "expired" } }));
      } else if (batch.behaviour.kind === "batch_truncated") results = results.slice(0, -1);
      const text = results.map((r) => JSON.stringify(r)).join("\n") + "\n";
      if (res.headersSent || res.writableEnded || res.destroyed) return;
      res.writeHead(200, { "content-type": "application/binary", "content-length": Buffer.byteLength(text) });
      return res.end(text);
    }
    return sendError(res, "anthropic", 404, `${method} ${pathname} is not an endpoint of this stub`);
  }

  /** A batch as the API describes it. */
  function batchObject(batch, processing) {
    const ended = processing === "ended";
    const n = batch.requests.length;
    return {
      id: batch.id,
      type: "message_batch",
      processing_status: processing,
      request_counts: ended
        ? { processing: 0, succeeded: n, errored: 0, canceled: 0, expired: 0 }
        : { processing: n, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      created_at: new Date().toISOString(),
      ended_at: ended ? new Date().toISOString() : null,
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      cancel_initiated_at: batch.canceled ? new Date().toISOString() : null,
      archived_at: null,
      results_url: ended ? `${url}/v1/messages/batches/${batch.id}/results` : null,
    };
  }

  /** Answers `call` on `res` the way `behaviour` says. */
  async function perform(behaviour, call, res) {
    const { provider } = call;
    switch (behaviour.kind) {
      case "delay": {
        const completed = await delay(behaviour.ms, res);
        // The client gave up (or the stub is closing): nobody to answer.
        if (!completed) return;
        return perform(behaviour.then ?? { kind: "ok" }, call, res);
      }
      case "status": {
        const headers = behaviour.retryAfter === undefined ? {} : { "retry-after": String(behaviour.retryAfter) };
        return sendError(res, provider, behaviour.status, undefined, headers);
      }
      case "malformed": {
        // A real-looking answer cut off halfway: never valid JSON.
        const full = JSON.stringify(toolAnswer(call, answerFor("ok", call.groups)));
        return send(res, 200, {}, full.slice(0, Math.floor(full.length / 2)));
      }
      case "truncated":
        return send(res, 200, {}, truncatedAnswer(call));
      case "no_tool":
        return send(res, 200, {}, textAnswer(call, "These entries look related, but I would rather not decide."));
      default:
        // ok, distinct, supersedes, made_up_evidence: a well-formed tool call.
        return send(res, 200, {}, toolAnswer(call, answerFor(behaviour.kind, call.groups)));
    }
  }

  /**
   * The message a request of a batch gets for `behaviour`, or null when it
   * would have been an HTTP error (the request is then `errored`).
   */
  function directMessage(behaviour, call) {
    switch (behaviour.kind) {
      case "delay":
        return directMessage(behaviour.then ?? { kind: "ok" }, call);
      case "status":
      case "malformed":
        return null;
      case "truncated":
        return truncatedAnswer(call);
      case "no_tool":
        return textAnswer(call, "These entries look related, but I would rather not decide.");
      default:
        return toolAnswer(call, answerFor(behaviour.kind, call.groups));
    }
  }

  /**
   * Waits `ms`; resolves true when the time is up, false as soon as the
   * client disconnects or the stub closes.
   */
  function delay(ms, res) {
    return new Promise((resolve) => {
      const finish = (completed) => {
        clearTimeout(timer);
        res.off("close", onClose);
        pendingDelays.delete(finish);
        resolve(completed);
      };
      const onClose = () => finish(false);
      const timer = setTimeout(() => finish(true), ms);
      res.on("close", onClose);
      pendingDelays.add(finish);
    });
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });

  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    batches,
    enqueue(...behaviours) {
      behaviours.forEach(validate);
      queue.push(...behaviours);
    },
    enqueueBatch(...behaviours) {
      for (const b of behaviours) {
        if (!BATCH_KINDS.has(b?.kind)) throw new TypeError(`llm_stub: unknown batch behaviour ${JSON.stringify(b)}`);
      }
      batchQueue.push(...behaviours);
    },
    reset() {
      // Cleared in place, so a reference to `stub.requests` stays live.
      queue.length = 0;
      batchQueue.length = 0;
      batches.length = 0;
      cached.clear();
      requests.length = 0;
    },
    async close() {
      for (const finish of [...pendingDelays]) finish(false);
      const closed = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Throws on a behaviour the stub does not know, so a typo fails the test early. */
function validate(behaviour) {
  if (typeof behaviour !== "object" || behaviour === null || !KINDS.has(behaviour.kind)) {
    throw new TypeError(`llm_stub: unknown behaviour ${JSON.stringify(behaviour)}`);
  }
  if (behaviour.kind === "delay") {
    if (!Number.isFinite(behaviour.ms) || behaviour.ms < 0) {
      throw new TypeError("llm_stub: a delay needs ms >= 0");
    }
    if (behaviour.then !== undefined) validate(behaviour.then);
  }
  if (behaviour.kind === "status" && !(Number.isInteger(behaviour.status) && behaviour.status >= 400)) {
    throw new TypeError("llm_stub: a status behaviour needs an HTTP error status (>= 400)");
  }
}

// ---------------------------------------------------------------------------
// Reading the request

/** The request body as text, or null when the client disconnects before sending it all. */
function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(null));
  });
}

/** The name of the tool the request forces, in either API's spelling. */
function toolOf(body) {
  const choice = body.tool_choice ?? {};
  return choice.name ?? choice.function?.name ?? TOOL_NAME;
}

/** The groups to judge (see `dataOf`), or []. */
function groupsOf(body) {
  const data = dataOf(body);
  return Array.isArray(data.groups) ? data.groups : [];
}

/**
 * The data in the user message's fenced ```json block (see `build_request`
 * in core/src/llm.rs and core/src/llm/rewrite.rs), or {} when there is
 * none. Message content may be a string or, in both APIs, an array of text
 * blocks.
 */
function dataOf(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const message of messages) {
    if (message?.role !== "user") continue;
    const text = typeof message.content === "string"
      ? message.content
      : Array.isArray(message.content)
      ? message.content.filter((b) => b?.type === "text").map((b) => b.text).join("\n")
      : "";
    // JSON never holds a newline followed by ``` (newlines in strings are
    // escaped), so each closing fence ends a data block. A request may
    // carry two (the memory a stage shares, then the call's own data).
    const merged = {};
    for (const fenced of text.matchAll(/```json\n([\s\S]*?)\n```/g)) {
      try {
        const data = JSON.parse(fenced[1]);
        if (data && typeof data === "object" && !Array.isArray(data)) Object.assign(merged, data);
      } catch {
        // Not a data block after all; keep looking.
      }
    }
    if (Object.keys(merged).length > 0) return merged;
  }
  return {};
}

/**
 * The prefix a request asks to be cached: its tools, system prompt and
 * message content up to the last block marked `cache_control`, as text;
 * null when nothing is marked.
 */
function cachedPrefix(body) {
  const parts = [JSON.stringify(body.tools ?? [])];
  let marked = null;
  const system = Array.isArray(body.system) ? body.system : [{ type: "text", text: String(body.system ?? "") }];
  for (const block of system) {
    parts.push(String(block?.text ?? ""));
    if (block?.cache_control) marked = parts.length;
  }
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    const blocks = Array.isArray(message?.content) ? message.content : [{ type: "text", text: String(message?.content ?? "") }];
    for (const block of blocks) {
      parts.push(String(block?.text ?? ""));
      if (block?.cache_control) marked = parts.length;
    }
  }
  return marked === null ? null : parts.slice(0, marked).join("\n");
}

/**
 * The learn tool's input, read as a model would (and as a gullible one
 * would): a user's correction or first-person statement becomes a memory
 * of its first sentence, quoted when the excerpt says more; an "always …"
 * sentence in tool output is taken for an instruction. "learn_made_up_quote"
 * cites words no excerpt holds.
 */
function memoriesFor(kind, excerpts) {
  const firstSentence = (t) => (/^[^.!?]*[.!?]/.exec(t)?.[0] ?? t).trim();
  const memories = [];
  for (const item of excerpts) {
    // [ref, text, role?, trust?], the role the user's when left out
    // (core/src/llm/learn.rs).
    const [ref, text_, role = "user"] = Array.isArray(item) ? item : [item.ref, item.text, item.role];
    const e = { ref, role };
    const text = String(text_ ?? "");
    const cited = (quote) => (quote === text.trim() ? { refs: [ref] } : { refs: [ref], quotes: [quote] });
    if (e.role === "user" && /^(no,|actually)|\b(I|we|my|our)\b|\b(always|never|prefer)\b/i.test(text)) {
      const quote = firstSentence(text);
      const said = quote.replace(/^(no|actually),?\s*/i, "");
      const worded = said.charAt(0).toUpperCase() + said.slice(1);
      const corrects = /^(no,|actually)/i.test(text);
      memories.push({ kind: corrects ? "instruction" : "fact", text: worded, ...cited(quote) });
    } else if (e.role === "tool") {
      const order = /[^.!?]*\balways\b[^.!?]*[.!?]/i.exec(text)?.[0]?.trim();
      if (order) memories.push({ kind: "instruction", text: order, ...cited(order) });
    }
  }
  if (kind === "learn_made_up_quote") {
    for (const m of memories) m.quotes = ["as the user said in the kickoff meeting"];
  }
  return { memories };
}

/**
 * The rewrite tool's input (or, with `instruction`, the synthesize tool's:
 * what the user said made an instruction), worded as a model would: a promotion states what
 * the user said as an instruction (the "No," answering the assistant and the
 * label dropped); notes that open alike become one sentence, their shared
 * opening said once. "rewrite_drops_number" writes the same without digits,
 * as a careless model might.
 */
function rewritesFor(kind, changes, instruction = false) {
  const rewrites = changes.map((c) => {
    // [ref, wording, sources?] (core/src/llm/rewrite.rs): without its
    // sources, the wording holds them whole, one sentence each.
    const [item, wording_, given] = Array.isArray(c) ? c : [];
    const wording = String(wording_ ?? "");
    const sources = Array.isArray(given) ? given.map(String) : wording.split(/(?<=[.!?])\s+/).filter(Boolean);
    const quoted = /"(.*)"\s*$/.exec(wording);
    let text;
    if (quoted) {
      const said = quoted[1].replace(/^(no|nope),\s*/i, "");
      text = instruction
        ? `When this comes up again: ${said.charAt(0).toLowerCase()}${said.slice(1)}`
        : said.charAt(0).toUpperCase() + said.slice(1);
    } else {
      const words = sources.map((s) => s.replace(/[.!]\s*$/, "").split(/\s+/));
      let shared = 0;
      while (words.every((w) => w[shared] !== undefined && w[shared] === words[0][shared])) shared++;
      const rest = words.slice(1).map((w) => w.slice(shared).join(" "));
      text = [words[0].join(" "), ...rest].join("; ") + ".";
    }
    if (kind === "rewrite_drops_number") text = text.replace(/\d+([.,]\d+)*\s*/g, "");
    return { item, text };
  });
  return { rewrites };
}

/** Which error format fits a request to an unknown path, from its auth header. */
function guessProvider(req) {
  return req.headers.authorization && !req.headers["x-api-key"] ? "openai" : "anthropic";
}

// ---------------------------------------------------------------------------
// The model's answers (the `record_decisions` tool input)

// An entry is [ref, text, observed, trust] (core/src/llm.rs).

/** The text of an entry, or "" when it has none. */
function textOf(entry) {
  return Array.isArray(entry) && typeof entry[1] === "string" ? entry[1] : "";
}

function entriesOf(group) {
  return Array.isArray(group?.entries) ? group.entries : [];
}

/**
 * A verbatim quote from `text`: its first (up to) 40 characters, cut between
 * code points so it stays valid UTF-8 and a substring for the core's check.
 * Leading whitespace is skipped, since the core rejects blank quotes.
 */
function excerpt(text, max = 40) {
  return Array.from(text.trimStart()).slice(0, max).join("");
}

/** One quote per entry of the group, each its start. */
function quotesFor(group) {
  return entriesOf(group).map((e) => excerpt(textOf(e)));
}

/** The longest text of a group, in UTF-8 bytes like the core measures (first one on a tie). */
function longestText(group) {
  let best = "";
  for (const e of entriesOf(group)) {
    if (Buffer.byteLength(textOf(e)) > Buffer.byteLength(best)) best = textOf(e);
  }
  return best;
}

/** When an entry was observed ("2026-03-14 09:05", UTC), in milliseconds. */
function observedMillis(entry) {
  const t = Array.isArray(entry) ? entry[2] : undefined;
  const parsed = typeof t === "string" ? Date.parse(`${t.replace(" ", "T")}Z`) : NaN;
  return Number.isNaN(parsed) ? -Infinity : parsed;
}

/** The entry observed last (the first one on a tie). */
function newestEntry(group) {
  let newest = null;
  for (const e of entriesOf(group)) {
    if (newest === null || observedMillis(e) > observedMillis(newest)) newest = e;
  }
  return newest;
}

/**
 * A sentence that occurs in none of the entry texts: lengthened until it is
 * longer than any text it could hide in, if it has to be.
 */
function madeUpQuote(groups) {
  const texts = groups.flatMap((g) => entriesOf(g).map(textOf));
  let quote = "The team confirmed this in the planning meeting";
  while (texts.some((t) => t.includes(quote))) quote += " last week, twice";
  return quote;
}

/** The tool input for a well-formed answer of `kind` to `groups`. */
function answerFor(kind, groups) {
  const decisions = groups.map((group) => {
    const base = { group: group.group };
    switch (kind) {
      case "distinct":
        return {
          ...base,
          verdict: "distinct",
          justification: "They state different facts.",
          confidence: 0.9,
        };
      case "supersedes":
        return {
          ...base,
          verdict: "supersedes",
          newer: newestEntry(group)?.[0],
          justification: "The newer entry replaces the older information.",
          confidence: 0.9,
        };
      case "made_up_evidence": {
        const quote = madeUpQuote(groups);
        return duplicateOf(base, group, [quote]);
      }
      default: // "ok"
        return duplicateOf(base, group, quotesFor(group));
    }
  });
  return { decisions };
}

// ---------------------------------------------------------------------------
// Provider wire formats

/** A "duplicate" decision for `group`, with the quotes given. */
function duplicateOf(base, group, quotes) {
  return {
    ...base,
    verdict: "duplicate",
    merged_text: longestText(group),
    justification: "They state the same fact.",
    confidence: 0.9,
    quotes,
  };
}

function id(prefix) {
  return prefix + randomBytes(12).toString("hex");
}
const id_ = id;

function modelOf(call) {
  return typeof call.body.model === "string" ? call.body.model : "stub-model";
}

/** Token usage as each provider spells it. */
function usage(call, outputTokens) {
  return call.provider === "anthropic"
    ? {
      input_tokens: call.inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: call.cache?.write ?? 0,
      cache_read_input_tokens: call.cache?.read ?? 0,
    }
    : {
      prompt_tokens: call.inputTokens,
      completion_tokens: outputTokens,
      total_tokens: call.inputTokens + outputTokens,
    };
}

/**
 * A full response body: an Anthropic message with `content` blocks, or an
 * OpenAI chat completion with one choice holding `message`.
 */
function response(call, { content, message, stopReason, finishReason, outputTokens }) {
  if (call.provider === "anthropic") {
    return {
      id: id("msg_"),
      type: "message",
      role: "assistant",
      model: modelOf(call),
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: usage(call, outputTokens),
    };
  }
  return {
    id: id("chatcmpl-"),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: modelOf(call),
    choices: [{ index: 0, message, finish_reason: finishReason }],
    usage: usage(call, outputTokens),
  };
}

/** A completed call of the tool the request forces, carrying `input`. */
function toolAnswer(call, input) {
  const args = JSON.stringify(input);
  return response(call, {
    content: [{ type: "tool_use", id: id("toolu_"), name: call.tool, input }],
    message: { role: "assistant", content: null, tool_calls: [openAiToolCall(args, call.tool)] },
    stopReason: "tool_use",
    finishReason: "tool_calls",
    outputTokens: Math.ceil(args.length / 4),
  });
}

/** A plain text answer, without any tool call. */
function textAnswer(call, text) {
  return response(call, {
    content: [{ type: "text", text }],
    message: { role: "assistant", content: text },
    stopReason: "end_turn",
    finishReason: "stop",
    outputTokens: Math.ceil(text.length / 4),
  });
}

/**
 * An answer cut off at the token limit: Anthropic's tool input holds only
 * the start of the first decision, OpenAI's arguments are a cut JSON string.
 */
function truncatedAnswer(call) {
  const full = answerFor("ok", call.groups);
  const args = JSON.stringify(full);
  const limit = Number.isInteger(call.body.max_tokens) ? call.body.max_tokens : Math.ceil(args.length / 8);
  const first = full.decisions[0];
  const partialInput = { decisions: first ? [{ group: first.group, verdict: first.verdict }] : [] };
  return response(call, {
    content: [{ type: "tool_use", id: id("toolu_"), name: TOOL_NAME, input: partialInput }],
    message: {
      role: "assistant",
      content: null,
      tool_calls: [openAiToolCall(args.slice(0, Math.floor(args.length / 2)))],
    },
    stopReason: "max_tokens",
    finishReason: "length",
    outputTokens: limit,
  });
}

function openAiToolCall(args, name = TOOL_NAME) {
  return { id: id("call_"), type: "function", function: { name, arguments: args } };
}

/** The provider's error type and default message for an HTTP status. */
function errorKind(provider, status) {
  if (provider === "anthropic") {
    const known = {
      400: ["invalid_request_error", "Invalid request."],
      401: ["authentication_error", "invalid x-api-key"],
      403: ["permission_error", "Your API key does not have permission to use the specified resource."],
      404: ["not_found_error", "The requested resource could not be found."],
      413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
      429: ["rate_limit_error", "Number of requests has exceeded your per-minute rate limit."],
      500: ["api_error", "Internal server error"],
      529: ["overloaded_error", "Overloaded"],
    };
    return known[status]
      ?? (status >= 500 ? ["api_error", "Internal server error"] : ["invalid_request_error", "Invalid request."]);
  }
  const known = {
    401: ["invalid_request_error", "Incorrect API key provided.", "invalid_api_key"],
    404: ["invalid_request_error", "The requested resource does not exist.", null],
    429: ["requests", "Rate limit reached for requests.", "rate_limit_exceeded"],
    503: ["server_error", "The server is overloaded or not ready yet.", null],
  };
  return known[status]
    ?? (status >= 500
      ? ["server_error", "The server had an error while processing your request.", null]
      : ["invalid_request_error", "Invalid request.", null]);
}

/** Answers `status` with the provider's error body (`message` overrides the default text). */
function sendError(res, provider, status, message, headers = {}) {
  const [type, defaultMessage, code] = errorKind(provider, status);
  const text = message ?? defaultMessage;
  const body = provider === "anthropic"
    ? { type: "error", error: { type, message: text } }
    : { error: { message: text, type, param: null, code: code ?? null } };
  send(res, status, headers, body);
}

/** Writes a JSON response (a string is sent as is), unless the client is gone. */
function send(res, status, headers, body) {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
