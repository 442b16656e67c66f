// SPDX-License-Identifier: MIT
//
// node validate.mjs OPENAPI.json RECORD_DIR
//
// 1. Validates OPENAPI.json against the OpenAPI 3.1 schema
//    (@seriousme/openapi-schema-validator) and resolves every $ref.
// 2. Validates every response recorded by the e2e suite (RECORD_DIR/*.jsonl,
//    written by tests/e2e/lib.sh's `request` when USERSVC_RECORD_DIR is set)
//    against the document:
//    - the path and method map to an operation (path templates as OpenAPI
//      matches them, after the server's percent-decoding); an unknown path
//      must get components.responses.NotFound (404); a method the path does
//      not answer must get a status its operations all document (405 with
//      Allow, or one of the statuses every request may get: 400, 413, ...);
//    - the status is documented for that operation;
//    - every required header is present and every documented header's value
//      matches its schema;
//    - the Content-Type is one the response documents, and the body
//      validates against its schema (JSON Schema 2020-12, ajv); HEAD, 204
//      and 304 responses and responses without documented content have no
//      body.
// Prints TAP: one line per check group, every mismatch as a diagnostic,
// counts per operation and status, and which documented statuses no test
// produced (for information). Exits 1 when anything does not validate.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docPath, recordDir] = process.argv.slice(2);
if (!docPath || !recordDir) {
  console.error("usage: node validate.mjs OPENAPI.json RECORD_DIR");
  process.exit(2);
}

let n = 0;
let failed = 0;
const ok = (desc) => console.log(`ok ${++n} - ${desc}`);
const notOk = (desc, lines = []) => {
  failed++;
  console.log(`not ok ${++n} - ${desc}`);
  for (const l of lines) console.log(`#   ${l}`);
};
const diag = (s) => console.log(`# ${s}`);

// ---------------------------------------------------------------------------
// The document itself

const doc = JSON.parse(readFileSync(docPath, "utf8"));
const validator = new Validator();
const res = await validator.validate(structuredClone(doc));
if (res.valid && validator.version.startsWith("3.1")) {
  ok(`${docPath} is a valid OpenAPI ${doc.openapi} document`);
} else {
  notOk(`${docPath} is a valid OpenAPI 3.1 document (version ${validator.version})`,
    (res.errors ? [].concat(res.errors) : []).slice(0, 20).map((e) => JSON.stringify(e)));
}
try {
  validator.resolveRefs();
  ok("every $ref in the document resolves");
} catch (e) {
  notOk("every $ref in the document resolves", [String(e)]);
}

// JSON pointer ("#/components/responses/NotFound") into the document.
function deref(obj) {
  let seen = 0;
  while (obj && typeof obj.$ref === "string") {
    if (!obj.$ref.startsWith("#/") || ++seen > 20) throw new Error(`bad $ref ${obj.$ref}`);
    obj = obj.$ref.slice(2).split("/").reduce((o, k) => {
      const key = k.replace(/~1/g, "/").replace(/~0/g, "~");
      if (o === undefined || !(key in o)) throw new Error(`unresolved $ref ${obj.$ref}`);
      return o[key];
    }, doc);
  }
  return obj;
}

// Schemas: components.schemas become $defs of one schema that ajv knows as
// "urn:usersvc:schemas"; "#/components/schemas/X" refs are rewritten to it.
const SCHEMAS_ID = "urn:usersvc:schemas";
function rewriteRefs(v) {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string" && x.startsWith("#/components/schemas/")) {
        out[k] = `${SCHEMAS_ID}#/$defs/${x.slice("#/components/schemas/".length)}`;
      } else {
        out[k] = rewriteRefs(x);
      }
    }
    return out;
  }
  return v;
}
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
addFormats(ajv);
ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewriteRefs(doc.components?.schemas ?? {}) });
const compiled = new Map();
function schemaValidator(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rewriteRefs(schema)));
  return compiled.get(key);
}
try {
  for (const name of Object.keys(doc.components?.schemas ?? {})) {
    schemaValidator({ $ref: `#/components/schemas/${name}` });
  }
  ok("every component schema compiles (JSON Schema 2020-12, ajv strict mode)");
} catch (e) {
  notOk("every component schema compiles (JSON Schema 2020-12, ajv strict mode)", [String(e)]);
}

// ---------------------------------------------------------------------------
// Matching a request to an operation

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const templates = Object.keys(doc.paths).map((p) => {
  const names = [];
  const re = p.split("/").map((seg) => seg.replace(/[.*+?^$()|[\]\\]/g, "\\$&")
    .replace(/\\?\{([^}]+)\\?\}/g, (_, name) => { names.push(name); return "([^/]+)"; }))
    .join("/");
  return { path: p, re: new RegExp(`^${re}$`), literal: names.length === 0 };
});

// The server percent-decodes the path, except %00 (kept as it is).
function decodePath(p) {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, h) => (h === "00" ? m : String.fromCharCode(parseInt(h, 16))));
}

