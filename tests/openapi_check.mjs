// Holds every JSON answer the end-to-end suites received (recorded by the
// harness into the file named by REVERIE_API_LOG) against the service's
// OpenAPI document: the route, method and status must be documented, and
// the body must match the documented schema. Prints what it checked;
// exits 1 on the first report of mismatches.
//
//   node tests/openapi_check.mjs <responses.jsonl>

import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { ROOT } from "./harness.mjs";

const log = process.argv[2];
if (!log) {
  console.error("usage: node tests/openapi_check.mjs <responses.jsonl>");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(join(ROOT, "worker", "openapi.json"), "utf8"));
const prefix = doc.servers?.[0]?.url ?? "";

// The document is one schema resource: a response's schema is reached by
// a JSON pointer into it, so its `$ref`s resolve as written.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(doc, "openapi");

const pointer = (parts) => parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

/** The documented route a concrete path takes, or undefined. */
const routes = Object.keys(doc.paths).map((template) => {
  const pattern = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
  // Literal segments first: `/agents/{id}/passes` before `/agents/{id}/{x}`.
  return { template, re: new RegExp(`^${prefix}${pattern}$`), literal: template.replace(/\{[^}]+\}/g, "").length };
});
routes.sort((a, b) => b.literal - a.literal);

/** The response object for a status, following a `$ref` into components. */
function responseFor(operation, status) {
  let response = operation.responses?.[String(status)] ?? operation.responses?.default;
  const key = operation.responses?.[String(status)] ? String(status) : "default";
  if (!response) return {};
  let path = null;
  if (response.$ref) {
    const name = response.$ref.split("/").pop();
    response = doc.components.responses[name];
    path = ["#", "components", "responses", name];
  }
  return { response, key, path };
}

const problems = [];
const validators = new Map();
const errorSchema = ajv.compile({ $ref: "openapi#/components/schemas/Error" });

/** An answer to a path or method the document does not have: the
 * service's error shape, for 401 (authentication comes before routing),
 * 404 and 405 only. */
function undocumented(method, path, status, body, what) {
  if ([401, 404, 405].includes(status) && errorSchema(body)) return;
  problems.push(`${method} ${path} → ${status}: ${what}`);
}
const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
const seen = new Set();
for (const line of lines) {
  const { method, path, status, body } = JSON.parse(line);
  const route = routes.find((r) => r.re.test(path));
  if (!route) {
    undocumented(method, path, status, body, "no such path in the document");
    continue;
  }
  const m = method.toLowerCase();
  const operation = doc.paths[route.template][m];
  if (!operation) {
    undocumented(method, route.template, status, body, "method not documented");
    continue;
  }
  const { response, key, path: refPath } = responseFor(operation, status);
  if (!response) {
    problems.push(`${method} ${route.template} → ${status}: status not documented`);
    continue;
  }
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) {
    problems.push(`${method} ${route.template} → ${status}: documented without a JSON body`);
    continue;
  }
  const where = refPath
    ? pointer([...refPath.slice(1), "content", "application/json", "schema"])
    : pointer(["paths", route.template, m, "responses", key, "content", "application/json", "schema"]);
  const ref = `openapi#/${where}`;
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  seen.add(`${method} ${route.template} ${status}`);
  if (!validate(body)) {
    const errors = validate.errors
      .slice(0, 5)
      .map((e) => `${e.instancePath || "(body)"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`)
      .join("; ");
    problems.push(`${method} ${route.template} → ${status}: ${errors}`);
  }
}

const unique = [...new Set(problems)];
console.log(
  `openapi check: ${lines.length} answers, ${seen.size} documented route/status pairs seen, ${unique.length} mismatch(es)`,
);
for (const p of unique) console.log(`  ${p}`);
process.exit(unique.length ? 1 : 0);
