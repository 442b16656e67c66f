// SPDX-License-Identifier: MIT
//
// Dredd hooks for tests/openapi/run.sh: Dredd (an independent tool) reads
// openapi.json, sends each operation's documented example request to a real
// usersvc and checks the answer against the documented response.
//
// Dredd makes one transaction per documented status. Only the success
// statuses can be produced by the example requests themselves (an example
// cannot be both valid and a 400), so the others are skipped here; every
// documented error response is validated instead by validate.mjs against
// the responses the e2e suite really provoked.
const hooks = require("hooks");

let etag = null;

hooks.beforeEach((t, done) => {
  const status = Number(t.expected.statusCode);
  if (status < 200 || status >= 300) t.skip = true;
  // Dredd 14 always hands its HTTP client a (possibly empty) body buffer,
  // which that client refuses for HEAD ("HTTP HEAD requests MUST NOT include
  // a request body"), so Dredd cannot send HEAD at all; validate.mjs checks
  // the HEAD responses the e2e suite recorded.
  if (t.request.method === "HEAD") t.skip = true;
  // /metrics is text whose values change between requests: Dredd compares
  // text bodies byte for byte with the example, so only status and headers.
  if (t.request.uri.startsWith("/metrics")) delete t.expected.body;
  // The example If-Match is some other representation's tag; a PATCH or
  // DELETE of the example user sends the tag last received for it.
  if ((t.request.method === "PATCH" || t.request.method === "DELETE") && etag) {
    t.request.headers["If-Match"] = etag;
  }
  done();
});

hooks.beforeEachValidation((t, done) => {
  const real = t.real?.headers ?? {};
  const exp = t.expected.headers ?? {};
  // Dredd compares Content-Type whole; the document names the media type,
  // and the server may add parameters (charset, the Prometheus version).
  const media = (v) => String(v ?? "").split(";")[0].trim().toLowerCase();
  if (exp["Content-Type"] && media(exp["Content-Type"]) === media(real["content-type"])) {
    exp["Content-Type"] = real["content-type"];
  }
  // Dredd treats every documented header as required; Link is documented
  // as present only when there is a next page.
  if (!("link" in real)) delete exp.Link;
  // Idempotency-Replayed is documented as present only on a replay.
  if (!("idempotency-replayed" in real)) delete exp["Idempotency-Replayed"];
  done();
});

hooks.afterEach((t, done) => {
  if (/^\/users\/\d+$/.test(t.request.uri) && t.real?.headers?.etag) {
    etag = t.real.headers.etag;
  }
  done();
});