function findPath(rawPath) {
  const path = decodePath(rawPath.split("?")[0]);
  const hits = templates.filter((t) => t.re.test(path));
  hits.sort((a, b) => Number(b.literal) - Number(a.literal)); // concrete paths first
  return hits[0]?.path;
}

// ---------------------------------------------------------------------------
// Responses

// The final header block of a raw header dump: name (lower case) -> [values].
function parseHeaders(raw) {
  const blocks = raw.replace(/\r/g, "").split(/\n(?=HTTP\/)/);
  const block = blocks[blocks.length - 1];
  const h = {};
  for (const line of block.split("\n").slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    (h[name] ??= []).push(line.slice(i + 1).trim());
  }
  return h;
}

// Responses outside any operation: an unknown path gets NotFound; a method a
// path does not answer gets what every operation of the path documents for
// that status (405 with Allow, 400 for bad framing, ...).
const notFound = doc.components?.responses?.NotFound;
function sharedResponse(item, status) {
  const ops = METHODS.map((m) => item[m]).filter(Boolean);
  return ops.every((o) => o.responses?.[status]) ? ops[0]?.responses?.[status] : undefined;
}
const counts = new Map();        // "METHOD path status" -> n
const seenDocumented = new Set(); // "method path status"
let total = 0;
let mismatches = 0;
const problems = [];

function check(rec) {
  const errs = [];
  const method = rec.method;
  const status = String(rec.status);
  const headers = parseHeaders(rec.headers ?? "");
  const body = rec.body ?? "";
  const pathKey = findPath(rec.path);
  let response;
  let where;
  const item = pathKey ? doc.paths[pathKey] : undefined;
  // HTTP methods are case-sensitive: "get" is not GET.
  const op = item && method === method.toUpperCase() && METHODS.includes(method.toLowerCase())
    ? item[method.toLowerCase()] : undefined;
  if (!pathKey) {
    where = "unknown path";
    response = status === "404" ? notFound : undefined;
  } else if (!op) {
    where = `${pathKey}: method ${method} not documented`;
    response = sharedResponse(item, status);
  } else {
    where = `${method} ${pathKey}`;
    response = op.responses?.[status];
    if (op.responses?.[status]) seenDocumented.add(`${method} ${pathKey} ${status}`);
  }
  const countKey = `${pathKey ? `${method} ${pathKey}` : `${method} (unknown path)`} ${status}`;
  counts.set(countKey, (counts.get(countKey) ?? 0) + 1);
  if (!response) {
    errs.push(`status ${status} is not documented for ${where}`);
    return errs;
  }
  response = deref(response);

  for (const [name, hdef0] of Object.entries(response.headers ?? {})) {
    const hdef = deref(hdef0);
    const values = headers[name.toLowerCase()];
    if (!values) {
      if (hdef.required) errs.push(`required header ${name} is missing`);
      continue;
    }
    if (hdef.schema) {
      const v = schemaValidator(hdef.schema);
      for (const value of values) {
        if (!v(value)) errs.push(`header ${name}: '${value}' ${ajv.errorsText(v.errors)}`);
      }
    }
  }

  const ctype = (headers["content-type"]?.[0] ?? "").split(";")[0].trim().toLowerCase();
  const noBody = method === "HEAD" || status === "204" || status === "304";
  if (noBody) {
    if (body.length > 0) errs.push(`a ${method} ${status} response has a body`);
    if (response.content && method === "HEAD" && ctype && !(ctype in response.content)) {
      errs.push(`Content-Type '${ctype}' is not one of ${Object.keys(response.content).join(", ")}`);
    }
    return errs;
  }
  if (!response.content) {
    if (body.length > 0) errs.push(`the response documents no content, but has a body (${ctype})`);
    return errs;
  }
  const media = response.content[ctype];
  if (!media) {
    errs.push(`Content-Type '${ctype}' is not one of ${Object.keys(response.content).join(", ")}`);
    return errs;
  }
  if (!media.schema) return errs;
  let value = body;
  if (ctype === "application/json" || ctype.endsWith("+json")) {
    try {
      value = JSON.parse(body);
    } catch (e) {
      errs.push(`the body is not JSON: ${String(e).slice(0, 120)}`);
      return errs;
    }
  }
  const v = schemaValidator(media.schema);
  if (!v(value)) {
    for (const e of v.errors.slice(0, 8)) {
      errs.push(`body${e.instancePath || ""} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
    }
  }
  return errs;
}

// The validator itself: records that break the document in known ways must
// each be reported, and a correct one must pass.
{
  const hdr = (status, ctype, extra = "") =>
    `HTTP/1.1 ${status} X\r\nContent-Type: ${ctype}\r\nX-Request-Id: self-test\r\n${extra}\r\n`;
  const user = { id: 1, login: "alice", first_name: null, last_name: "L",
    created_at: "2026-11-21T08:00:00.123456Z", updated_at: "2026-11-21T08:00:00.123456Z" };
  const etag = 'ETag: "0123456789abcdef"\r\n';
  const good = { method: "GET", path: "/users/1", status: 200,
    headers: hdr(200, "application/json", etag), body: JSON.stringify(user) };
  const cases = [
    ["a user with a seventh key", { ...good, body: JSON.stringify({ ...user, extra: 1 }) }],
    ["a user without updated_at", { ...good, body: JSON.stringify({ ...user, updated_at: undefined }) }],
    ["a login breaking the pattern", { ...good, body: JSON.stringify({ ...user, login: "a b" }) }],
    ["created_at without microseconds",
      { ...good, body: JSON.stringify({ ...user, created_at: "2026-11-21T08:00:00Z" }) }],
    ["a missing ETag", { ...good, headers: hdr(200, "application/json") }],
    ["a missing X-Request-Id",
      { ...good, headers: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${etag}\r\n` }],
    ["an undocumented status", { ...good, status: 418 }],
    ["a wrong Content-Type", { ...good, headers: hdr(200, "text/html", etag) }],
    ["a 404 with errors", { method: "GET", path: "/users/9", status: 404,
      headers: hdr(404, "application/problem+json"),
      body: JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: "x",
        errors: [] }) }],
    ["a problem whose status differs from the response's", { method: "GET", path: "/users/9",
      status: 404, headers: hdr(404, "application/problem+json"),
      body: JSON.stringify({ type: "about:blank", title: "Not Found", status: 400, detail: "x" }) }],
    ["a 422 without errors", { method: "POST", path: "/users", status: 422,
      headers: hdr(422, "application/problem+json"),
      body: JSON.stringify({ type: "about:blank", title: "Unprocessable Content", status: 422,
        detail: "x" }) }],
    ["a 405 without Allow", { method: "PUT", path: "/users", status: 405,
      headers: hdr(405, "application/problem+json"),
      body: JSON.stringify({ type: "about:blank", title: "Method Not Allowed", status: 405,
        detail: "x" }) }],
    ["a 201 without Location", { method: "POST", path: "/users", status: 201,
      headers: hdr(201, "application/json", etag), body: JSON.stringify(user) }],
    ["a 204 with a body", { method: "DELETE", path: "/users/1", status: 204,
      headers: hdr(204, "application/json"), body: "{}" }],
    ["a list with a bad next link", { method: "GET", path: "/users?limit=1", status: 200,
      headers: hdr(200, "application/json"),
      body: JSON.stringify({ items: [user], next: "/users?after=1" }) }],
  ];
  const goodErrs = check(good);
  if (goodErrs.length === 0) ok("validator self-test: a correct response passes");
  else notOk("validator self-test: a correct response passes", goodErrs);
  const missed = cases.filter(([, rec]) => check(rec).length === 0).map(([name]) => name);
  if (missed.length === 0) ok(`validator self-test: ${cases.length} known-bad responses are all reported`);
  else notOk("validator self-test: known-bad responses are all reported", missed.map((m) => `not reported: ${m}`));
  counts.clear();
  seenDocumented.clear();
}

