#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/1.1 conformance corpus: API.md "Third stage", "HTTP/1.1 strictness".

    http_conformance.py PORT [--only SUBSTRING] [--verbose]

Standard library only. Talks raw bytes to a usersvc on 127.0.0.1:PORT (a
fresh database: tests/e2e/http_conformance.sh starts it on every backend)
and prints TAP lines ("ok N - ...", "not ok N - ...", "# diagnostics"),
then "# N passed, N failed"; the exit status is 1 when a case failed.

Each case writes its bytes on a fresh connection, never half-closes (a
proxy in front would not either), and reads until the server closes the
connection, or until a deadline of a few seconds: a silent server, or one
that keeps the connection after a refusal, fails the case within seconds.
What arrives must be exactly the expected number of well-formed responses
(one status line each, header lines that are tokens and values, a body of
exactly Content-Length bytes, nothing after the last one).

Refused requests ("reject" cases) must get exactly one response with the
expected status, a problem+json body (type, title, status, detail) and an
X-Request-Id, and the connection closed. For each request smuggling family
the bytes after the head hold a complete second request, POST /users with a
unique login: it must never run, which is checked by looking that login up
(GET /users?login=...) at the end.

Accepted requests ("accept" cases) must get the expected statuses, one per
request, in order.
"""
import argparse
import json
import socket
import sys
import time

HOST = "127.0.0.1"
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
WAIT_S = 4.0          # longest wait for a response or a close
QUIET_S = 0.3         # after the expected responses: nothing more may come

SMUGGLED = []         # logins that hidden requests would have created
RUN = "%x" % (int(time.time() * 1000) % 0xFFFFFF)   # unique logins per run


def hidden(tag):
    """A complete POST /users creating login smug-TAG, for a request's tail."""
    login = "smug-%s-%s" % (RUN, tag)
    SMUGGLED.append(login)
    body = json.dumps({"login": login}).encode()
    return (b"POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


class Malformed(Exception):
    pass


def parse_responses(buf, head_request=False):
    """Split buf into responses; raise Malformed for anything that is not a
    well-formed HTTP/1.1 response. Returns (responses, leftover bytes)."""
    out = []
    pos = 0
    while pos < len(buf):
        start = pos
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            return out, buf[pos:]
        lines = buf[pos:end].split(b"\r\n")
        status_line = lines[0]
        parts = status_line.split(b" ", 2)
        if (len(parts) < 2 or parts[0] != b"HTTP/1.1" or len(parts[1]) != 3
                or not parts[1].isdigit()):
            raise Malformed("bad status line %r" % status_line[:80])
        status = int(parts[1])
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or any(c not in TCHAR for c in name):
                raise Malformed("bad header line %r" % line[:80])
            if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
                raise Malformed("control character in header %r" % line[:80])
            headers.append((name.decode().lower(), value.strip().decode("latin-1")))
        pos = end + 4
        if 100 <= status < 200:
            out.append({"status": status, "headers": headers, "body": b""})
            continue
        cls = [v for n, v in headers if n == "content-length"]
        if any(n == "transfer-encoding" for n, _ in headers):
            raise Malformed("chunked response (usersvc always sends Content-Length)")
        if len(cls) > 1:
            raise Malformed("%d Content-Length fields" % len(cls))
        length = 0
        if cls:
            if not cls[0].isdigit():
                raise Malformed("bad Content-Length %r" % cls[0])
            length = int(cls[0])
        elif status not in (204, 304):
            raise Malformed("status %d without Content-Length" % status)
        if status in (204, 304) or head_request:
            length = 0
        if len(buf) < pos + length:
            return out, buf[start:]
        out.append({"status": status, "headers": headers, "body": buf[pos:pos + length]})
        pos += length
    return out, b""


def exchange(port, data, n_expected, send_after_100=None):
    """Send data; read until closed, or n_expected final responses and QUIET_S
    of silence, or WAIT_S. Returns (bytes, closed, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection((HOST, port), timeout=WAIT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    closed = False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        deadline = t0 + WAIT_S
        sent_rest = send_after_100 is None
        while True:
            finals = 0
            try:
                resp, _ = parse_responses(bytes(buf))
                finals = sum(1 for r in resp if r["status"] >= 200)
                if not sent_rest and any(r["status"] == 100 for r in resp):
                    s.sendall(send_after_100)
                    sent_rest = True
            except Malformed:
                finals = n_expected   # wait for the close only
            left = deadline - time.monotonic()
            if finals >= n_expected:
                left = min(left, QUIET_S)
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    finally:
        s.close()
    return bytes(buf), closed, time.monotonic() - t0


class Runner:
    def __init__(self, port, verbose):
        self.port = port
        self.verbose = verbose
        self.n = 0
        self.failed = 0

    def result(self, good, desc, why=()):
        self.n += 1
        if good:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            for w in why:
                print("#   %s" % w)
        sys.stdout.flush()

    def reject(self, desc, data, status=400, detail=None, after_ok=0, mhd_page=False):
        """data must get one problem response with status, and a close.
        after_ok: that many 200 responses come first (keep-alive requests
        before the refused one). mhd_page: the response is libmicrohttpd's
        own (a connection's first request line; README "HTTP strictness"):
        one well-formed response with that status, or a close without one,
        but not a problem body."""
        buf, closed, took = exchange(self.port, data, 1 + after_ok)
        why = []
        try:
            resp, rest = parse_responses(buf)
            if rest:
                why.append("trailing bytes after the responses: %r" % rest[:120])
        except Malformed as e:
            resp = []
            why.append("malformed answer: %s" % e)
        if not buf:
            why.append("no answer at all in %.1f s" % took)
        finals = [r for r in resp if r["status"] >= 200]
        oks, finals = finals[:after_ok], finals[after_ok:]
        if any(r["status"] != 200 for r in oks) or len(oks) != after_ok:
            why.append("the %d requests before were not answered 200" % after_ok)
        if len(finals) != 1 and buf and not (mhd_page and status == 0):
            why.append("%d responses, not 1: %s" % (len(finals), [r["status"] for r in finals]))
        if mhd_page and status == 0:
            if finals:
                why.append("an answer, not a close without one")
            finals = []
            why = [w for w in why if not w.startswith("no answer")]
        elif mhd_page:
            if finals and finals[0]["status"] != status:
                why.append("status %d, not %d" % (finals[0]["status"], status))
            finals = []
            if not buf:
                why = [w for w in why if not w.startswith("no answer")]
        if finals:
            r = finals[0]
            h = dict(r["headers"])
            if r["status"] != status:
                why.append("status %d, not %d" % (r["status"], status))
            if h.get("content-type") != "application/problem+json":
                why.append("Content-Type %r, not application/problem+json" % h.get("content-type"))
            if not h.get("x-request-id"):
                why.append("no X-Request-Id")
            try:
                p = json.loads(r["body"])
                if p.get("status") != status or not p.get("title") or "detail" not in p:
                    why.append("problem body lacks status/title/detail: %r" % p)
                elif detail is not None and detail not in p["detail"]:
                    why.append("detail %r does not say %r" % (p["detail"], detail))
            except ValueError:
                why.append("body is not JSON: %r" % r["body"][:120])
        if not closed:
            why.append("connection not closed within %.1f s" % WAIT_S)
        if why or self.verbose:
            why.append("got: %r" % buf[:300])
        self.result(not why or (self.verbose and len(why) == 1),
                    "%s -> %s, close" % (desc, status or "no answer"), why)

    def accept(self, desc, data, statuses, head_request=False, send_after_100=None,
               check=None):
        """data must get len(statuses) responses with those statuses."""
        buf, closed, took = exchange(self.port, data, len(statuses), send_after_100)
        why = []
        resp = []
        try:
            resp, rest = parse_responses(buf, head_request)
            if rest:
                why.append("trailing bytes after the responses: %r" % rest[:120])
        except Malformed as e:
            why.append("malformed answer: %s" % e)
        got = [r["status"] for r in resp if r["status"] >= 200 or r["status"] == 100]
        want = list(statuses)
        if got != want:
            why.append("statuses %s, not %s (in %.1f s)" % (got, want, took))
        if check is not None and not why:
            msg = check(resp)
            if msg:
                why.append(msg)
        if why:
            why.append("got: %r" % buf[:400])
        self.result(not why, "%s -> %s" % (desc, " ".join(map(str, statuses))), why)
        return resp


def req(head, body=b""):
    return head.replace(b"\n", b"\r\n") + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--only", default="")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    t = Runner(args.port, args.verbose)
    port = args.port
    H = b"Host: 127.0.0.1\r\n"
    J = b"Content-Type: application/json\r\n"

    def only(desc):
        return args.only in desc

    # A user to read (its id and ETag for the conditional cases).
    body = b'{"login":"conf-%s","first_name":"Ada"}' % RUN.encode()
    resp = t.accept("setup: POST /users", b"POST /users HTTP/1.1\r\n" + H + J +
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body, [201])
    uid = json.loads(resp[0]["body"])["id"] if resp and resp[0]["status"] == 201 else 1
    etag = dict(resp[0]["headers"]).get("etag", '"x"') if resp else '"x"'
    user = b"/users/%d" % uid

    # ---- smuggling families: the hidden request must never run ----------
    def smug(desc, head, tag, status=400, detail=None):
        if not only(desc):
            return
        t.reject(desc, head + hidden(tag), status, detail)

    hx = hidden("probe")   # its length, for Content-Length values
    SMUGGLED.pop()
    n = len(hx)
    smug("whitespace before colon: 'Content-Length : N'",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length : %d\r\n\r\n" % n, "ws-sp",
         detail="whitespace")
    smug("whitespace before colon: 'Content-Length\\t: N'",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length\t: %d\r\n\r\n" % n, "ws-tab")
    smug("whitespace before colon: 'Transfer-Encoding : chunked'",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding : chunked\r\n\r\n"
         b"0\r\n\r\n", "ws-te")
    smug("bad byte in a field name: 'Content\\x01Length'",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content\x01Length: %d\r\n\r\n" % n, "name-ctl")
    smug("space inside a field name: 'Content Length'",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content Length: %d\r\n\r\n" % n, "name-sp")
    smug("empty field name: ': x'",
         b"GET /healthz HTTP/1.1\r\n" + H + b": x\r\n\r\n", "name-empty")
    smug("non-token field name: 'X(a): 1'",
         b"GET /healthz HTTP/1.1\r\n" + H + b"X(a): 1\r\n\r\n", "name-paren")
    smug("CL.CL: two different Content-Length lines",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Content-Length: 2\r\nContent-Length: %d\r\n"
         b"\r\n{}" % (n + 2), "clcl")
    smug("CL.CL: two equal Content-Length lines",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n",
         "clcl-eq")
    for cl in (b"abc", b"-1", b"+5", b"0x10", b"1 1", b"5 5", b"2, 3", b"0, 95", b"5, 5",
               b"", b"1.0", b"99999999999999999999999"):
        # A decimal too large for any body is 413, the others 400.
        smug("Content-Length: %r" % cl.decode(),
             b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: " + cl + b"\r\n\r\n",
             "cl-" + (cl.decode().replace(" ", "_").replace(",", "") or "empty"),
             413 if len(cl) > 18 else 400)
    smug("CL.TE: Content-Length then Transfer-Encoding",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Content-Length: 5\r\nTransfer-Encoding: chunked"
         b"\r\n\r\n0\r\n\r\n", "clte")
    smug("TE.CL: Transfer-Encoding then Content-Length",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: chunked\r\nContent-Length: 5"
         b"\r\n\r\n0\r\n\r\n", "tecl")
    for te, tag, st in ((b"gzip", "te-gzip", 400), (b"chunked, identity", "te-ch-id", 400),
                        (b"identity", "te-id", 400), (b"\x0bchunked", "te-vt", 400),
                        (b"chunked\x0b", "te-vt2", 400), (b"xchunked", "te-x", 400),
                        (b"chunked, chunked", "te-2ch", 400), (b"gzip, chunked", "te-gz-ch", 501),
                        (b"x-custom, chunked", "te-x-ch", 501)):
        smug("Transfer-Encoding: %r" % te.decode(),
             b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: " + te + b"\r\n\r\n"
             b"0\r\n\r\n", tag, st)
    smug("two Transfer-Encoding lines: chunked, then gzip",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: chunked\r\n"
         b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n", "te-lines")
    smug("two Transfer-Encoding lines: gzip, then chunked",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: gzip\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "te-lines2", 501)
    smug("Transfer-Encoding in an HTTP/1.0 request",
         b"POST /users HTTP/1.0\r\n" + J + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "te-10")
    smug("obs-fold: a continuation line",
         b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", "fold", detail="fold")
    smug("obs-fold: Content-Length continued",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length:\r\n %d\r\n\r\n" % n, "fold-cl")
    smug("obs-fold: a tab continuation line",
         b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n",
         "fold-tab")
    smug("obs-fold: a folded first line",
         b"GET /healthz HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n", "fold-first")
    for v, tag in ((b"a\x01b", "ctl01"), (b"a\x7fb", "del"), (b"a\x1bb", "esc"),
                   (b"a\x00b", "nul"), (b"a\rb", "cr")):
        smug("control character in a field value: %r" % v,
             b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: " + v + b"\r\n\r\n", "val-" + tag)
    smug("NUL inside Content-Length",
         b"GET /healthz HTTP/1.1\r\n" + H + b"Content-Length: 0\x00%d\r\n\r\n" % n, "cl-nul",
         detail="NUL")
    smug("bare LF line ends with a space-before-colon CL",
         b"GET /healthz HTTP/1.1\n" + b"Host: a\nContent-Length : %d\n\n" % n, "lf-ws")

    # ---- the request line ----------------------------------------------
    for line, tag in ((b"GET  /healthz HTTP/1.1", "rl-2sp"),
                      (b"GET /healthz  HTTP/1.1", "rl-2sp2"),
                      (b"G(T /healthz HTTP/1.1", "rl-method"),
                      (b"GE\x01T /healthz HTTP/1.1", "rl-method-ctl"),
                      (b"GET /he\x01althz HTTP/1.1", "rl-target-ctl"),
                      (b"GET /he\x00althz HTTP/1.1", "rl-target-nul"),
                      (b"GET /h\xc3\xa9 HTTP/1.1", "rl-target-utf8"),
                      (b"GET users HTTP/1.1", "rl-target-form"),
                      (b"GET http://user@127.0.0.1/healthz HTTP/1.1", "rl-abs-userinfo"),
                      (b"GET ftp://127.0.0.1/healthz HTTP/1.1", "rl-abs-scheme")):
        smug("request line %r" % line, line + b"\r\n" + H + b"\r\n", tag)
    # What libmicrohttpd 0.9.75 refuses in a request line before any
    # callback: on a connection's first request, its own page (or a close);
    # on a later request of a kept-alive connection, a problem body.
    ok1 = b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
    for line, tag, st in ((b"GET /healthz HTTP/1.1 ", "rl-trail", 400),
                          (b"GET\t/healthz HTTP/1.1", "rl-tab", 400),
                          (b"GET /healthz HTTP/1.1\x00", "rl-ver-nul", 400),
                          (b"GET /healthz HTTP/2.0", "rl-v2", 505),
                          (b"GET /healthz HTTP/1.1x", "rl-v11x", 400),
                          (b"GET /healthz HTTP/01.1", "rl-v011", 400),
                          (b" GET /healthz HTTP/1.1", "rl-lead", 0),
                          (b"\x16\x03\x01\x02\x00\x01\x00", "rl-garbage", 0)):
        # st 0: libmicrohttpd closes the connection without an answer,
        # which API.md allows ("or the connection is closed").
        desc = "request line %r" % line
        if only(desc):
            t.reject(desc + " (first on its connection: libmicrohttpd's page)",
                     line + b"\r\n" + H + b"\r\n" + hidden(tag), st, mhd_page=True)
            t.reject(desc + " (after a kept-alive request)",
                     ok1 + line + b"\r\n" + H + b"\r\n" + hidden(tag + "-ka"), st, after_ok=1,
                     mhd_page=st == 0)

    # ---- Host --------------------------------------------------------------
    for v, tag in ((b"a b", "host-sp"), (b"user@127.0.0.1", "host-userinfo"),
                   (b"\xa0x", "host-a0"), (b"::1", "host-v6"), (b"[::1", "host-v6open"),
                   (b"a:b", "host-port"), (b"a:80:80", "host-2port"), (b"a/b", "host-slash"),
                   (b"[::1]x", "host-v6trail"), (b"a:1:", "host-port-colon")):
        smug("Host: %r" % v, b"GET /healthz HTTP/1.1\r\nHost: " + v + b"\r\n\r\n", tag)
    smug("HTTP/1.1 without Host", b"GET /healthz HTTP/1.1\r\n\r\n", "no-host")
    smug("two Host lines", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two-hosts")
    # Which token, which write a retry repeats: never a guess.
    smug("two Authorization lines", b"GET /healthz HTTP/1.1\r\n" + H +
         b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", "two-auth",
         detail="Authorization")
    smug("two Idempotency-Key lines", b"POST /users HTTP/1.1\r\n" + H + J +
         b"Idempotency-Key: k1\r\nIdempotency-Key: k2\r\nContent-Length: 15\r\n\r\n"
         b'{"login":"k12"}', "two-keys", detail="Idempotency-Key")

    # ---- a malformed chunked body: libmicrohttpd's refusal, our problem ------
    smug("chunked body with a chunk size that is not hex",
         b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: chunked\r\n\r\n"
         b"zz\r\n{}\r\n0\r\n\r\n", "bad-chunk")

    # ---- sizes and versions: problem bodies too ---------------------------
    if only("long target"):
        # Longer than 8000 bytes but within MAX_HEADER_BYTES: usersvc's 414.
        t.reject("long target (9000 bytes)", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H +
                 b"\r\n" + hidden("long9k"), 414)
        # Beyond MAX_HEADER_BYTES (16 KiB): libmicrohttpd's own 414 on a
        # connection's first request, a problem body on a later one.
        big = b"GET /" + b"a" * 32768 + b" HTTP/1.1\r\n" + H + b"\r\n"
        t.reject("long target (32 KiB, first on its connection)", big, 414, mhd_page=True)
        t.reject("long target (32 KiB, after a kept-alive request)", ok1 + big, 414, after_ok=1)
    if only("oversized head"):
        t.reject("oversized head (40 KiB of fields)", b"GET /healthz HTTP/1.1\r\n" + H +
                 b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 900) for i in range(45)) + b"\r\n" +
                 hidden("big-head"), 431)
    if only("HTTP/1.2"):
        t.reject("version HTTP/1.2", b"GET /healthz HTTP/1.2\r\n" + H + b"\r\n" +
                 hidden("v12"), 505)

    # ---- must be accepted ---------------------------------------------------
    def get_ok(desc, data, statuses=(200,), **kw):
        if only(desc):
            return t.accept(desc, data, statuses, **kw)
        return None

    get_ok("absolute form, authority wins over Host",
           b"GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: other.example\r\nConnection: close"
           b"\r\n\r\n" % (port, user))
    get_ok("absolute form with a query",
           b"GET http://127.0.0.1:%d/users?login=conf-%s HTTP/1.1\r\n" % (port, RUN.encode()) + H +
           b"Connection: close\r\n\r\n",
           check=lambda r: None if len(json.loads(r[0]["body"])["items"]) == 1
           else "login lookup through absolute form found nothing")
    get_ok("absolute form, https scheme, no port",
           b"GET https://api.example/healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    get_ok("Host reg-name with '_'",
           b"GET /healthz HTTP/1.1\r\nHost: my_host.example:8080\r\nConnection: close\r\n\r\n")
    get_ok("bracketed IPv6 Host", b"GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n"
           b"Connection: close\r\n\r\n")
    get_ok("bracketed IPv6 Host, no port", b"GET /healthz HTTP/1.1\r\nHost: [::1]\r\n"
           b"Connection: close\r\n\r\n")
    get_ok("empty Host (RFC 9112 3.2)", b"GET /healthz HTTP/1.1\r\nHost:\r\n"
           b"Connection: close\r\n\r\n")
    get_ok("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n")
    get_ok("empty lines before the request line (RFC 9112 2.2)",
           b"\r\n\r\nGET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    get_ok("empty lines between pipelined requests",
           b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n\r\n\r\n" +
           b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", (200, 200))
    get_ok("bare LF line ends", b"GET /healthz HTTP/1.1\nHost: a\nConnection: close\n\n")
    get_ok("tabs and spaces around a field value",
           b"GET /healthz HTTP/1.1\r\nHost: \t127.0.0.1 \t\r\nX-A:\tb c\t\r\n"
           b"Connection: close\r\n\r\n")
    get_ok("obs-text in a field value", b"GET /healthz HTTP/1.1\r\n" + H +
           b"X-A: caf\xe9\r\nConnection: close\r\n\r\n")
    body = b'{"login":"expect-%s"}' % RUN.encode()
    get_ok("Expect: 100-continue", b"POST /users HTTP/1.1\r\n" + H + J +
           b"Expect: 100-continue\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body),
           (100, 201), send_after_100=body)
    get_ok("three pipelined requests",
           b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n" +
           b"GET " + user + b" HTTP/1.1\r\n" + H + b"\r\n" +
           b"GET /readyz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", (200, 200, 200))
    get_ok("pipelined POST then GET",
           b"POST /users HTTP/1.1\r\n" + H + J + b"Content-Length: %d\r\n\r\n"
           % len(b'{"login":"piped-%s"}' % RUN.encode()) + b'{"login":"piped-%s"}' % RUN.encode() +
           b"GET /users?login=piped-%s HTTP/1.1\r\n" % RUN.encode() + H +
           b"Connection: close\r\n\r\n",
           (201, 200),
           check=lambda r: None if len(json.loads(r[1]["body"])["items"]) == 1
           else "the pipelined GET did not see the POST")
    get_ok("chunked body with extensions and trailers",
           b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n"
           b"8;ext=1\r\n{\"login\"\r\n" +
           b"%x;a=\"q\";b\r\n:\"chx%s\"}\r\n" % (7 + len(RUN), RUN.encode()) +
           b"0\r\nX-Trailer: yes\r\n\r\n", (201,))
    get_ok("chunked body, uppercase hex size",
           b"POST /users HTTP/1.1\r\n" + H + J + b"Transfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n"
           b"%010X\r\n{\"login\":\"chunky%s\"}\r\n0\r\n\r\n" % (18 + len(RUN), RUN.encode()),
           (201,))

    # ---- conditional and HEAD ------------------------------------------------
    def headers_of(r):
        return dict(r["headers"])

    if only("304"):
        rs = t.accept("GET then conditional GET (304)",
                      b"GET " + user + b" HTTP/1.1\r\n" + H + b"\r\n" +
                      b"GET " + user + b" HTTP/1.1\r\n" + H + b"If-None-Match: " +
                      etag.encode() + b"\r\nConnection: close\r\n\r\n", (200, 304))
        if len(rs) == 2:
            cl200 = headers_of(rs[0]).get("content-length")
            cl304 = headers_of(rs[1]).get("content-length")
            t.result(cl304 is None or cl304 == cl200,
                     "304 carries no Content-Length, or the 200's",
                     ["200: %r, 304: %r" % (cl200, cl304)])
    if only("HEAD"):
        for path in (user, b"/users", b"/healthz", b"/users/999999"):
            g = t.accept("GET %s (for HEAD)" % path.decode(),
                         b"GET " + path + b" HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
                         (404,) if path.endswith(b"999999") else (200,))
            h = t.accept("HEAD %s" % path.decode(),
                         b"HEAD " + path + b" HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
                         (404,) if path.endswith(b"999999") else (200,), head_request=True)
            if g and h:
                gh, hh = headers_of(g[0]), headers_of(h[0])
                skip = {"x-request-id", "date"}
                diff = [k for k in set(gh) | set(hh) if k not in skip and gh.get(k) != hh.get(k)]
                t.result(not diff, "HEAD %s has GET's headers" % path.decode(),
                         ["%s: GET %r, HEAD %r" % (k, gh.get(k), hh.get(k)) for k in diff])

    # ---- If-Match on two field lines, ?%ff=1 -----------------------------------
    if only("If-Match"):
        p = b'{"first_name":"Bea"}'
        t.accept("If-Match on two field lines, the second matching",
                 b"PATCH " + user + b" HTTP/1.1\r\n" + H + J + b'If-Match: "nope"\r\n' +
                 b"If-Match: " + etag.encode() + b"\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n" % len(p) + p, (200,))
    if only("%ff"):
        r = t.accept("unknown query parameter that is not UTF-8 (?%ff=1)",
                     b"GET /users?%ff=1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", (400,))
        if r:
            d = json.loads(r[0]["body"]).get("detail")
            t.result(isinstance(d, str) and "query parameter" in d,
                     "?%ff=1 problem has its detail", ["detail: %r" % d])

    # ---- the hidden requests never ran -----------------------------------------
    if only("smuggled"):
        for login in SMUGGLED:
            r = t.accept("smuggled %s was not created" % login,
                         b"GET /users?login=" + login.encode() + b" HTTP/1.1\r\n" + H +
                         b"Connection: close\r\n\r\n", (200,),
                         check=lambda rs: None if json.loads(rs[0]["body"])["items"] == []
                         else "the hidden request ran: the user exists")
    if only("alive"):
        t.accept("server alive after the corpus", b"GET /healthz HTTP/1.1\r\n" + H +
                 b"Connection: close\r\n\r\n", (200,))
    print("# %d passed, %d failed" % (t.n - t.failed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