const files = readdirSync(recordDir).filter((f) => f.endsWith(".jsonl")).sort();
for (const f of files) {
  const lines = readFileSync(join(recordDir, f), "utf8").split("\n").filter((l) => l.length > 0);
  for (const [i, line] of lines.entries()) {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      mismatches++;
      problems.push(`${f}:${i + 1}: unreadable record: ${String(e)}`);
      continue;
    }
    total++;
    let errs;
    try {
      errs = check(rec);
    } catch (e) {
      errs = [`validator error: ${e.message ?? e}`];
    }
    if (errs.length > 0) {
      mismatches++;
      problems.push(`${rec.test ?? f}: ${rec.method} ${rec.path} -> ${rec.status}`);
      for (const e of errs) problems.push(`    ${e}`);
    }
  }
}

if (total === 0) {
  notOk(`responses were recorded in ${recordDir}`);
} else if (mismatches === 0) {
  ok(`all ${total} recorded responses (${files.length} tests) validate against ${docPath}`);
} else {
  notOk(`all ${total} recorded responses (${files.length} tests) validate against ${docPath}: ` +
    `${mismatches} do not`, problems);
}

diag(`responses by operation and status (${total} in all):`);
for (const [k, c] of [...counts.entries()].sort()) diag(`  ${String(c).padStart(5)}  ${k}`);
const unseen = [];
for (const [p, item] of Object.entries(doc.paths)) {
  for (const m of METHODS) {
    for (const s of Object.keys(item[m]?.responses ?? {})) {
      if (!seenDocumented.has(`${m.toUpperCase()} ${p} ${s}`)) unseen.push(`${m.toUpperCase()} ${p} ${s}`);
    }
  }
}
diag(`documented responses no e2e test produced (${unseen.length}): ${unseen.join("; ")}`);
console.log(`1..${n}`);
diag(`${total} responses validated, ${mismatches} mismatches`);
process.exit(failed > 0 ? 1 : 0);
